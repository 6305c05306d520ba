//! The py_zipkin blog demo's `service1` (service1.py) in Rust: an axum server on
//! 127.0.0.1:6000 whose `GET /service1/` continues the caller's trace from its B3 headers as the
//! SERVER span `index_service1` and calls `do_stuff()`, which sleeps.
//!
//! Settings: `--port` / `SERVICE1_PORT`, `--do-stuff-sleep` / `DO_STUFF_SLEEP` (seconds), and the
//! `ZIPKIN_*` variables.

mod shared;

use std::process::ExitCode;

use shared::service1;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match service1::Config::from_args(&args) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!(
                "{}",
                shared::config::usage("service1", "The blog demo's service1.", service1::SETTINGS)
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("service1: {e}");
            return ExitCode::from(2);
        }
    };
    shared::serve::main("service1", config.port, |port| {
        service1::router(service1::Config { port, ..config })
    })
}
