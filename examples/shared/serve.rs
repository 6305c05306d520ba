//! Running a service: alone in its process (the `webapp` and `service1` examples) or beside the
//! other one in the demo's process, each with its own tracer.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::thread::JoinHandle;

use axum::Router;
use tokio::sync::oneshot;
use zipkin_rs::Tracer;

/// Listens on 127.0.0.1:`port` (0: a free port).
pub fn bind(port: u16) -> std::io::Result<TcpListener> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Runs one service in this process until Ctrl-C or SIGTERM: the `webapp` and `service1`
/// examples. Its tracer is the global one, configured by the `ZIPKIN_*` environment (spans go
/// to `http://localhost:9411/api/v2/spans` unless `ZIPKIN_ENDPOINT` says otherwise), with the
/// service's name and listening port.
pub fn main(service: &'static str, port: u16, router: impl FnOnce(u16) -> Router) -> ExitCode {
    let listener = match bind(port) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{service}: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    let tracer = Tracer::builder()
        .from_env()
        .map(|b| b.service_name(service).port(port))
        .and_then(|b| b.install());
    let _zipkin = match tracer {
        Ok(guard) => guard, // flushes the spans when main returns
        Err(e) => {
            eprintln!("{service}: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{service}: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        println!(
            "{service} listening on http://127.0.0.1:{port}/ (spans to {})",
            _zipkin.tracer().config().endpoint()
        );
        axum::serve(listener, router(port))
            .with_graceful_shutdown(stop_signal())
            .await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{service}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A service running on its own thread of this process.
pub struct Running {
    pub service: &'static str,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

/// Runs `router` on `listener` on a new thread with a single-threaded tokio runtime, whose
/// tasks all run on that thread; `tracer` is that thread's default, so the spans of this
/// service go through its own tracer and reporter, as if it were a process of its own.
pub fn spawn(
    service: &'static str,
    listener: TcpListener,
    tracer: Tracer,
    router: Router,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(service.into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let _default = tracer.set_default();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
            })
        })?;
    Ok(Running {
        service,
        addr,
        stop: Some(tx),
        thread: Some(thread),
    })
}

impl Running {
    /// Stops accepting, lets requests in flight finish, and waits for the thread.
    pub fn stop(mut self) -> Result<(), String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), String> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(format!("{} failed: {e}", self.service)),
            Some(Err(_)) => Err(format!("{} panicked", self.service)),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}
