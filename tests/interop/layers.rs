//! Brave's HTTP client calling our `tower::ServerLayer`, and our `tower::ClientLayer` (over a
//! hyper-util client) calling Brave's server: the chain protocol with the Rust peer in
//! `PEER_HTTP=layers` mode (examples/peer.rs), so each hop's SERVER span comes from the layer
//! (named `get /chain` from axum's route) and each call's CLIENT span from the client layer.
//! `run_chain` checks every hop's answer (one trace id, the span id sent is the one joined, the
//! caller's B3 form and decision); `check_stored` checks Zipkin's copy (one trace, each SERVER
//! half sharing its caller's CLIENT span id and parent, no orphans, the dependency links).

use super::*;

/// Our spans of a stored chain: the layers' tags, and the CLIENT span's remote endpoint (the
/// port of the hop it called).
fn check_our_spans(chain: &Chain<'_>, spans: &[Span]) {
    let label = chain.label();
    for (i, p) in chain.peers.iter().enumerate() {
        if p.lang != Lang::RustLayers {
            continue;
        }
        for s in spans.iter().filter(|s| s.service() == p.service) {
            let tag = |k: &str| s.tags.get(k).map(String::as_str);
            assert_eq!(tag("http.method"), Some("GET"), "{label}: {s:#?}");
            assert_eq!(tag("http.path"), Some("/chain"), "{label}: {s:#?}");
            assert_eq!(tag("error"), None, "{label}: {s:#?}");
            match s.kind.as_deref() {
                Some("SERVER") => {
                    assert_eq!(tag("http.route"), Some("/chain"), "{label}: {s:#?}");
                }
                Some("CLIENT") => {
                    let next = chain.peers[i + 1].proc.port;
                    let remote = s.remote_endpoint.as_ref().and_then(|e| e.port);
                    assert_eq!(remote, Some(next), "{label}: {s:#?}");
                }
                other => panic!("{label}: a {other:?} span of {}: {s:#?}", p.service),
            }
        }
    }
}

/// Brave -> Rust: Brave's `HttpClientHandler` (multi `X-B3-*`, and Brave's single `b3`) calls
/// an axum service under `ServerLayer`, whose SERVER span joins Brave's CLIENT span id. Once
/// with Brave starting the trace, once continuing a caller's 128-bit trace.
#[tokio::test]
async fn brave_client_calls_our_server_layer() {
    let client = reqwest::Client::new();
    if !ready(&client, "brave_client_calls_our_server_layer").await {
        return;
    }
    let since = now_ms();
    let (java, java_single, ours) = tokio::join!(
        start_peer(&client, Lang::Java, Fmt::Multi),
        start_peer(&client, Lang::Java, Fmt::Single),
        start_peer(&client, Lang::RustLayers, Fmt::Multi),
    );
    for brave in [&java, &java_single] {
        for root in [Root::Fresh, Root::Sampled] {
            let chain = run_chain(&client, &[brave, &ours], root, brave.fmt).await;
            let spans = check_stored(&client, &chain, since).await;
            check_our_spans(&chain, &spans);
        }
    }
}

/// Rust -> Brave: `ClientLayer` over a hyper-util client (multi headers, and the tracer's single
/// `b3`) calls Brave's server, whose SERVER span (`HttpServerHandler`) joins our CLIENT span id.
/// Then both directions in one trace (Brave -> Rust -> Brave, multi into the layers and single out
/// of them), the same chain with debug from upstream, and unsampled: every hop passes
/// `sampled = 0` on, and none of it reaches Zipkin.
#[tokio::test]
async fn our_client_layer_calls_brave_server() {
    let client = reqwest::Client::new();
    if !ready(&client, "our_client_layer_calls_brave_server").await {
        return;
    }
    let since = now_ms();
    let (java, java_last, ours, ours_single) = tokio::join!(
        start_peer(&client, Lang::Java, Fmt::Multi),
        start_peer(&client, Lang::Java, Fmt::Multi),
        start_peer(&client, Lang::RustLayers, Fmt::Multi),
        start_peer(&client, Lang::RustLayers, Fmt::Single),
    );
    for rust in [&ours, &ours_single] {
        for root in [Root::Fresh, Root::Sampled] {
            let chain = run_chain(&client, &[rust, &java], root, rust.fmt).await;
            let spans = check_stored(&client, &chain, since).await;
            check_our_spans(&chain, &spans);
        }
    }
    let both = [&java, &ours_single, &java_last];
    let chain = run_chain(&client, &both, Root::Fresh, Fmt::Multi).await;
    let spans = check_stored(&client, &chain, since).await;
    check_our_spans(&chain, &spans);

    // Debug from upstream: every hop reports, every span carries `debug: true` (check_stored).
    let debug = run_chain(&client, &both, Root::Debug, Fmt::Multi).await;
    let spans = check_stored(&client, &debug, since).await;
    check_our_spans(&debug, &spans);

    let unsampled = run_chain(&client, &both, Root::Unsampled, Fmt::Multi).await;
    let control = run_chain(&client, &both, Root::Sampled, Fmt::Multi).await;
    check_stored(&client, &control, since).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, spans) = trace_now(&client, &unsampled.trace_id).await;
    assert_eq!(
        (status, spans.len()),
        (404, 0),
        "{}: trace {} must not be stored: {spans:#?}",
        unsampled.label(),
        unsampled.trace_id
    );
}
