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
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::validate::{self, SpanSummary};

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
struct Log {
    requests: Vec<Request>,
    spans: Vec<SpanSummary>,
    keys: HashSet<(String, String, bool)>,
    accepted_spans: u64,
    duplicate_spans: u64,
    received_spans: u64,
    violations: Vec<String>,
}

struct State {
    mode: Mode,
    listener: Option<TcpListener>,
    /// While down: the port, bound but not listening.
    reserved: Option<socket2::Socket>,
}

struct Inner {
    addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    keep: Keep,
    state: Mutex<State>,
    log: Mutex<Log>,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    stopped: AtomicBool,
    flapping: AtomicBool,
    response_bytes_written: AtomicU64,
    tls_failures: AtomicU64,
    requests: AtomicU64,
    /// Requests since the mode was last set (for [`Mode::Throttle`]).
    mode_requests: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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

fn accept_loop(inner: Arc<Inner>) {
    while !inner.stopped.load(Ordering::SeqCst) {
        let accepted = {
            let st = lock(&inner.state);
            st.listener.as_ref().map(|l| l.accept())
        };
        match accepted {
            Some(Ok((stream, _))) => {
                let id = inner.next_conn.fetch_add(1, Ordering::SeqCst);
                let i = inner.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("fault-conn-{id}"))
                    .spawn(move || serve(i, stream, id));
                if spawned.is_err() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            Some(Err(e)) if e.kind() != ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn serve(inner: Arc<Inner>, stream: TcpStream, id: u64) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let Ok(raw) = stream.try_clone() else { return };
    match raw.try_clone() {
        Ok(c) => {
            lock(&inner.conns).insert(id, c);
        }
        Err(_) => return,
    }
    if inner.stopped.load(Ordering::SeqCst) {
        lock(&inner.conns).remove(&id);
        return;
    }
    match &inner.tls {
        None => handle(&inner, BufReader::new(stream), &raw, id),
        Some(cfg) => match rustls::ServerConnection::new(cfg.clone()) {
            Ok(mut conn) => {
                let mut s = stream;
                // Complete the handshake first, so failures are counted as such.
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut ok = true;
                while conn.is_handshaking() {
                    if conn.complete_io(&mut s).is_err() {
                        ok = false;
                        break;
                    }
                }
                let _ = s.set_read_timeout(None);
                if ok {
                    let tls = rustls::StreamOwned::new(conn, s);
                    handle(&inner, BufReader::new(tls), &raw, id);
                } else {
                    inner.tls_failures.fetch_add(1, Ordering::SeqCst);
                }
            }
            Err(_) => {
                inner.tls_failures.fetch_add(1, Ordering::SeqCst);
            }
        },
    }
    lock(&inner.conns).remove(&id);
}

/// Waits up to `d` while watching the connection; false if the client closed it (or the
/// collector stopped or went down) before the time was up.
fn wait_watching(inner: &Inner, raw: &TcpStream, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    let mut buf = [0u8; 1];
    loop {
        if inner.stopped.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = raw.set_read_timeout(None);
            return true;
        }
        let step = (deadline - now).min(Duration::from_millis(20));
        let _ = raw.set_read_timeout(Some(step.max(Duration::from_millis(1))));
        match raw.peek(&mut buf) {
            Ok(0) => return false,
            Ok(_) => std::thread::sleep(step),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return false,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Method, target and lower-cased headers of a request.
type Head = (String, String, Vec<(String, String)>);

fn read_head<R: BufRead>(r: &mut R) -> Option<Head> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 || headers.len() > 200 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    Some((method, path, headers))
}

fn read_chunked<R: BufRead>(r: &mut R) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size).ok()?;
        let n = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
        if n == 0 {
            let mut end = String::new();
            r.read_line(&mut end).ok()?;
            return Some(body);
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..]).ok()?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf).ok()?;
    }
}

