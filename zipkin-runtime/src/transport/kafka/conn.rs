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
        self.stream.write_all(request)
    }

    /// Reads the next response into `resp`, checks that it answers `correlation` (a broker
    /// answers the requests of one connection in the order they came) and returns what
    /// follows the correlation id.
    pub(crate) fn read_response<'a>(
        &mut self,
        correlation: i32,
        resp: &'a mut Vec<u8>,
    ) -> std::io::Result<&'a [u8]> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size)?;
        let size = i32::from_be_bytes(size);
        if size < 4 || size as usize > MAX_RESPONSE_BYTES {
            return Err(invalid(format!(
                "the broker sent a response of {size} bytes (expected 4 to {MAX_RESPONSE_BYTES})"
            )));
        }
        resp.clear();
        resp.resize(size as usize, 0);
        self.stream.read_exact(resp)?;
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
