//! The py_zipkin blog demo in one command: `cargo run --example demo`.
//!
//! It starts `webapp` (port 5000) and `service1` (port 6000) in this process, each with its own
//! tracer and reporter as if it were its own process, sends the post's two requests to the
//! webapp, flushes the spans, and draws each trace as the Zipkin UI would. With a Zipkin server
//! at `ZIPKIN_ENDPOINT` (default `http://localhost:9411/api/v2/spans`) the spans go there, the
//! drawing shows what Zipkin stored, and each trace's UI link is printed. Without one, the spans
//! go to a Zipkin JSON file that the UI's "Upload JSON" button loads.
//!
//! Both services run in this process (not as child processes) so that one `cargo run` builds
//! and runs everything, nothing is left running if the demo is interrupted, and the demo knows
//! when every span has left. They still talk over real HTTP with B3 headers.
//!
//! `--help` lists the settings (ports, sleeps, number of requests, where spans go).

mod shared;

use std::io::IsTerminal;
use std::process::ExitCode;

use shared::runner;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = match runner::Options::from_args(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!(
                "{}",
                shared::config::usage(
                    "demo",
                    "The py_zipkin blog demo: webapp -> service1, traced into Zipkin.",
                    runner::SETTINGS
                )
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::from(2);
        }
    };
    opts.style.color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("demo: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    match rt.block_on(runner::run(&opts, &mut out)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}
