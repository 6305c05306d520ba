//! The real Zipkin server that end-to-end tests report to and read back from: where it is
//! (`ZIPKIN_URL`), whether a missing one fails the test (`ZIPKIN_E2E=1`, as `scripts/test.sh`
//! sets), and a trace read back once stored (the collector answers 202 before it stores).

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

/// `ZIPKIN_URL` without a trailing slash, by default `http://127.0.0.1:9411`.
pub fn url() -> String {
    std::env::var("ZIPKIN_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:9411".into())
        .trim_end_matches('/')
        .to_owned()
}

/// Whether a missing server fails the test instead of skipping it (`ZIPKIN_E2E=1`).
pub fn required() -> bool {
    std::env::var("ZIPKIN_E2E").as_deref() == Ok("1")
}

/// Whether the server answers `GET /health`. Without one, `test` is reported skipped, or the
/// call panics when [`required`].
pub async fn up(test: &str) -> bool {
    let base = url();
    let answer = reqwest::Client::new()
        .get(format!("{base}/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map(|r| r.status());
    match answer {
        Ok(status) if status.is_success() => true,
        other if required() => {
            panic!("ZIPKIN_E2E=1 but no Zipkin server answers at {base}/health: {other:?}")
        }
        other => {
            println!("skipped: {test}: no Zipkin server at {base} ({other:?})");
            false
        }
    }
}

/// Trace `id` as Zipkin stores it, polled until it has at least `n` spans or `within` has
/// passed; then whatever it has (callers assert on it, with their own message).
pub async fn stored_trace<T: DeserializeOwned>(id: &str, n: usize, within: Duration) -> Vec<T> {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v2/trace/{id}", url());
    let deadline = Instant::now() + within;
    let mut last = Vec::new();
    loop {
        if let Ok(r) = client
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            if r.status().is_success() {
                if let Ok(body) = r.bytes().await {
                    last = serde_json::from_slice(&body).unwrap_or_else(|e| {
                        panic!("GET {url}: not a list of spans ({e}): {body:?}")
                    });
                }
            }
        }
        if last.len() >= n || Instant::now() > deadline {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
