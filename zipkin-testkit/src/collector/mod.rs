//! A fault-injecting Zipkin collector on loopback, for tests only.
//!
//! Plain std TCP (one thread per connection, HTTP/1.1 with keep-alive, optionally TLS through
//! rustls), scriptable while it runs with [`Collector::set_mode`]. Every POST body is decoded by
//! Zipkin's rules ([`crate::validate`]); a body Zipkin would refuse is recorded as a violation
//! (and answered 400 in the modes that answer normally), so a test that checks
//! [`Collector::violations`] fails on invalid output. Spans are counted as accepted when a 2xx
//! answer is about to be written for them (so a client that has read the answer always finds
//! them counted); duplicates (same trace id, span id and `shared`) are counted separately.

use std::collections::{HashMap, HashSet};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::validate::SpanSummary;

use connection::accept_loop;

mod connection;

/// How the collector answers from now on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 202, as Zipkin does.
    Accept,
    /// 202 after a delay (not answered at all if the client gives up first).
    Slow(Duration),
    /// Reads the request and never answers.
    Hang,
    /// Answers this status with a short text body.
    Status(u16),
    /// Reads the headers and half the body, then resets the connection (RST).
    ResetMidBody,
    /// The port is closed: connections are refused; open ones are shut down.
    Down,
    /// Answers this status with a body of this many bytes, streamed until the client leaves.
    HugeResponse {
        /// Status code.
        status: u16,
        /// Announced and streamed body length.
        bytes: u64,
    },
    /// 307 to this URL.
    Redirect(String),
    /// Answers `status` with `Retry-After: retry_after` (sent as given, valid or not) to the
    /// first `times` requests after the mode was set, then accepts as [`Mode::Accept`] does.
    Throttle {
        /// Status code (429 or 503).
        status: u16,
        /// The header's value.
        retry_after: String,
        /// Requests answered so (`u64::MAX`: all of them).
        times: u64,
    },
    /// Accepts as [`Mode::Accept`] does bodies of at most this many bytes on the wire, and
    /// answers 413 to larger ones (as a collector or proxy with a request size limit does).
    MaxBody(usize),
}

/// What the collector keeps of each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Headers, decoded spans and the plain (decompressed) body.
    Everything,
    /// Headers and decoded spans.
    Spans,
    /// Only counts (for load tests: millions of spans).
    Counts,
}

/// One request as the collector saw it.
#[derive(Clone, Debug)]
pub struct Request {
    /// When its head was read.
    pub at: Instant,
    /// Connection number (in accept order).
    pub conn: u64,
    /// `POST`, ...
    pub method: String,
    /// Request target.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body length on the wire.
    pub body_len: usize,
    /// The decompressed body, with [`Keep::Everything`].
    pub body: Option<Vec<u8>>,
    /// Spans decoded from the body.
    pub span_count: usize,
    /// The status the collector answered (counted just before it is written, as a real
    /// collector stores before the client reads the answer).
    pub answered: Option<u16>,
    /// Why Zipkin would refuse this body.
    pub violation: Option<String>,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub(super) struct Log {
    pub(super) requests: Vec<Request>,
    pub(super) spans: Vec<SpanSummary>,
    pub(super) keys: HashSet<(String, String, bool)>,
    pub(super) accepted_spans: u64,
    pub(super) duplicate_spans: u64,
    pub(super) received_spans: u64,
    pub(super) violations: Vec<String>,
}

pub(super) struct State {
    pub(super) mode: Mode,
    pub(super) listener: Option<TcpListener>,
    /// While down: the port, bound but not listening.
    pub(super) reserved: Option<socket2::Socket>,
}

pub(super) struct Inner {
    pub(super) addr: SocketAddr,
    pub(super) tls: Option<Arc<rustls::ServerConfig>>,
    pub(super) keep: Keep,
    pub(super) state: Mutex<State>,
    pub(super) log: Mutex<Log>,
    pub(super) conns: Mutex<HashMap<u64, TcpStream>>,
    pub(super) next_conn: AtomicU64,
    pub(super) stopped: AtomicBool,
    pub(super) flapping: AtomicBool,
    pub(super) response_bytes_written: AtomicU64,
    pub(super) tls_failures: AtomicU64,
    pub(super) requests: AtomicU64,
    /// Requests since the mode was last set (for [`Mode::Throttle`]).
    pub(super) mode_requests: AtomicU64,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds a [`Collector`].
pub struct CollectorBuilder {
    mode: Mode,
    tls: Option<Arc<rustls::ServerConfig>>,
    keep: Keep,
}

impl CollectorBuilder {
    /// Serve HTTPS with this configuration.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// What to keep of each request (default [`Keep::Spans`]).
    pub fn keep(mut self, keep: Keep) -> Self {
        self.keep = keep;
        self
    }

