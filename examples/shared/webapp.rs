//! `webapp`, as `demo.py`: `GET /` opens the root span `index` and calls `do_stuff()`, which
//! sleeps and then calls service1 with the trace's headers; `index` sleeps again and answers OK.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use zipkin_rs::{current_context, inject_headers, zipkin_span};

use super::config::{self, Setting, SettingError};
use super::TRACE_ID_HEADER;

/// The webapp's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen port (`DEMO_PORT`), also the port of its spans' local endpoint.
    pub port: u16,
    /// service1's endpoint (`SERVICE1_URL`).
    pub service1_url: String,
    /// `do_stuff`'s sleep before the call (`DO_STUFF_SLEEP`).
    pub do_stuff_sleep: Duration,
    /// `index`'s sleep after `do_stuff` (`INDEX_SLEEP`).
    pub index_sleep: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 5000,
            service1_url: "http://localhost:6000/service1/".into(),
            do_stuff_sleep: config::DO_STUFF_SLEEP,
            index_sleep: config::INDEX_SLEEP,
        }
    }
}

pub const SETTINGS: &[Setting] = &[
    Setting {
        flag: "--port",
        env: Some("DEMO_PORT"),
        help: "listen on 127.0.0.1:<port> (default 5000; 0 picks a free port)",
    },
    Setting {
        flag: "--service1-url",
        env: Some("SERVICE1_URL"),
        help: "service1's URL (default http://localhost:6000/service1/)",
    },
    Setting {
        flag: "--do-stuff-sleep",
        env: Some("DO_STUFF_SLEEP"),
        help: "seconds do_stuff sleeps before calling service1 (default 0.05; the post: 5)",
    },
    Setting {
        flag: "--index-sleep",
        env: Some("INDEX_SLEEP"),
        help: "seconds index sleeps after do_stuff (default 0.1; the post: 10)",
    },
];

impl Config {
    /// From flags and the environment; `Ok(None)` when `--help` was asked for.
    pub fn from_args(args: &[String]) -> Result<Option<Config>, SettingError> {
        let Some(v) = config::read(args, SETTINGS)? else {
            return Ok(None);
        };
        let d = Config::default();
        Ok(Some(Config {
            port: config::port(&v, "--port", SETTINGS, d.port)?,
            service1_url: config::url(&v, "--service1-url", SETTINGS, &d.service1_url)?,
            do_stuff_sleep: config::seconds(&v, "--do-stuff-sleep", SETTINGS, d.do_stuff_sleep)?,
            index_sleep: config::seconds(&v, "--index-sleep", SETTINGS, d.index_sleep)?,
        }))
    }
}

struct Webapp {
    config: Config,
    client: reqwest::Client,
}

/// The webapp's routes.
pub fn router(config: Config) -> Router {
    let app = Arc::new(Webapp {
        config,
        client: reqwest::Client::new(),
    });
    Router::new().route("/", get(index)).with_state(app)
}

/// `GET /`: the root span of the trace. A SERVER span, as py_zipkin reports the root of a
/// request; Zipkin's dependency graph needs it to draw webapp -> service1.
#[zipkin_span(
    service_name = "webapp",
    span_name = "index",
    kind = "server",
    sample_rate = 100
)]
async fn index(State(app): State<Arc<Webapp>>) -> Response {
    let trace_id = current_context()
        .map(|c| c.trace_id.to_string())
        .unwrap_or_default();
    let called = do_stuff(&app).await;
    tokio::time::sleep(app.config.index_sleep).await;
    let trace = [(TRACE_ID_HEADER, trace_id)];
    match called {
        Ok(()) => (trace, "OK").into_response(),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            trace,
            format!("service1 at {} failed: {e}\n", app.config.service1_url),
        )
            .into_response(),
    }
}

/// Sleeps, then calls service1 with the headers of a new child span, as py_zipkin's
/// `create_http_headers_for_new_span()`. A failed call tags this span `error`.
#[zipkin_span(service_name = "webapp", span_name = "do_stuff", err)]
async fn do_stuff(app: &Webapp) -> Result<(), reqwest::Error> {
    tokio::time::sleep(app.config.do_stuff_sleep).await;
    app.client
        .get(&app.config.service1_url)
        .headers(inject_headers())
        .timeout(Duration::from_secs(60) + app.config.do_stuff_sleep * 2)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}
