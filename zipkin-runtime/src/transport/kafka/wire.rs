//! The few Kafka protocol messages the producer needs, written and read by hand: Metadata v4,
//! Produce v3 with one RecordBatch (magic 2) of one record, and (for reading a topic back in
//! tests and benchmarks) Fetch v4. Only non-flexible versions, which every broker from 0.11 to
//! 4.x accepts (Kafka 4 removed Produce v0-v2, not v3).
//!
//! Requests are written into a caller's buffer (reused between messages); responses are read
//! with [`Reader`], which never panics on a short or malformed response: it returns
//! [`WireError`].

use std::fmt;

// Reading a topic back is for the tests and benchmarks only.
#[cfg(feature = "testing")]
pub(crate) mod fetch;

/// Api keys of the requests used.
pub(crate) const PRODUCE: i16 = 0;
pub(crate) const METADATA: i16 = 3;

/// Versions used (see the module documentation).
pub(crate) const PRODUCE_VERSION: i16 = 3;
pub(crate) const METADATA_VERSION: i16 = 4;

/// A response that does not parse as the protocol says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(pub(crate) String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed Kafka response: {}", self.0)
    }
}

/// The name of a Kafka error code, for messages (the codes a producer meets).
pub(crate) fn error_name(code: i16) -> &'static str {
    match code {
        0 => "NONE",
        1 => "OFFSET_OUT_OF_RANGE",
        2 => "CORRUPT_MESSAGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        10 => "MESSAGE_TOO_LARGE",
        13 => "NETWORK_EXCEPTION",
        18 => "RECORD_LIST_TOO_LARGE",
        19 => "NOT_ENOUGH_REPLICAS",
        20 => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        35 => "UNSUPPORTED_VERSION",
        42 => "INVALID_REQUEST",
        74 => "FENCED_LEADER_EPOCH",
        87 => "INVALID_RECORD",
        _ => "UNKNOWN_ERROR_CODE",
    }
}

/// Whether the broker refused a message for its size (the producer's 413).
pub(crate) fn too_large(code: i16) -> bool {
    code == 10 || code == 18
}

/// Whether a partition error means the producer's view of the cluster is stale.
pub(crate) fn stale_metadata(code: i16) -> bool {
    matches!(code, 3 | 5 | 6 | 74)
}

pub(crate) fn put_i8(b: &mut Vec<u8>, v: i8) {
    b.push(v as u8);
}
pub(crate) fn put_i16(b: &mut Vec<u8>, v: i16) {
    b.extend_from_slice(&v.to_be_bytes());
}
pub(crate) fn put_i32(b: &mut Vec<u8>, v: i32) {
    b.extend_from_slice(&v.to_be_bytes());
}
pub(crate) fn put_i64(b: &mut Vec<u8>, v: i64) {
    b.extend_from_slice(&v.to_be_bytes());
}
/// A STRING: i16 length, then UTF-8 bytes (names are short: checked by the builder).
pub(crate) fn put_str(b: &mut Vec<u8>, s: &str) {
    put_i16(b, s.len().min(i16::MAX as usize) as i16);
    b.extend_from_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}
/// A zig-zag varint (Kafka's record fields).
pub(crate) fn put_varint(b: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        b.push((z as u8) | 0x80);
        z >>= 7;
    }
    b.push(z as u8);
}

fn overwrite_i32(b: &mut [u8], at: usize, v: i32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Starts a request: the size (patched by [`finish`]) and header v1.
pub(crate) fn start_request(
    b: &mut Vec<u8>,
    api_key: i16,
    version: i16,
    correlation: i32,
    client_id: &str,
) {
    b.clear();
    put_i32(b, 0);
    put_i16(b, api_key);
    put_i16(b, version);
    put_i32(b, correlation);
    put_str(b, client_id);
}

/// Writes the request's size in front of it.
pub(crate) fn finish(b: &mut [u8]) {
    let n = (b.len() - 4) as i32;
    overwrite_i32(b, 0, n);
}

/// Metadata v4 for one topic, without creating it.
pub(crate) fn metadata_request(b: &mut Vec<u8>, correlation: i32, client_id: &str, topic: &str) {
    start_request(b, METADATA, METADATA_VERSION, correlation, client_id);
    put_i32(b, 1);
    put_str(b, topic);
    b.push(0); // allow_auto_topic_creation: false
    finish(b);
}

/// How a record batch's records are compressed (attributes bits 0-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    None,
    Gzip,
}

