//! One connection of the collector: HTTP/1.1 requests read (keep-alive, chunked bodies), each
//! body validated by Zipkin's rules, and answered as the current [`Mode`] says.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::validate::{self, SpanSummary};

use super::{lock, Inner, Keep, Mode, Request};

pub(super) fn accept_loop(inner: Arc<Inner>) {
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
