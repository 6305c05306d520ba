//! Shared pieces of the benchmarks: the workload every tracer runs, chunking under a root,
//! process counters (page faults, peak RSS) and the side-channel file where benches that
//! measure more than time (drops, faults, spans/s, bytes) leave their numbers for `report`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Children opened under one root in every "in root" bench: the root's own cost and its
/// submission are amortised over this many spans, the same for every tracer.
pub const CHUNK: u64 = 1000;

/// Runs `iters` calls of `child` in chunks of [`CHUNK`], each chunk inside a fresh root made by
/// `root` (dropped at the end of the chunk, inside the timed region).
#[inline(always)]
pub fn chunked<R>(iters: u64, mut root: impl FnMut() -> R, mut child: impl FnMut()) -> Duration {
    let start = std::time::Instant::now();
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let r = root();
        for _ in 0..n {
            child();
        }
        drop(r);
        left -= n;
    }
    start.elapsed()
}

/// Minor page faults of the whole process so far (getrusage; every thread counts).
pub fn minor_faults() -> u64 {
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return 0;
        }
        ru.ru_minflt as u64
    }
}

/// A field of `/proc/self/status` in bytes (`VmHWM`, `VmRSS`).
pub fn proc_status_bytes(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix(field) {
            let kb: u64 = rest
                .trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            return Some(kb * 1024);
        }
    }
    None
}

/// Resets the peak-RSS watermark (`VmHWM`) to the current RSS, so a phase can be measured alone.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

/// Where side-channel results go: `$ZIPKIN_BENCH_OUT` or `target/criterion/extra`.
pub fn extra_dir() -> PathBuf {
    std::env::var_os("ZIPKIN_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/criterion/extra"))
}

/// Records one named number for the report (overwrites the previous run's value).
pub fn record_extra(name: &str, value: f64) {
    let dir = extra_dir();
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut f) = std::fs::File::create(dir.join(format!("{name}.txt"))) {
        let _ = writeln!(f, "{value}");
    }
    eprintln!("extra {name} = {value}");
}

/// Whether the harness runs in `--quick` smoke mode (shorter side measurements).
pub fn quick() -> bool {
    std::env::var_os("ZIPKIN_BENCH_QUICK").is_some()
}

/// A criterion configured like every suite here: the flags from `scripts/bench.sh` win.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
        .configure_from_args()
}

pub mod alloc_count;
pub mod http_service;
pub mod sink;

/// A tracer for benches: service `bench`, the given sample rate (percent), reporting to
/// [`zipkin_runtime::transport::Discard`].
pub fn discard_tracer(sample_rate: f64) -> zipkin_runtime::Tracer {
    zipkin_runtime::Tracer::builder()
        .service_name("bench")
        .sample_rate(sample_rate)
        .transport(zipkin_runtime::transport::Discard)
        .build()
        .expect("bench tracer")
}