/// Produce v3 of one record (null key, `value`, no headers) to one partition. The batch is
/// written in place; its CRC-32C covers everything from its attributes on.
#[allow(clippy::too_many_arguments)]
pub(crate) fn produce_request(
    b: &mut Vec<u8>,
    correlation: i32,
    client_id: &str,
    acks: i16,
    timeout_ms: i32,
    topic: &str,
    partition: i32,
    value: &[u8],
    timestamp_ms: i64,
    codec: Codec,
    scratch: &mut Vec<u8>,
) {
    start_request(b, PRODUCE, PRODUCE_VERSION, correlation, client_id);
    put_i16(b, -1); // transactional_id: null
    put_i16(b, acks);
    put_i32(b, timeout_ms);
    put_i32(b, 1);
    put_str(b, topic);
    put_i32(b, 1);
    put_i32(b, partition);
    let records_size_at = b.len();
    put_i32(b, 0);
    let batch_at = b.len();
    put_i64(b, 0); // base offset
    let batch_len_at = b.len();
    put_i32(b, 0); // batch length, patched below
    put_i32(b, -1); // partition leader epoch
    put_i8(b, 2); // magic
    let crc_at = b.len();
    put_i32(b, 0); // CRC-32C, patched below
    let attributes: i16 = match codec {
        Codec::None => 0,
        Codec::Gzip => 1,
    };
    put_i16(b, attributes);
    put_i32(b, 0); // last offset delta
    put_i64(b, timestamp_ms); // base timestamp
    put_i64(b, timestamp_ms); // max timestamp
    put_i64(b, -1); // producer id
    put_i16(b, -1); // producer epoch
    put_i32(b, -1); // base sequence
    put_i32(b, 1); // records
    match codec {
        Codec::None => put_record(b, value),
        Codec::Gzip => {
            scratch.clear();
            put_record(scratch, value);
            let mut gz =
                flate2::write::GzEncoder::new(std::mem::take(b), flate2::Compression::fast());
            // Writing into a Vec cannot fail.
            let _ = std::io::Write::write_all(&mut gz, scratch);
            *b = gz.finish().unwrap_or_default();
        }
    }
    let end = b.len();
    overwrite_i32(b, records_size_at, (end - batch_at) as i32);
    overwrite_i32(b, batch_len_at, (end - batch_len_at - 4) as i32);
    let crc = crc32c(&b[crc_at + 4..]);
    b[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
    finish(b);
}

/// One record: null key, `value`, no headers, deltas 0.
fn put_record(b: &mut Vec<u8>, value: &[u8]) {
    let mut head = Vec::with_capacity(16);
    head.push(0); // attributes
    put_varint(&mut head, 0); // timestamp delta
    put_varint(&mut head, 0); // offset delta
    put_varint(&mut head, -1); // key: null
    put_varint(&mut head, value.len() as i64);
    put_varint(b, (head.len() + value.len() + 1) as i64); // + the headers count
    b.extend_from_slice(&head);
    b.extend_from_slice(value);
    put_varint(b, 0); // headers
}

/// A Produce v3 response's outcome for the one partition asked: (error code, base offset).
pub(crate) fn produce_response(body: &[u8]) -> Result<(i16, i64), WireError> {
    let mut r = Reader::new(body);
    let topics = r.array_len()?;
    let mut outcome = None;
    for _ in 0..topics {
        r.string()?;
        for _ in 0..r.array_len()? {
            let _partition = r.i32()?;
            let error = r.i16()?;
            let offset = r.i64()?;
            let _append_time = r.i64()?;
            outcome.get_or_insert((error, offset));
        }
    }
    outcome.ok_or_else(|| WireError("Produce response without a partition".into()))
}

/// What Metadata says about the cluster and one topic.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// Brokers: node id, host, port.
    pub(crate) brokers: Vec<(i32, String, i32)>,
    /// The topic's error code (0: it exists).
    pub(crate) topic_error: i16,
    /// The topic's partitions: index, error code, leader node id (-1: none).
    pub(crate) partitions: Vec<(i32, i16, i32)>,
}

impl Metadata {
    /// Where a node listens, as `host:port`.
    pub(crate) fn address(&self, node: i32) -> Option<String> {
        self.brokers
            .iter()
            .find(|(id, _, _)| *id == node)
            .map(|(_, host, port)| format!("{host}:{port}"))
    }
}

