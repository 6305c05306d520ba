//! F10 and X3 in child processes: how a process that ends keeps (or loses) its spans, and what
//! the library writes to stderr. The parent runs this same test binary with `child_main` and
//! `RELIABILITY_CHILD=<mode>`; without that variable `child_main` does nothing.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use zipkin_runtime::{SpanGuard, Tracer};
use zipkin_testkit::probe::fmt_dur;
use zipkin_testkit::{Collector, Mode, Report};

const SPANS: usize = 1000;
const SECRET: &str = "Bearer child-s3cret-token";
const URL_PASSWORD: &str = "url-pa55word";

/// 10 requests of 100 spans each (a root and 99 children), on the current thread's tracer.
fn emit_on_current() {
    for _ in 0..SPANS / 100 {
        let _root = SpanGuard::new("request");
        for _ in 0..99 {
            drop(SpanGuard::new("work"));
        }
    }
}

/// `n` spans under a root named `name`, on the current thread's tracer.
fn emit_named(name: &'static str, n: usize) {
    let _root = SpanGuard::new(name);
    for _ in 1..n {
        drop(SpanGuard::new(name));
    }
}

fn child_tracer(url: &str) -> zipkin_runtime::TracerBuilder {
    Tracer::builder()
        .service_name("child")
        .endpoint(url)
        .unwrap()
        .close_timeout(Duration::from_secs(10))
}

#[test]
fn child_main() {
    let Ok(mode) = std::env::var("RELIABILITY_CHILD") else {
        return;
    };
    let url = std::env::var("RELIABILITY_URL").unwrap();
    match mode.as_str() {
        "shutdown" => {
            let t = child_tracer(&url).build().unwrap();
            t.in_scope(emit_on_current);
            let started = Instant::now();
            let f = t.shutdown(Duration::from_secs(10));
            println!("CHILD shutdown {} {:?}", started.elapsed().as_micros(), f);
        }
        "guard" => {
            let guard = child_tracer(&url).install().unwrap();
            emit_on_current(); // no thread default: the global tracer of the guard
            let started = Instant::now();
            drop(guard);
            println!("CHILD guard {}", started.elapsed().as_micros());
        }
        "init-guard" => {
            // The guard of `init()` (ZIPKIN_* from the parent), dropped at the end of `main`.
            let guard = zipkin_runtime::init().unwrap();
            emit_on_current();
            let started = Instant::now();
            drop(guard);
            println!("CHILD init-guard {}", started.elapsed().as_micros());
        }
        "exit" => {
            let t = child_tracer(&url).build().unwrap();
            t.in_scope(emit_on_current);
            std::process::exit(0);
        }
        "exit-after-100ms" => {
            let t = child_tracer(&url).build().unwrap();
            t.in_scope(emit_on_current);
            std::thread::sleep(Duration::from_millis(100));
            std::process::exit(0);
        }
        "outage" => {
            // The child's own collector, down and then up: the library says when delivery
            // fails and when it works again.
            let c = Collector::start(Mode::Down);
            let t = child_tracer(&c.url()).build().unwrap();
            t.in_scope(emit_on_current);
            t.flush(Duration::from_secs(10));
            c.set_mode(Mode::Accept);
            // The cool-down after a given-up message: later spans wait it out, then go.
            std::thread::sleep(Duration::from_millis(300));
            t.in_scope(emit_on_current);
            let f = t.flush(Duration::from_secs(20));
            t.shutdown(Duration::from_secs(10));
            println!("CHILD outage {} {}", f.sent, c.accepted_spans());
        }
        "logs" => {
            // Auth header and a password in the URL, a collector that refuses: the library
            // logs its one warning; print every Debug a user might log too.
            let url = url.replace("://", &format!("://user:{URL_PASSWORD}@"));
            let t = child_tracer(&url)
                .auth_header("Authorization", SECRET)
                .build()
                .unwrap();
            t.in_scope(emit_on_current);
            t.flush(Duration::from_secs(10));
            eprintln!("{:?}\n{:?}\n{:?}", t, t.config(), t.metrics());
            t.shutdown(Duration::from_secs(10));
        }
        "proxy-env" => {
            // The parent points HTTP(S)_PROXY and ALL_PROXY at a second collector.
            let t = child_tracer(&url).build().unwrap();
            t.in_scope(emit_on_current);
            t.shutdown(Duration::from_secs(10));
        }
        "lazy-return" => {
            // No tracer set up: the first span makes the global one from ZIPKIN_* (the parent
            // sets ZIPKIN_ENDPOINT), and the test returns, so the process exits normally.
            emit_on_current();
        }
        "lazy-exit" => {
            emit_on_current();
            std::process::exit(0);
        }
        "fork" => {
            // The parent reports, forks, and both report; the child also flushes and exits.
            emit_named("before-fork", 10);
            // SAFETY: the child only records spans, flushes and exits; this process has no
            // thread of its own but the tracer's, which the library's fork handler deals with.
            match unsafe { libc::fork() } {
                0 => {
                    emit_named("in-child", 100);
                    let started = Instant::now();
                    let f = Tracer::global().flush(Duration::from_secs(5));
                    println!(
                        "CHILD flush {} {}",
                        started.elapsed().as_micros(),
                        f.timed_out
                    );
                    std::process::exit(0);
                }
                -1 => panic!("fork failed"),
                pid => {
                    emit_named("in-parent", 100);
                    let mut status = 0;
                    // SAFETY: waits for the child forked above.
                    unsafe { libc::waitpid(pid, &mut status, 0) };
                    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
                }
            }
        }
        "init-from-env" => {
            // Everything from ZIPKIN_* (the parent sets ZIPKIN_ENDPOINT, ZIPKIN_TLS_CA_FILE).
            let guard = zipkin_runtime::init().unwrap();
            emit_on_current();
            drop(guard);
        }
        other => panic!("unknown child mode {other}"),
    }
}