    /// Binds 127.0.0.1 on a free port and starts accepting (unless the mode is `Down`, which
    /// binds only to reserve the port number and closes it again).
    pub fn start(self) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let down = self.mode == Mode::Down;
        let inner = Arc::new(Inner {
            addr,
            tls: self.tls,
            keep: self.keep,
            state: Mutex::new(State {
                mode: self.mode,
                listener: (!down).then_some(listener),
                reserved: None,
            }),
            log: Mutex::new(Log::default()),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            flapping: AtomicBool::new(false),
            response_bytes_written: AtomicU64::new(0),
            tls_failures: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            mode_requests: AtomicU64::new(0),
        });
        if down {
            lock(&inner.state).reserved = reserve(addr);
        }
        let i = inner.clone();
        std::thread::Builder::new()
            .name("fault-collector".into())
            .spawn(move || accept_loop(i))
            .expect("spawn acceptor");
        Collector { inner }
    }
}

/// The collector. Stops (closes the port and every connection) when dropped.
pub struct Collector {
    inner: Arc<Inner>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.flapping.store(false, Ordering::SeqCst);
        {
            let mut st = lock(&self.inner.state);
            st.listener = None;
            st.reserved = None;
        }
        for (_, c) in lock(&self.inner.conns).drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Collector {
    /// A builder starting in `mode`.
    pub fn builder(mode: Mode) -> CollectorBuilder {
        CollectorBuilder {
            mode,
            tls: None,
            keep: Keep::Spans,
        }
    }

    /// Starts a plain-HTTP collector in `mode`.
    pub fn start(mode: Mode) -> Collector {
        Collector::builder(mode).start()
    }

    /// `http(s)://127.0.0.1:port/api/v2/spans`.
    pub fn url(&self) -> String {
        let scheme = if self.inner.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/api/v2/spans", self.inner.addr)
    }

    /// The URL with `localhost` as host (for certificates issued to a name).
    pub fn url_localhost(&self) -> String {
        self.url()
            .replace(&self.inner.addr.ip().to_string(), "localhost")
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        lock(&self.inner.state).mode.clone()
    }

    /// Changes how the collector answers. Going `Down` closes the port and shuts down every
    /// open connection before it returns; leaving `Down` binds the same port again.
    pub fn set_mode(&self, mode: Mode) {
        set_mode(&self.inner, mode);
    }

    /// Alternates `Down` for `down` and `Accept` for `up` until [`Collector::stop_flapping`].
    pub fn start_flapping(&self, up: Duration, down: Duration) {
        self.inner.flapping.store(true, Ordering::SeqCst);
        let weak = Arc::downgrade(&self.inner);
        std::thread::spawn(move || loop {
            for (mode, d) in [(Mode::Down, down), (Mode::Accept, up)] {
                let Some(inner) = weak.upgrade() else { return };
                if !inner.flapping.load(Ordering::SeqCst) {
                    return;
                }
                set_mode(&inner, mode);
                drop(inner);
                std::thread::sleep(d);
            }
        });
    }

    /// Stops flapping and stays up (`Accept`).
    pub fn stop_flapping(&self) {
        self.inner.flapping.store(false, Ordering::SeqCst);
        // The flapping thread may be about to apply one more change; let it, then settle.
        std::thread::sleep(Duration::from_millis(20));
        self.set_mode(Mode::Accept);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.inner.log).requests.clone()
    }

    /// Number of requests whose head was read.
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Spans of the requests answered 2xx (with [`Keep::Everything`] or [`Keep::Spans`]).
    pub fn spans(&self) -> Vec<SpanSummary> {
        lock(&self.inner.log).spans.clone()
    }

    /// Spans in requests answered 2xx, duplicates included.
    pub fn accepted_spans(&self) -> u64 {
        lock(&self.inner.log).accepted_spans
    }

    /// Of [`Collector::accepted_spans`], those seen before (not counted with [`Keep::Counts`]).
    pub fn duplicate_spans(&self) -> u64 {
        lock(&self.inner.log).duplicate_spans
    }

    /// Spans decoded from every request, answered or not.
    pub fn received_spans(&self) -> u64 {
        lock(&self.inner.log).received_spans
    }

    /// Bodies Zipkin would refuse, with the reason.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.inner.log).violations.clone()
    }

    /// Bytes of response bodies written by [`Mode::HugeResponse`].
    pub fn response_bytes_written(&self) -> u64 {
        self.inner.response_bytes_written.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed.
    pub fn tls_failures(&self) -> u64 {
        self.inner.tls_failures.load(Ordering::SeqCst)
    }

    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        lock(&self.inner.conns).len()
    }

    /// Polls `f` every few milliseconds until it holds or `timeout` passes; says which.
    pub fn wait_until(&self, timeout: Duration, mut f: impl FnMut(&Collector) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if f(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A socket bound to `addr` that does not listen: connections to it are refused (the kernel
/// answers a SYN to a non-listening socket with RST), while the port stays bound, so that
/// neither another test's `bind(0)` nor an outgoing connection's ephemeral port picks it
/// while we are down.
fn reserve(addr: SocketAddr) -> Option<socket2::Socket> {
    for _ in 0..200 {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
        let _ = s.set_reuse_address(true);
        if s.bind(&addr.into()).is_ok() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

fn set_mode(inner: &Arc<Inner>, mode: Mode) {
    let mut st = lock(&inner.state);
    if mode == Mode::Down {
        if st.listener.take().is_some() {
            st.reserved = reserve(inner.addr);
        }
        for (_, c) in lock(&inner.conns).drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    } else if st.listener.is_none() && !inner.stopped.load(Ordering::SeqCst) {
        let listener = match st.reserved.take() {
            Some(s) => s.listen(128).map(|_| TcpListener::from(s)),
            None => TcpListener::bind(inner.addr),
        }
        .unwrap_or_else(|e| panic!("cannot listen on {} again: {e}", inner.addr));
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        st.listener = Some(listener);
    }
    st.mode = mode;
    inner.mode_requests.store(0, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read};

    use super::*;

    fn refused(addr: SocketAddr) -> bool {
        matches!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused
        )
    }

    #[test]
    fn down_refuses_connections_and_keeps_the_port() {
        let c = Collector::start(Mode::Down);
        assert!(refused(c.addr()));
        c.set_mode(Mode::Accept);
        let s = TcpStream::connect(c.addr()).unwrap();
        c.set_mode(Mode::Down);
        assert!(refused(c.addr()));
        // The open connection was shut down.
        let mut buf = [0u8; 1];
        let mut s = s;
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
        c.set_mode(Mode::Accept);
        assert!(TcpStream::connect(c.addr()).is_ok());
    }
}