fn handle<S: Read + Write>(inner: &Inner, mut r: BufReader<S>, raw: &TcpStream, id: u64) {
    loop {
        let Some((method, path, headers)) = read_head(&mut r) else {
            return;
        };
        inner.requests.fetch_add(1, Ordering::SeqCst);
        let at = Instant::now();
        let mode = {
            let st = lock(&inner.state);
            let n = inner.mode_requests.fetch_add(1, Ordering::SeqCst);
            match &st.mode {
                Mode::Throttle { times, .. } if n >= *times => Mode::Accept,
                m => m.clone(),
            }
        };
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        let len: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        if mode == Mode::ResetMidBody {
            let mut half = vec![0; len.unwrap_or(2) / 2];
            let _ = r.read_exact(&mut half);
            record(
                inner,
                request(at, id, &method, &path, &headers, half.len()),
                None,
            );
            lock(&inner.conns).remove(&id);
            let _ = socket2::SockRef::from(raw).set_linger(Some(Duration::ZERO));
            return; // dropping the last handles with linger 0 sends RST
        }
        let body = if chunked {
            match read_chunked(&mut r) {
                Some(b) => b,
                None => return,
            }
        } else {
            let mut b = vec![0; len.unwrap_or(0)];
            if r.read_exact(&mut b).is_err() {
                return;
            }
            b
        };
        let body_len = body.len();
        let mut req = request(at, id, &method, &path, &headers, body_len);
        let mut spans = Vec::new();
        if method == "POST" {
            let ct = header("content-type");
            let ce = header("content-encoding");
            match validate::decode(ct, ce, &body) {
                Ok(s) => {
                    req.span_count = s.len();
                    spans = s;
                }
                Err(e) => req.violation = Some(e),
            }
            if inner.keep == Keep::Everything {
                req.body = Some(match ce {
                    Some(e) if e.eq_ignore_ascii_case("gzip") => {
                        let mut out = Vec::new();
                        let _ = flate2::read::GzDecoder::new(&body[..])
                            .take(validate::MAX_DECODED_BYTES)
                            .read_to_end(&mut out);
                        out
                    }
                    _ => body,
                });
            }
        }
        let invalid = req.violation.is_some();
        let idx = record(inner, req, Some(&spans));
        let w = r.get_mut();
        let mut extra = String::new();
        let (status, text): (u16, Vec<u8>) = match &mode {
            Mode::Accept if invalid => (400, b"invalid spans".to_vec()),
            Mode::Accept => (202, Vec::new()),
            Mode::Throttle {
                status,
                retry_after,
                ..
            } => {
                extra = format!("Retry-After: {retry_after}\r\n");
                (
                    *status,
                    format!("fault collector answers {status}").into_bytes(),
                )
            }
            Mode::MaxBody(max) if body_len > *max => (413, b"request too large".to_vec()),
            Mode::MaxBody(_) if invalid => (400, b"invalid spans".to_vec()),
            Mode::MaxBody(_) => (202, Vec::new()),
            Mode::Slow(d) => {
                if !wait_watching(inner, raw, *d) {
                    return;
                }
                if invalid {
                    (400, b"invalid spans".to_vec())
                } else {
                    (202, Vec::new())
                }
            }
            Mode::Hang => {
                wait_watching(inner, raw, Duration::from_secs(3600));
                return;
            }
            Mode::Status(s) => (*s, format!("fault collector answers {s}").into_bytes()),
            Mode::Redirect(to) => {
                let head = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n"
                );
                answered(inner, idx, 307, &spans);
                if w.write_all(head.as_bytes())
                    .and_then(|_| w.flush())
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Mode::HugeResponse { status, bytes } => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Length: {bytes}\r\n\r\n",
                    reason(*status)
                );
                answered(inner, idx, *status, &spans);
                if w.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = *bytes;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if w.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    inner
                        .response_bytes_written
                        .fetch_add(n as u64, Ordering::SeqCst);
                    left -= n as u64;
                }
                let _ = w.flush();
                continue;
            }
            Mode::ResetMidBody | Mode::Down => return,
        };
        let head = format!(
            "HTTP/1.1 {status} {}\r\n{extra}Content-Length: {}\r\n\r\n",
            reason(status),
            text.len()
        );
        answered(inner, idx, status, &spans);
        if w.write_all(head.as_bytes())
            .and_then(|_| w.write_all(&text))
            .and_then(|_| w.flush())
            .is_err()
        {
            return;
        }
    }
}

fn request(
    at: Instant,
    conn: u64,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body_len: usize,
) -> Request {
    Request {
        at,
        conn,
        method: method.to_owned(),
        path: path.to_owned(),
        headers: headers.to_vec(),
        body_len,
        body: None,
        span_count: 0,
        answered: None,
        violation: None,
    }
}

/// Logs a request; returns its index (None with [`Keep::Counts`]).
fn record(inner: &Inner, req: Request, spans: Option<&[SpanSummary]>) -> Option<usize> {
    let mut log = lock(&inner.log);
    if let Some(v) = &req.violation {
        log.violations
            .push(format!("{} {}: {v}", req.method, req.path));
    }
    log.received_spans += spans.map_or(0, |s| s.len() as u64);
    if inner.keep == Keep::Counts {
        return None;
    }
    log.requests.push(req);
    Some(log.requests.len() - 1)
}

fn answered(inner: &Inner, idx: Option<usize>, status: u16, spans: &[SpanSummary]) {
    let mut log = lock(&inner.log);
    if let Some(r) = idx.and_then(|i| log.requests.get_mut(i)) {
        r.answered = Some(status);
    }
    if !(200..300).contains(&status) {
        return;
    }
    log.accepted_spans += spans.len() as u64;
    if inner.keep == Keep::Counts {
        return;
    }
    for s in spans {
        if !log.keys.insert(s.key()) {
            log.duplicate_spans += 1;
        }
    }
    log.spans.extend_from_slice(spans);
}

#[cfg(test)]
mod tests {
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
