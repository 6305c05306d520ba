//! `ServerLayer` on a tonic server and `ClientLayer` on a tonic `Channel`, through the real
//! Zipkin server: a unary call is one RPC in two halves named `package.Service/Method` with
//! `grpc.status_code`, and an error status tags `error` on both halves.
//!
//! Reads `ZIPKIN_URL` (default http://127.0.0.1:9411). Without a server it prints "skipped:
//! ..." and passes, unless `ZIPKIN_E2E=1` (scripts/test.sh), which makes it a failure.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::ServiceBuilder;
use zipkin_runtime::model::Span as ModelSpan;
use zipkin_runtime::{FutureExt, Span, Tracer};
use zipkin_testkit::zipkin_server;
use zipkin_tower::{ClientLayer, ServerLayer};

/// The request and reply of `demo.Greeter/SayHello`, written by hand (no protoc needed).
#[derive(Clone, PartialEq, prost::Message)]
struct HelloRequest {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HelloReply {
    #[prost(string, tag = "1")]
    message: String,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What tonic's code generator writes for a one-method service.
#[derive(Clone)]
struct Greeter;

impl tonic::server::NamedService for Greeter {
    const NAME: &'static str = "demo.Greeter";
}

struct SayHello;

impl tonic::server::UnaryService<HelloRequest> for SayHello {
    type Response = HelloReply;
    type Future = BoxFuture<Result<tonic::Response<HelloReply>, tonic::Status>>;

    fn call(&mut self, req: tonic::Request<HelloRequest>) -> Self::Future {
        Box::pin(async move {
            let name = req.into_inner().name;
            if name == "nobody" {
                return Err(tonic::Status::not_found("no such person"));
            }
            // A span of the handler: a child of the server span.
            let message = async { format!("hello {name}") }
                .in_new_span("compose")
                .await;
            Ok(tonic::Response::new(HelloReply { message }))
        })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Greeter {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            if req.uri().path() == "/demo.Greeter/SayHello" {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(SayHello, req).await)
            } else {
                Ok(tonic::Status::unimplemented("no such method").into_http())
            }
        })
    }
}

fn tracer() -> Tracer {
    static T: OnceLock<Tracer> = OnceLock::new();
    *T.get_or_init(|| {
        let t = Tracer::builder()
            .service_name("greeter")
            .endpoint(&format!("{}/api/v2/spans", zipkin_server::url()))
            .unwrap()
            .build()
            .unwrap();
        t.set_global();
        t
    })
}

async fn trace(id: &str, n: usize) -> Vec<ModelSpan> {
    tracer().flush(Duration::from_secs(10));
    let spans = zipkin_server::stored_trace(id, n, Duration::from_secs(30)).await;
    assert!(
        spans.len() >= n,
        "trace {id}: wanted {n} spans, Zipkin has {spans:#?}"
    );
    spans
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream_from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(ServerLayer::new())
            .add_service(Greeter)
            .serve_with_incoming(incoming)
            .await
            .unwrap()
    });
    addr
}

/// The listener's connections as the stream tonic takes.
fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl futures_core::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |l| async move {
        let conn = l.accept().await.map(|(s, _)| s);
        Some((conn, l))
    })
}

async fn call(addr: SocketAddr, name: &str) -> (Result<String, tonic::Status>, String) {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    // A tonic client's requests carry only their path: the layer is told its peer.
    let peer = zipkin_runtime::Endpoint {
        service_name: Some("greeter".into()),
        ip: Some(addr.ip()),
        port: addr.port(),
    };
    let svc = ServiceBuilder::new()
        .layer(ClientLayer::new().remote_endpoint(peer))
        .service(channel);
    let mut grpc = tonic::client::Grpc::new(svc);
    let root = Span::builder("caller").start_detached();
    let trace_id = root.context().unwrap().trace_id.to_string();
    let name = name.to_owned();
    let reply = async move {
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::from_static("/demo.Greeter/SayHello");
        grpc.unary(
            tonic::Request::new(HelloRequest { name }),
            path,
            tonic_prost::ProstCodec::default(),
        )
        .await
        .map(|r: tonic::Response<HelloReply>| r.into_inner().message)
    }
    .instrument_in(root)
    .await;
    (reply, trace_id)
}

/// `fut` inside `span`.
trait InstrumentIn: Future + Sized {
    fn instrument_in(self, span: Span) -> zipkin_runtime::Instrumented<Self> {
        span.instrument(self)
    }
}
impl<F: Future> InstrumentIn for F {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_call_and_an_error_status() {
    if !zipkin_server::up("a_unary_call_and_an_error_status").await {
        return;
    }
    tracer();
    let addr = serve().await;

    let (reply, trace_id) = call(addr, "ada").await;
    assert_eq!(reply.unwrap(), "hello ada");
    let spans = trace(&trace_id, 4).await;
    let client = spans
        .iter()
        .find(|s| s.kind.as_deref() == Some("CLIENT"))
        .unwrap();
    let server = spans
        .iter()
        .find(|s| s.kind.as_deref() == Some("SERVER"))
        .unwrap();
    let compose = spans
        .iter()
        .find(|s| s.name.as_deref() == Some("compose"))
        .unwrap();
    assert_eq!(server.id, client.id, "one RPC, two halves");
    // The client's address, from tonic's `TcpConnectInfo` (feature `tonic`, on in a workspace
    // test run through the facade's dev-dependency).
    #[cfg(feature = "tonic")]
    assert_eq!(
        server
            .remote_endpoint
            .as_ref()
            .and_then(|e| e.ipv4.as_deref()),
        Some("127.0.0.1"),
        "{server:?}"
    );
    // The CLIENT span's peer: the address the channel connects to, named as configured.
    let peer = client.remote_endpoint.as_ref();
    assert_eq!(
        (
            peer.and_then(|e| e.service_name.as_deref()),
            peer.and_then(|e| e.ipv4.as_deref()),
            peer.and_then(|e| e.port)
        ),
        (Some("greeter"), Some("127.0.0.1"), Some(addr.port())),
        "{client:?}"
    );
    assert_eq!(compose.parent_id.as_deref(), Some(server.id.as_str()));
    for s in [client, server] {
        assert_eq!(s.name.as_deref(), Some("demo.greeter/sayhello"));
        assert_eq!(
            s.tags.get("grpc.status_code").map(String::as_str),
            Some("OK"),
            "{s:?}"
        );
        assert!(!s.tags.contains_key("error"), "{s:?}");
    }

    let (reply, trace_id) = call(addr, "nobody").await;
    assert_eq!(reply.unwrap_err().code(), tonic::Code::NotFound);
    let spans = trace(&trace_id, 3).await;
    for kind in ["CLIENT", "SERVER"] {
        let s = spans
            .iter()
            .find(|s| s.kind.as_deref() == Some(kind))
            .unwrap();
        assert_eq!(
            s.tags.get("grpc.status_code").map(String::as_str),
            Some("NOT_FOUND"),
            "{s:?}"
        );
        assert_eq!(s.tags.get("error").map(String::as_str), Some("NOT_FOUND"));
    }
}
