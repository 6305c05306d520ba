//! The py_zipkin blog demo's `webapp` (demo.py) in Rust: an axum server on 127.0.0.1:5000 whose
//! `GET /` opens the root span `index`, calls `do_stuff()` (which sleeps, then calls service1
//! with `inject_headers()`), sleeps again and answers "OK".
//!
//! ```sh
//! cargo run --example service1 &    # on 6000
//! cargo run --example webapp &      # on 5000
//! curl localhost:5000/              # spans go to ZIPKIN_ENDPOINT (default localhost:9411)
//! ```
//!
//! Settings: `--port` / `DEMO_PORT`, `--service1-url` / `SERVICE1_URL`, `--do-stuff-sleep` /
//! `DO_STUFF_SLEEP`, `--index-sleep` / `INDEX_SLEEP` (seconds), and the `ZIPKIN_*` variables.

mod shared;

use std::process::ExitCode;

use shared::webapp;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match webapp::Config::from_args(&args) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!(
                "{}",
                shared::config::usage("webapp", "The blog demo's webapp.", webapp::SETTINGS)
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("webapp: {e}");
            return ExitCode::from(2);
        }
    };
    shared::serve::main("webapp", config.port, |port| {
        webapp::router(webapp::Config { port, ..config })
    })
}
