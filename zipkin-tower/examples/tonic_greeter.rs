//! A tonic server and client in one trace: `cargo run -p zipkin-tower --example tonic_greeter`
//! (spans go to `ZIPKIN_ENDPOINT`, default http://localhost:9411/api/v2/spans).
//!
//! The server is `tonic::transport::Server::builder().layer(ServerLayer::new())`; the client a
//! `Channel` under `ClientLayer`. Zipkin shows `caller`, the CLIENT span
//! `demo.greeter/sayhello`, the SERVER span joining it, and the handler's `compose` under it,
//! with `grpc.status_code` on both halves. The service's code is what tonic's generator
//! writes, by hand, so that the example needs no `protoc`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::ServiceBuilder;
use zipkin_runtime::{FutureExt, Span, Tracer};
use zipkin_tower::{ClientLayer, ServerLayer};

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

/// `demo.Greeter`, with one method, `SayHello`.
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
            // The handler's own work: a child of the SERVER span.
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tracer = Tracer::builder()
        .from_env()?
        .service_name("greeter")
        .build()?;
    tracer.set_global();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = futures_util::stream::unfold(listener, |l| async move {
        let conn = l.accept().await.map(|(s, _)| s);
        Some((conn, l))
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(ServerLayer::new())
            .add_service(Greeter)
            .serve_with_incoming(incoming),
    );

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    // The channel's requests carry only their path: the layer is told where they go.
    let peer = zipkin_runtime::Endpoint {
        service_name: Some("greeter".into()),
        ip: Some(addr.ip()),
        port: addr.port(),
    };
    let mut grpc = tonic::client::Grpc::new(
        ServiceBuilder::new()
            .layer(ClientLayer::new().remote_endpoint(peer))
            .service(channel),
    );
    let root = Span::builder("caller").start_detached();
    let trace_id = root.context().map(|c| c.trace_id.to_string());
    let reply = root
        .instrument(async move {
            grpc.ready().await?;
            let path = http::uri::PathAndQuery::from_static("/demo.Greeter/SayHello");
            let request = tonic::Request::new(HelloRequest {
                name: "zipkin".into(),
            });
            let reply: tonic::Response<HelloReply> = grpc
                .unary(request, path, tonic_prost::ProstCodec::default())
                .await?;
            Ok::<_, Box<dyn std::error::Error>>(reply.into_inner().message)
        })
        .await?;
    println!("{reply}; trace {}", trace_id.unwrap_or_default());
    tracer.flush(Duration::from_secs(5));
    Ok(())
}
