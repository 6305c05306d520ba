//! Fetch v4 of one partition, to read a topic back (tests and benchmarks; feature `testing`).

use super::{crc32c, finish, put_i32, put_i64, put_i8, put_str, start_request, Reader, WireError};

/// The Fetch request's api key, and the version used (non-flexible, as the others).
const FETCH: i16 = 1;
const FETCH_VERSION: i16 = 4;

/// Fetch v4 of one partition from `offset`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fetch_request(
    b: &mut Vec<u8>,
    correlation: i32,
    client_id: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    max_bytes: i32,
    max_wait_ms: i32,
) {
    start_request(b, FETCH, FETCH_VERSION, correlation, client_id);
    put_i32(b, -1); // replica id
    put_i32(b, max_wait_ms);
    put_i32(b, 1); // min bytes
    put_i32(b, max_bytes);
    put_i8(b, 0); // read uncommitted
    put_i32(b, 1);
    put_str(b, topic);
    put_i32(b, 1);
    put_i32(b, partition);
    put_i64(b, offset);
    put_i32(b, max_bytes);
    finish(b);
}

/// A record read back: its offset and value (`None`: a null value).
pub(crate) type FetchedRecord = (i64, Option<Vec<u8>>);

/// Reads a Fetch v4 response for one partition: (error code, high watermark, records). Gzip
/// batches are decompressed; other codecs are an error. A batch cut short at the end of the
/// response (the broker sends whole batches only up to `max_bytes`) is ignored.
pub(crate) fn fetch_response(body: &[u8]) -> Result<(i16, i64, Vec<FetchedRecord>), WireError> {
    let mut r = Reader::new(body);
    r.i32()?; // throttle
    let mut out = (0, 0, Vec::new());
    for _ in 0..r.array_len()? {
        r.string()?;
        for _ in 0..r.array_len()? {
            r.i32()?;
            out.0 = r.i16()?;
            out.1 = r.i64()?;
            r.i64()?; // last stable offset
            let aborted = r.i32()?;
            for _ in 0..aborted.max(0) {
                r.i64()?;
                r.i64()?;
            }
            let size = r.i32()?;
            if size > 0 {
                let records = r.bytes(size as usize)?;
                read_batches(records, &mut out.2)?;
            }
        }
    }
    Ok(out)
}

pub(super) fn read_batches(mut data: &[u8], out: &mut Vec<FetchedRecord>) -> Result<(), WireError> {
    while data.len() >= 12 {
        let mut r = Reader::new(data);
        let base = r.i64()?;
        let len = r.i32()?;
        if len < 0 || data.len() < 12 + len as usize {
            break; // a partial batch at the end
        }
        let batch = &data[12..12 + len as usize];
        data = &data[12 + len as usize..];
        let mut r = Reader::new(batch);
        r.i32()?; // leader epoch
        if r.i8()? != 2 {
            return Err(WireError("a record batch with magic other than 2".into()));
        }
        let crc = r.i32()? as u32;
        if crc32c(&batch[9..]) != crc {
            return Err(WireError(
                "a record batch whose CRC-32C does not match".into(),
            ));
        }
        let attributes = r.i16()?;
        r.bytes(4 + 8 + 8 + 8 + 2 + 4)?;
        let count = r.i32()?;
        let rest = &batch[batch.len() - r.remaining()..];
        let plain;
        let records: &[u8] = match attributes & 7 {
            0 => rest,
            1 => {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(rest), &mut v)
                    .map_err(|e| WireError(format!("gzip batch: {e}")))?;
                plain = v;
                &plain
            }
            c => return Err(WireError(format!("record batch codec {c} not supported"))),
        };
        let mut r = Reader::new(records);
        for _ in 0..count {
            let len = r.varint()?;
            let rec = r.bytes(len.max(0) as usize)?;
            let mut rr = Reader::new(rec);
            rr.i8()?;
            rr.varint()?;
            let delta = rr.varint()?;
            let klen = rr.varint()?;
            if klen > 0 {
                rr.bytes(klen as usize)?;
            }
            let vlen = rr.varint()?;
            let value = if vlen >= 0 {
                Some(rr.bytes(vlen as usize)?.to_vec())
            } else {
                None
            };
            out.push((base + delta, value));
        }
    }
    Ok(())
}
