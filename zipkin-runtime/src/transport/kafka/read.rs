//! Reads a whole topic back (test support): what tests and benchmarks use to count what the
//! producer put there, without a Kafka tool or a second client library.

use std::time::Duration;

use super::conn::Conn;
use super::wire;

/// Every record value of every partition of `topic`, from offset 0 to each partition's high
/// watermark at the time of reading, asked of the bootstrap broker `bootstrap` (`host:port`)
/// and each partition's leader. Null values are skipped. Errors say which step failed.
///
/// ```no_run
/// # extern crate zipkin_runtime as zipkin_rs;
/// # fn main() -> Result<(), String> {
/// let values = zipkin_rs::transport::kafka::read_topic("127.0.0.1:9092", "zipkin")?;
/// println!("{} messages", values.len());
/// # Ok(()) }
/// ```
pub fn read_topic(bootstrap: &str, topic: &str) -> Result<Vec<Vec<u8>>, String> {
    let timeout = Duration::from_secs(10);
    let mut req = Vec::new();
    let mut resp = Vec::new();
    let mut meta =
        Conn::open(bootstrap, timeout, timeout).map_err(|e| format!("{bootstrap}: {e}"))?;
    wire::metadata_request(&mut req, 1, "zipkin-rs-reader", topic);
    let body = meta
        .round_trip(&req, 1, true, &mut resp)
        .map_err(|e| format!("metadata from {bootstrap}: {e}"))?;
    let md = wire::metadata_response(body, topic).map_err(|e| e.to_string())?;
    if md.topic_error != 0 {
        return Err(format!(
            "topic {topic}: {}",
            wire::error_name(md.topic_error)
        ));
    }
    let mut out = Vec::new();
    let mut corr = 1;
    for &(partition, _, leader) in &md.partitions {
        let addr = md
            .address(leader)
            .ok_or_else(|| format!("partition {partition} has no known leader ({leader})"))?;
        let mut conn = Conn::open(&addr, timeout, timeout).map_err(|e| format!("{addr}: {e}"))?;
        let mut offset = 0i64;
        loop {
            corr += 1;
            wire::fetch::fetch_request(
                &mut req,
                corr,
                "zipkin-rs-reader",
                topic,
                partition,
                offset,
                16 << 20,
                100,
            );
            let body = conn
                .round_trip(&req, corr, true, &mut resp)
                .map_err(|e| format!("fetch from {addr}: {e}"))?;
            let (code, high, records) =
                wire::fetch::fetch_response(body).map_err(|e| e.to_string())?;
            if code != 0 {
                return Err(format!(
                    "fetch of partition {partition} at offset {offset}: {}",
                    wire::error_name(code)
                ));
            }
            for (off, value) in records {
                if off >= offset {
                    offset = off + 1;
                    out.extend(value);
                }
            }
            if offset >= high {
                break;
            }
        }
    }
    Ok(out)
}
