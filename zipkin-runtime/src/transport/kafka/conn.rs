//! One TCP connection to a broker: requests written whole, responses read by their size, every
//! step bounded by the transport's timeouts.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The largest response read (a Metadata or Produce response is a few hundred bytes; a Fetch
/// for the test reader at most its `max_bytes` and some framing).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// A connection to one broker.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    /// `host:port`, for messages.
    pub(crate) addr: String,
    /// Set by the producer: which connection a request in flight was written on.
    pub(crate) id: u64,
    /// The bound on each read and write, for messages.
    io_timeout: Duration,
}

impl Conn {
    /// Connects to `addr` (`host:port`), trying each address it resolves to within
    /// `connect_timeout`. `TCP_NODELAY` is set: a request is written in one go and waits for
    /// its answer, which Nagle's algorithm with the broker's delayed ACK would hold back by
    /// tens of milliseconds. Reads and writes time out after `io_timeout`.
    pub(crate) fn open(
        addr: &str,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> std::io::Result<Conn> {
        let mut last = None;
        for sa in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&sa, connect_timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(io_timeout))?;
                    stream.set_write_timeout(Some(io_timeout))?;
                    return Ok(Conn {
                        stream,
                        addr: addr.to_owned(),
                        id: 0,
                        io_timeout,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the name resolved to no address",
            )
        }))
    }

    /// Writes a request (already framed with its size) and, when `answer` is true, reads the
    /// response into `resp`, checks its correlation id and returns what follows it.
    pub(crate) fn round_trip<'a>(
        &mut self,
        request: &[u8],
        correlation: i32,
        answer: bool,
        resp: &'a mut Vec<u8>,
    ) -> std::io::Result<&'a [u8]> {
        self.write(request)?;
        if !answer {
            return Ok(&[]);
        }
        self.read_response(correlation, resp)
    }

    /// Writes a request (already framed with its size), without waiting for its answer.
    pub(crate) fn write(&mut self, request: &[u8]) -> std::io::Result<()> {
        let t = self.io_timeout;
        self.stream
            .write_all(request)
            .map_err(|e| timed_out(e, t, "the broker took no request"))
    }

    /// Reads the next response into `resp`, checks that it answers `correlation` (a broker
    /// answers the requests of one connection in the order they came) and returns what
    /// follows the correlation id.
    pub(crate) fn read_response<'a>(
        &mut self,
        correlation: i32,
        resp: &'a mut Vec<u8>,
    ) -> std::io::Result<&'a [u8]> {
        let t = self.io_timeout;
        let mut head = [0u8; 4];
        self.stream
            .read_exact(&mut head)
            .map_err(|e| timed_out(e, t, "the broker sent no answer"))?;
        let size = i32::from_be_bytes(head);
        if size < 4 || size as usize > MAX_RESPONSE_BYTES {
            return Err(invalid(not_a_response(head, size)));
        }
        resp.clear();
        resp.resize(size as usize, 0);
        self.stream
            .read_exact(resp)
            .map_err(|e| timed_out(e, t, "the broker's answer stopped"))?;
        let got = i32::from_be_bytes([resp[0], resp[1], resp[2], resp[3]]);
        if got != correlation {
            return Err(invalid(format!(
                "the broker answered request {got}, expected {correlation}"
            )));
        }
        Ok(&resp[4..])
    }
}

fn invalid(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

/// A socket timeout says so, with the bound, instead of the OS's "Resource temporarily
/// unavailable": a broker that takes the connection and never answers shows only this.
fn timed_out(e: std::io::Error, bound: Duration, what: &str) -> std::io::Error {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{what} within {bound:?} (the request timeout)"),
        ),
        _ => e,
    }
}

/// Why a response's size is impossible, naming the protocol when the peer is not a broker: a
/// Kafka endpoint pointed at Zipkin's HTTP port reads `HTTP` as a size of 1.2 GB.
fn not_a_response(head: [u8; 4], size: i32) -> String {
    if head.iter().all(|b| b.is_ascii_graphic()) {
        let text = String::from_utf8_lossy(&head);
        let hint = if &head == b"HTTP" {
            "an HTTP server, not a Kafka broker (Zipkin's HTTP port?)"
        } else {
            "not a Kafka broker"
        };
        return format!("the peer answered with text ({text:?}…): {hint}");
    }
    format!("the broker sent a response of {size} bytes (expected 4 to {MAX_RESPONSE_BYTES})")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn an_http_server_is_named_as_one() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 8];
            let _ = std::io::Read::read(&mut s, &mut req);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        });
        let t = Duration::from_secs(5);
        let mut c = Conn::open(&addr, t, t).unwrap();
        let e = c
            .round_trip(&[0, 0, 0, 0], 1, true, &mut Vec::new())
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(
            e.to_string().contains("an HTTP server, not a Kafka broker"),
            "{e}"
        );
        server.join().unwrap();
    }

    #[test]
    fn a_broker_that_never_answers_is_a_timeout_with_its_bound() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let t = Duration::from_millis(100);
        let mut c = Conn::open(&addr, t, t).unwrap();
        let e = c
            .round_trip(&[0, 0, 0, 0], 1, true, &mut Vec::new())
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(
            e.to_string(),
            "the broker sent no answer within 100ms (the request timeout)"
        );
        drop(l);
    }
}