/// Reads a Metadata v4 response (after its correlation id).
pub(crate) fn metadata_response(body: &[u8], topic: &str) -> Result<Metadata, WireError> {
    let mut r = Reader::new(body);
    let mut m = Metadata {
        topic_error: 3,
        ..Metadata::default()
    };
    r.i32()?; // throttle
    for _ in 0..r.array_len()? {
        let id = r.i32()?;
        let host = r.string()?.to_owned();
        let port = r.i32()?;
        r.nullable_string()?; // rack
        m.brokers.push((id, host, port));
    }
    r.nullable_string()?; // cluster id
    r.i32()?; // controller
    for _ in 0..r.array_len()? {
        let error = r.i16()?;
        let name = r.string()?.to_owned();
        r.i8()?; // internal
        let mut partitions = Vec::new();
        for _ in 0..r.array_len()? {
            let perr = r.i16()?;
            let index = r.i32()?;
            let leader = r.i32()?;
            for _ in 0..r.array_len()? {
                r.i32()?; // replicas
            }
            for _ in 0..r.array_len()? {
                r.i32()?; // isr
            }
            partitions.push((index, perr, leader));
        }
        if name == topic {
            m.topic_error = error;
            partitions.sort_unstable();
            m.partitions = partitions;
        }
    }
    Ok(m)
}

/// Reads big-endian fields; every read checks the length first.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError(format!(
                "{n} bytes expected at offset {}, {} left",
                self.pos,
                self.remaining()
            )));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    pub(crate) fn i8(&mut self) -> Result<i8, WireError> {
        Ok(i8::from_be_bytes(self.array()?))
    }
    pub(crate) fn i16(&mut self) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub(crate) fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub(crate) fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// An array's length; a negative one (null) reads as 0. A length larger than the bytes left
    /// could hold is an error, so that a corrupt length never makes a caller loop for long.
    pub(crate) fn array_len(&mut self) -> Result<usize, WireError> {
        let n = self.i32()?;
        if n > 0 && n as usize > self.remaining() {
            return Err(WireError(format!(
                "array of {n} elements with {} bytes left",
                self.remaining()
            )));
        }
        Ok(n.max(0) as usize)
    }

    pub(crate) fn string(&mut self) -> Result<&'a str, WireError> {
        self.nullable_string().map(|s| s.unwrap_or(""))
    }

    pub(crate) fn nullable_string(&mut self) -> Result<Option<&'a str>, WireError> {
        let n = self.i16()?;
        if n < 0 {
            return Ok(None);
        }
        let b = self.bytes(n as usize)?;
        std::str::from_utf8(b)
            .map(Some)
            .map_err(|_| WireError("a string that is not UTF-8".into()))
    }

    /// Records inside a batch use them; only reading a batch back does (feature `testing`).
    #[cfg(feature = "testing")]
    pub(crate) fn varint(&mut self) -> Result<i64, WireError> {
        let mut z: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = self.i8()? as u8;
            z |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
        }
        Err(WireError("a varint longer than 10 bytes".into()))
    }
}