struct Child {
    stdout: String,
    stderr: String,
    took: Duration,
    ok: bool,
}

fn run_child(mode: &str, url: &str) -> Child {
    run_child_with(mode, url, &[])
}

/// Runs child `mode` reporting to a collector that never answers, with
/// `ZIPKIN_EXIT_FLUSH_TIMEOUT` set to `exit_wait` when given.
fn run_child_against_hung_collector(mode: &str, exit_wait: Option<&str>) -> Child {
    let c = Collector::start(Mode::Hang);
    let url = c.url();
    let mut vars = vec![("ZIPKIN_ENDPOINT", url.as_str())];
    if let Some(v) = exit_wait {
        vars.push(("ZIPKIN_EXIT_FLUSH_TIMEOUT", v));
    }
    run_child_with(mode, &url, &vars)
}

fn run_child_with(mode: &str, url: &str, env: &[(&str, &str)]) -> Child {
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .envs(env.iter().copied())
        .args(["child_main", "--exact", "--nocapture", "--test-threads=1"])
        .env("RELIABILITY_CHILD", mode)
        .env("RELIABILITY_URL", url)
        .env_remove("RELIABILITY_FIGURES")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Child {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
        ok: out.status.success(),
    }
}

/// Spans the collector holds once it has stopped receiving for a while.
fn settled(c: &Collector) -> u64 {
    let mut last = c.accepted_spans();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = c.accepted_spans();
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn exit_paths_shutdown_and_guard_lose_nothing_process_exit_is_measured() {
    let mut r = Report::new("F10 process exit paths (1000 spans, healthy collector)");
    for mode in ["shutdown", "guard"] {
        let c = Collector::start(Mode::Accept);
        let child = run_child(mode, &c.url());
        let got = settled(&c);
        // libtest may print "test child_main ... " on the same line first.
        let micros: u64 = child
            .stdout
            .split("CHILD ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0);
        r.check(
            &format!("{mode}: spans at the collector / ended"),
            format!("{got} / {SPANS}"),
            child.ok && got == SPANS as u64,
        );
        r.figure(
            &format!("{mode}: time in shutdown / guard drop"),
            fmt_dur(Duration::from_micros(micros)),
        );
        r.figure(
            &format!("{mode}: child process run time"),
            fmt_dur(child.took),
        );
        check_requests_as(&mut r, mode, &c);
    }
    // Regression: without a guard, a program that ended right after its spans delivered none
    // of them. The exit hook now flushes every tracer holding spans (within 1 s by default).
    for mode in ["exit", "exit-after-100ms", "lazy-return", "lazy-exit"] {
        let c = Collector::start(Mode::Accept);
        let url = c.url();
        let child = run_child_with(mode, &url, &[("ZIPKIN_ENDPOINT", url.as_str())]);
        let got = settled(&c);
        r.check(&format!("{mode}: child exited"), child.ok, child.ok);
        r.check(
            &format!("{mode}: spans at the collector / ended"),
            format!("{got} / {SPANS}"),
            got == SPANS as u64,
        );
        r.check(
            &format!("{mode}: nothing said on stderr"),
            child.stderr.trim().is_empty(),
            !child.stderr.contains("zipkin:"),
        );
        check_requests_as(&mut r, mode, &c);
    }
    // A collector that never answers: the exit waits the default 1 s, then says how many
    // spans were left; with the wait turned off it does not wait.
    for (mode, wait, env) in [
        ("hung collector, default wait", "1s", None),
        (
            "hung collector, ZIPKIN_EXIT_FLUSH_TIMEOUT=0",
            "0",
            Some("0"),
        ),
    ] {
        let child = run_child_against_hung_collector("lazy-return", env);
        r.check(&format!("{mode}: child exited"), child.ok, child.ok);
        r.figure(
            &format!("{mode}: child process run time"),
            fmt_dur(child.took),
        );
        let said = unsent_line(&child.stderr, "at exit");
        let counted = unsent_count(&said);
        if wait == "1s" {
            r.check(
                &format!("{mode}: stderr names the spans left (all of them)"),
                format!("{said:?}"),
                counted == Some(SPANS as u64),
            );
            r.check(
                &format!("{mode}: the exit waited about 1 s (>= 1 s, < 10 s)"),
                fmt_dur(child.took),
                child.took >= Duration::from_secs(1) && child.took < Duration::from_secs(10),
            );
        } else {
            r.check(
                &format!("{mode}: nothing waited for, nothing said"),
                format!("{said:?}"),
                said.is_empty(),
            );
        }
    }
    // Regression: the guard of `init()` waited its own 2 s for a hung collector, then the exit
    // hook waited 1 s more for the same spans, and only the second wait said anything; and
    // ZIPKIN_EXIT_FLUSH_TIMEOUT=0 did not shorten the guard's wait. Now the guard waits the
    // exit's 1 s (or none), says what it left, and the exit adds no wait of its own.
    for (mode, env) in [
        ("init() guard, hung collector, default wait", None),
        (
            "init() guard, hung collector, ZIPKIN_EXIT_FLUSH_TIMEOUT=0",
            Some("0"),
        ),
    ] {
        let child = run_child_against_hung_collector("init-guard", env);
        r.check(&format!("{mode}: child exited"), child.ok, child.ok);
        let guard = Duration::from_micros(
            child
                .stdout
                .split("CHILD init-guard ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or(u64::MAX / 2),
        );
        let after_guard = child.took.saturating_sub(guard);
        r.figure(&format!("{mode}: guard drop"), fmt_dur(guard));
        r.check(
            // It also holds the process's start and its 1000 spans; a second wait adds 1 s.
            &format!("{mode}: process time after the guard dropped (< 900 ms: no second wait)"),
            fmt_dur(after_guard),
            after_guard < Duration::from_millis(900),
        );
        let said = unsent_line(&child.stderr, "guard");
        let lines = child.stderr.matches("unsent").count();
        if env.is_none() {
            r.check(
                &format!("{mode}: the guard waited about 1 s (>= 1 s, < 10 s)"),
                fmt_dur(guard),
                guard >= Duration::from_secs(1) && guard < Duration::from_secs(10),
            );
            r.check(
                &format!("{mode}: stderr names the spans left (all of them), once"),
                format!("{said:?}"),
                unsent_count(&said) == Some(SPANS as u64) && lines == 1,
            );
        } else {
            r.check(
                &format!("{mode}: the guard did not wait (< 500 ms)"),
                fmt_dur(guard),
                guard < Duration::from_millis(500),
            );
            r.check(
                &format!("{mode}: nothing said"),
                format!("{:?}", child.stderr.trim()),
                lines == 0,
            );
        }
    }
    r.finish();
}

/// The library's line on stderr about spans left unsent `when` ("at exit", "guard"), or "".
fn unsent_line(stderr: &str, when: &str) -> String {
    stderr
        .lines()
        .find(|l| l.contains("span(s) unsent") && l.contains(when))
        .unwrap_or("")
        .to_owned()
}

/// The number of spans such a line says were left.
fn unsent_count(line: &str) -> Option<u64> {
    line.split("zipkin: ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Regression: a forked child copied the id generator's state, so parent and child drew
/// identical trace and span ids, and the child's flush waited out its whole timeout for
/// reporter threads that did not exist in it.
#[test]
fn a_forked_child_draws_its_own_ids_and_reports_through_its_own_reporter() {
    let mut r = Report::new("F13 fork: parent and child both report (lazily created tracer)");
    let c = Collector::start(Mode::Accept);
    let url = c.url();
    let child = run_child_with("fork", &url, &[("ZIPKIN_ENDPOINT", url.as_str())]);
    r.check("processes exited", child.ok, child.ok);
    let got = settled(&c);
    r.check(
        "spans at the collector / ended",
        format!("{got} / 210"),
        got == 210,
    );
    let spans = c.spans();
    let ids = |name: &str| -> std::collections::BTreeSet<(String, String)> {
        spans
            .iter()
            .filter(|s| s.name.as_deref() == Some(name))
            .map(|s| (s.trace_id.clone(), s.id.clone()))
            .collect()
    };
    let (parent, forked) = (ids("in-parent"), ids("in-child"));
    r.check(
        "distinct spans reported by parent / child",
        format!("{} / {}", parent.len(), forked.len()),
        parent.len() == 100 && forked.len() == 100,
    );
    let parent_span_ids: std::collections::BTreeSet<&String> =
        parent.iter().map(|(_, id)| id).collect();
    let shared = forked
        .iter()
        .filter(|(_, id)| parent_span_ids.contains(id))
        .count();
    r.check("span ids drawn by both processes", shared, shared == 0);
    r.check(
        "duplicate spans at the collector",
        c.duplicate_spans(),
        c.duplicate_spans() == 0,
    );
    let flush: Vec<&str> = child
        .stdout
        .split("CHILD flush ")
        .nth(1)
        .map(|rest| rest.split_whitespace().take(2).collect())
        .unwrap_or_default();
    let micros: u64 = flush
        .first()
        .and_then(|m| m.parse().ok())
        .unwrap_or(u64::MAX);
    r.check(
        "the child's flush: not timed out, well under its 5 s timeout",
        format!(
            "{} ({flush:?})",
            fmt_dur(Duration::from_micros(micros.min(u32::MAX as u64)))
        ),
        flush.get(1) == Some(&"false") && micros < 4_000_000,
    );
    check_requests(&mut r, &c);
    r.finish();
}

/// Regression: only the first failure of the process was said, never its end, so an operator
/// could not tell from the log whether spans were flowing again, and a later outage was silent.
#[test]
fn an_outage_is_said_when_it_starts_and_when_it_ends() {
    let mut r = Report::new("X3b a collector that fails, then accepts: both said on stderr");
    let child = run_child("outage", "unused");
    r.check("child ran", child.ok, child.ok);
    let lines: Vec<&str> = child
        .stderr
        .lines()
        .filter(|l| l.starts_with("zipkin:"))
        .collect();
    let failed = lines.iter().position(|l| l.starts_with("zipkin: dropped"));
    let back = lines
        .iter()
        .position(|l| l.starts_with("zipkin: the collector accepts spans again"));
    r.check(
        "stderr: the failure, then the recovery",
        format!("{lines:?}"),
        matches!((failed, back), (Some(f), Some(b)) if f < b),
    );
    let delivered = child
        .stdout
        .split("CHILD outage ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok());
    r.check(
        "spans sent after the recovery",
        format!("{delivered:?}"),
        delivered == Some(SPANS as u64),
    );
    r.finish();
}

#[test]
fn the_auth_header_and_url_password_never_reach_stderr() {
    let mut r = Report::new("X3 auth header never logged");
    let c = Collector::start(Mode::Status(401));
    let child = run_child("logs", &c.url());
    r.check("child ran", child.ok, child.ok);
    r.check(
        "the library logged its warning",
        child.stderr.contains("zipkin: dropped"),
        child.stderr.contains("zipkin: dropped"),
    );
    let leaked = [SECRET, "child-s3cret-token", URL_PASSWORD]
        .iter()
        .filter(|s| child.stderr.contains(*s) || child.stdout.contains(*s))
        .count();
    r.check(
        "secrets in the child's stdout/stderr (Debug of Tracer, Config, metrics; warnings)",
        leaked,
        leaked == 0,
    );
    let reqs = c.requests();
    r.check(
        "auth header reached the collector",
        reqs.first()
            .and_then(|q| q.header("authorization"))
            .unwrap_or("none")
            == SECRET,
        reqs.iter()
            .all(|q| q.header("authorization") == Some(SECRET))
            && !reqs.is_empty(),
    );
    r.finish();
}

#[test]
fn zipkin_tls_ca_file_makes_an_https_collector_trusted() {
    let mut r = Report::new("X5 TLS: ZIPKIN_TLS_CA_FILE (init from the environment)");
    let ca = zipkin_testkit::tls::test_ca();
    let c = Collector::builder(Mode::Accept)
        .tls(ca.server.clone())
        .start();
    let path = std::env::temp_dir().join(format!("zipkin-testkit-ca-{}.pem", std::process::id()));
    std::fs::write(&path, &ca.ca_pem).unwrap();
    let url = c.url_localhost();
    let child = run_child_with(
        "init-from-env",
        &url,
        &[
            ("ZIPKIN_ENDPOINT", url.as_str()),
            ("ZIPKIN_TLS_CA_FILE", path.to_str().unwrap()),
            ("ZIPKIN_SERVICE_NAME", "from-env"),
        ],
    );
    let got = settled(&c);
    let _ = std::fs::remove_file(&path);
    r.check(
        "spans at the https collector / ended",
        format!("{got} / {SPANS}"),
        child.ok && got == SPANS as u64,
    );
    check_requests(&mut r, &c);
    // A missing file is a configuration error that says which variable and what was expected.
    let child = run_child_with(
        "init-from-env",
        &url,
        &[
            ("ZIPKIN_ENDPOINT", url.as_str()),
            ("ZIPKIN_TLS_CA_FILE", "/nonexistent/ca.pem"),
        ],
    );
    r.check(
        "missing ZIPKIN_TLS_CA_FILE: init() fails with a message naming it",
        !child.ok && child.stderr.contains("ZIPKIN_TLS_CA_FILE"),
        !child.ok && child.stderr.contains("ZIPKIN_TLS_CA_FILE"),
    );
    r.finish();
}

#[test]
fn proxy_environment_variables_are_ignored() {
    let mut r = Report::new("X5 proxy variables in the environment are ignored");
    let c = Collector::start(Mode::Accept);
    let proxy = Collector::start(Mode::Accept);
    let p = format!("http://{}", proxy.addr());
    let child = run_child_with(
        "proxy-env",
        &c.url(),
        &[
            ("HTTP_PROXY", p.as_str()),
            ("http_proxy", p.as_str()),
            ("HTTPS_PROXY", p.as_str()),
            ("ALL_PROXY", p.as_str()),
        ],
    );
    let got = settled(&c);
    r.check(
        "spans at the collector / ended",
        format!("{got} / {SPANS}"),
        child.ok && got == SPANS as u64,
    );
    r.check(
        "requests that reached the proxy",
        proxy.request_count(),
        proxy.request_count() == 0,
    );
    r.finish();
}
