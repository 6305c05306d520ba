//! What the reliability tests share: tracers pointed at a fault collector, and producer threads
//! that end spans while timing each end.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use zipkin_runtime::{ReporterConfig, SpanGuard, Tracer, TracerBuilder};
use zipkin_testkit::{Collector, Histogram, Report};

/// Connect and request timeouts of the fault tests (short, so a test sees several attempts).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// A tracer reporting over HTTP to `c` with these reporter settings.
pub fn tracer(c: &Collector, cfg: ReporterConfig) -> Tracer {
    builder(&c.url(), cfg).build().unwrap()
}

pub fn builder(url: &str, cfg: ReporterConfig) -> TracerBuilder {
    Tracer::builder()
        .service_name("reliability")
        .endpoint(url)
        .unwrap()
        .timeouts(CONNECT_TIMEOUT, REQUEST_TIMEOUT)
        .reporter(cfg)
}

/// Default reporter settings (the ones users get), shown in reports.
pub fn defaults() -> ReporterConfig {
    ReporterConfig::default()
}

/// How a producer paces itself.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// As fast as it can.
    Max,
    /// `n` requests (a root with children) then a sleep of this long.
    Paced { per_burst: usize, sleep: Duration },
}

/// A thread that ends spans (a local root with `children` children per request) and times
/// each end (the guard's drop), until stopped.
pub struct Producer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(Histogram, u64)>,
}

impl Producer {
    pub fn start(t: Tracer, children: usize, pace: Pace) -> Producer {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let _d = t.set_default();
            let mut h = Histogram::default();
            let mut ended = 0u64;
            while !s.load(Ordering::Relaxed) {
                let bursts = match pace {
                    Pace::Max => 64,
                    Pace::Paced { per_burst, .. } => per_burst,
                };
                for _ in 0..bursts {
                    let root = SpanGuard::new("request");
                    for _ in 0..children {
                        let child = SpanGuard::new("work");
                        let t0 = Instant::now();
                        drop(child);
                        h.record(t0.elapsed());
                    }
                    let t0 = Instant::now();
                    drop(root);
                    h.record(t0.elapsed());
                    ended += 1 + children as u64;
                }
                if let Pace::Paced { sleep, .. } = pace {
                    std::thread::sleep(sleep);
                }
            }
            (h, ended)
        });
        Producer { stop, handle }
    }

    /// Stops and returns the end-latency histogram and the spans ended.
    pub fn stop(self) -> (Histogram, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// Runs `n` producers for `d`.
pub fn produce(t: Tracer, n: usize, children: usize, pace: Pace, d: Duration) -> (Histogram, u64) {
    let ps: Vec<Producer> = (0..n).map(|_| Producer::start(t, children, pace)).collect();
    std::thread::sleep(d);
    let mut h = Histogram::default();
    let mut ended = 0;
    for p in ps {
        let (ph, e) = p.stop();
        h.merge(&ph);
        ended += e;
    }
    (h, ended)
}

/// The checks every scenario against the fault collector makes: valid bodies, `b3: 0` and no
/// trace headers on every report request, nothing but POSTs to the spans path.
pub fn check_requests(r: &mut Report, c: &Collector) {
    check_requests_as(r, "", c)
}

/// [`check_requests`] with a label before each figure name.
pub fn check_requests_as(r: &mut Report, label: &str, c: &Collector) {
    let p = if label.is_empty() {
        String::new()
    } else {
        format!("{label}: ")
    };
    let v = c.violations();
    r.check(
        &format!("{p}bodies Zipkin would refuse"),
        v.len(),
        v.is_empty(),
    );
    let reqs = c.requests();
    let untraced = reqs.iter().all(|q| {
        q.header("b3") == Some("0")
            && ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "traceparent"]
                .iter()
                .all(|h| q.header(h).is_none())
    });
    r.check(
        &format!("{p}report requests carrying b3: 0 and no trace headers"),
        format!(
            "{}/{}",
            reqs.iter().filter(|q| q.header("b3") == Some("0")).count(),
            reqs.len()
        ),
        untraced,
    );
    let posts = reqs
        .iter()
        .all(|q| q.method == "POST" && q.path == "/api/v2/spans");
    r.check(
        &format!("{p}requests are POST /api/v2/spans"),
        reqs.len(),
        posts,
    );
}

/// Polls `f` until it holds or `timeout` passes; returns how long it took, or None.
pub fn time_until(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}
