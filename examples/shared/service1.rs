//! `service1`, as `service1.py`: `GET /service1/` continues the caller's trace from its B3
//! headers as the SERVER span `index_service1` and calls its own `do_stuff()`, which sleeps.

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use zipkin_rs::{extract, zipkin_span};

use super::config::{self, Setting, SettingError};

/// service1's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen port (`SERVICE1_PORT`), also the port of its spans' local endpoint.
    pub port: u16,
    /// `do_stuff`'s sleep (`DO_STUFF_SLEEP`).
    pub do_stuff_sleep: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6000,
            do_stuff_sleep: config::DO_STUFF_SLEEP,
        }
    }
}

pub const SETTINGS: &[Setting] = &[
    Setting {
        flag: "--port",
        env: Some("SERVICE1_PORT"),
        help: "listen on 127.0.0.1:<port> (default 6000; 0 picks a free port)",
    },
    Setting {
        flag: "--do-stuff-sleep",
        env: Some("DO_STUFF_SLEEP"),
        help: "seconds do_stuff sleeps (default 0.05; the post: 5)",
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
            do_stuff_sleep: config::seconds(&v, "--do-stuff-sleep", SETTINGS, d.do_stuff_sleep)?,
        }))
    }
}

/// service1's routes.
pub fn router(config: Config) -> Router {
    Router::new()
        .route("/service1/", get(index_service1))
        .with_state(config.do_stuff_sleep)
}

/// `GET /service1/`: continues the caller's trace. As the server half of the call it joins the
/// span id the caller sent (`shared` in Zipkin). Without B3 headers it starts a new trace
/// (service1.py answered 500).
#[zipkin_span(
    service_name = "service1",
    span_name = "index_service1",
    kind = "server",
    parent = extract(&headers)
)]
async fn index_service1(State(sleep): State<Duration>, headers: HeaderMap) -> &'static str {
    do_stuff(sleep).await;
    "OK"
}

#[zipkin_span(service_name = "service1", span_name = "service1_do_stuff")]
async fn do_stuff(sleep: Duration) {
    tokio::time::sleep(sleep).await;
}