/// CRC-32C (Castagnoli), as record batches carry, eight bytes at a time.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
        crc = CRC_TABLES[7][(lo & 0xff) as usize]
            ^ CRC_TABLES[6][((lo >> 8) & 0xff) as usize]
            ^ CRC_TABLES[5][((lo >> 16) & 0xff) as usize]
            ^ CRC_TABLES[4][(lo >> 24) as usize]
            ^ CRC_TABLES[3][c[4] as usize]
            ^ CRC_TABLES[2][c[5] as usize]
            ^ CRC_TABLES[1][c[6] as usize]
            ^ CRC_TABLES[0][c[7] as usize];
    }
    for &byte in chunks.remainder() {
        crc = CRC_TABLES[0][((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

static CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut j = 1;
    while j < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        j += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::fetch::read_batches;
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // 32 zero bytes (RFC 3720, B.4).
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        // Every length through the 8-byte loop and its remainder agrees with the bytewise form.
        let data: Vec<u8> = (0..100u32).map(|i| (i * 31 + 7) as u8).collect();
        for n in 0..data.len() {
            let mut crc = !0u32;
            for &b in &data[..n] {
                crc = CRC_TABLES[0][((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
            }
            assert_eq!(crc32c(&data[..n]), !crc, "length {n}");
        }
    }

    #[test]
    fn varints_round_trip_with_zigzag() {
        for v in [
            0i64,
            -1,
            1,
            63,
            -64,
            64,
            300,
            -300,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(Reader::new(&b).varint(), Ok(v), "{v}");
        }
        let mut b = Vec::new();
        put_varint(&mut b, -1);
        assert_eq!(b, [1]);
        put_varint(&mut b, 1);
        assert_eq!(b, [1, 2]);
    }

    /// The record batch inside a Produce request written by `produce_request`.
    fn batch_of(request: &[u8]) -> &[u8] {
        let mut r = Reader::new(request);
        r.bytes(4 + 2 + 2 + 4).unwrap();
        r.string().unwrap();
        r.nullable_string().unwrap();
        r.bytes(2 + 4 + 4).unwrap();
        r.string().unwrap();
        r.bytes(4 + 4).unwrap();
        let size = r.i32().unwrap() as usize;
        r.bytes(size).unwrap()
    }

    #[test]
    fn a_produce_request_carries_one_batch_that_reads_back() {
        let mut b = Vec::new();
        let mut scratch = Vec::new();
        produce_request(
            &mut b,
            7,
            "zipkin-rs",
            1,
            5000,
            "zipkin",
            4,
            b"[{}]",
            1_700_000_000_000,
            Codec::None,
            &mut scratch,
        );
        let mut r = Reader::new(&b);
        assert_eq!(r.i32().unwrap() as usize, b.len() - 4);
        assert_eq!(
            (r.i16().unwrap(), r.i16().unwrap(), r.i32().unwrap()),
            (0, 3, 7)
        );
        assert_eq!(r.string().unwrap(), "zipkin-rs");
        assert_eq!(r.nullable_string().unwrap(), None);
        assert_eq!((r.i16().unwrap(), r.i32().unwrap()), (1, 5000));
        assert_eq!(r.array_len().unwrap(), 1);
        assert_eq!(r.string().unwrap(), "zipkin");
        assert_eq!((r.array_len().unwrap(), r.i32().unwrap()), (1, 4));
        let size = r.i32().unwrap() as usize;
        let batch = r.bytes(size).unwrap();
        assert_eq!(r.remaining(), 0);
        let mut out = Vec::new();
        read_batches(batch, &mut out).unwrap();
        assert_eq!(out, vec![(0, Some(b"[{}]".to_vec()))]);
    }

    #[test]
    fn a_gzip_batch_reads_back() {
        let mut b = Vec::new();
        let mut scratch = Vec::new();
        let value = vec![b'x'; 10_000];
        produce_request(
            &mut b,
            1,
            "c",
            -1,
            100,
            "t",
            0,
            &value,
            0,
            Codec::Gzip,
            &mut scratch,
        );
        assert!(b.len() < 1000, "{}", b.len());
        let mut out = Vec::new();
        read_batches(batch_of(&b), &mut out).unwrap();
        assert_eq!(out, vec![(0, Some(value))]);
    }

    #[test]
    fn metadata_and_produce_responses_parse_and_truncations_are_errors() {
        let mut m = Vec::new();
        put_i32(&mut m, 0);
        put_i32(&mut m, 1);
        put_i32(&mut m, 1);
        put_str(&mut m, "127.0.0.1");
        put_i32(&mut m, 9092);
        put_i16(&mut m, -1);
        put_i16(&mut m, -1);
        put_i32(&mut m, 1);
        put_i32(&mut m, 1);
        put_i16(&mut m, 0);
        put_str(&mut m, "zipkin");
        put_i8(&mut m, 0);
        put_i32(&mut m, 2);
        for p in [1, 0] {
            put_i16(&mut m, 0);
            put_i32(&mut m, p);
            put_i32(&mut m, 1);
            put_i32(&mut m, 1);
            put_i32(&mut m, 1);
            put_i32(&mut m, 0);
        }
        let md = metadata_response(&m, "zipkin").unwrap();
        assert_eq!(md.partitions, vec![(0, 0, 1), (1, 0, 1)]);
        assert_eq!(md.address(1).as_deref(), Some("127.0.0.1:9092"));
        assert_eq!(metadata_response(&m, "other").unwrap().topic_error, 3);
        for n in 0..m.len() {
            assert!(metadata_response(&m[..n], "zipkin").is_err(), "cut at {n}");
        }

        let mut p = Vec::new();
        put_i32(&mut p, 1);
        put_str(&mut p, "zipkin");
        put_i32(&mut p, 1);
        put_i32(&mut p, 3);
        put_i16(&mut p, 10);
        put_i64(&mut p, -1);
        put_i64(&mut p, -1);
        put_i32(&mut p, 0);
        assert_eq!(produce_response(&p), Ok((10, -1)));
        assert!(too_large(10));
        for n in 0..p.len() - 4 {
            assert!(produce_response(&p[..n]).is_err(), "cut at {n}");
        }
        // A huge array length in a short response is an error, not a long loop.
        let mut huge = Vec::new();
        put_i32(&mut huge, i32::MAX);
        assert!(produce_response(&huge).is_err());
    }
}
