//! A tiny loopback Zipkin collector for the end-to-end and stalled-collector measurements:
//! std `TcpListener`, HTTP/1.1 keep-alive, `Content-Length` or chunked bodies.
//!
//! `Ok` reads each request, counts its spans and answers 202. `Stall` accepts connections and
//! never reads nor answers, so the client's socket buffers fill and its requests time out.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the sink behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read, count, answer 202.
    Ok,
    /// Accept and never read or answer.
    Stall,
}

/// Counters of a running sink.
#[derive(Default, Debug)]
pub struct Counts {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
    pub spans: AtomicU64,
    pub connections: AtomicU64,
}

pub struct Sink {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Sink {
    pub fn start(mode: Mode) -> std::io::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (c, s, h) = (counts.clone(), stop.clone(), held.clone());
        std::thread::Builder::new()
            .name("bench-sink".into())
            .spawn(move || accept_loop(listener, mode, c, s, h))?;
        Ok(Sink {
            addr,
            counts,
            stop,
            held,
        })
    }

    /// `http://127.0.0.1:PORT/api/v2/spans`
    pub fn url(&self) -> String {
        format!("http://{}/api/v2/spans", self.addr)
    }

    pub fn spans(&self) -> u64 {
        self.counts.spans.load(Ordering::Acquire)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Ok(mut h) = self.held.lock() {
            h.clear();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    mode: Mode,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
) {
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                counts.connections.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_nonblocking(false);
                match mode {
                    Mode::Stall => {
                        if let Ok(mut h) = held.lock() {
                            h.push(stream);
                        }
                    }
                    Mode::Ok => {
                        let (c, s) = (counts.clone(), stop.clone());
                        let _ = std::thread::Builder::new()
                            .name("bench-sink-conn".into())
                            .spawn(move || serve(stream, c, s));
                    }
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn serve(stream: TcpStream, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut w = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::with_capacity(1 << 16, stream);
    let mut body = Vec::with_capacity(1 << 20);
    let mut line = String::new();
    loop {
        // Request line and headers.
        let mut content_length = None;
        let mut chunked = false;
        let mut first = true;
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    if first && line.is_empty() {
                        continue;
                    }
                    continue;
                }
                Err(_) => return,
            }
            first = false;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                let v = v.trim();
                if k == "content-length" {
                    content_length = v.parse::<usize>().ok();
                } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
            }
        }
        body.clear();
        let ok = if chunked {
            read_chunked(&mut r, &mut body)
        } else if let Some(n) = content_length {
            body.resize(n, 0);
            r.read_exact(&mut body).is_ok()
        } else {
            true
        };
        if !ok {
            return;
        }
        counts.requests.fetch_add(1, Ordering::Relaxed);
        counts.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        counts.spans.fetch_add(count_spans(&body), Ordering::AcqRel);
        if w.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn read_chunked(r: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> bool {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).is_err() {
            return false;
        }
        let size = match usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16) {
            Ok(s) => s,
            Err(_) => return false,
        };
        if size == 0 {
            line.clear();
            let _ = r.read_line(&mut line);
            return true;
        }
        let at = body.len();
        body.resize(at + size, 0);
        if r.read_exact(&mut body[at..]).is_err() {
            return false;
        }
        line.clear();
        let _ = r.read_line(&mut line);
    }
}

/// Spans in a message: `"traceId"` keys in JSON, or top-level field-1 records in proto3
/// `ListOfSpans`.
pub fn count_spans(body: &[u8]) -> u64 {
    if body.first() == Some(&b'[') {
        let pat = b"\"traceId\"";
        body.windows(pat.len()).filter(|w| *w == pat).count() as u64
    } else {
        let mut n = 0;
        let mut i = 0;
        while i < body.len() {
            if body[i] != 0x0a {
                return n;
            }
            i += 1;
            let mut len = 0usize;
            let mut shift = 0;
            while i < body.len() {
                let b = body[i];
                i += 1;
                len |= ((b & 0x7f) as usize) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            i += len;
            n += 1;
        }
        n
    }
}
