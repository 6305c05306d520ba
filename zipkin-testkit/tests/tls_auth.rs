//! TLS to the collector (rustls, a CA generated at test time and trusted explicitly) and the
//! auth header: it reaches the collector and never shows in `Debug` output.

mod common;

use std::time::Duration;

use common::*;
use zipkin_runtime::transport::http::HttpTransport;
use zipkin_runtime::{SpanGuard, Tracer};
use zipkin_testkit::tls::test_ca;
use zipkin_testkit::{Collector, Mode, Report};

const TOKEN: &str = "Bearer tls-s3cret-token";

fn emit(t: Tracer) {
    t.in_scope(|| {
        let _root = SpanGuard::new("secure");
        drop(SpanGuard::new("child"));
    });
}

#[test]
fn https_to_a_collector_whose_ca_is_trusted_explicitly() {
    let mut r = Report::new("X5 TLS: self-signed CA trusted explicitly");
    let ca = test_ca();
    for host in ["localhost", "127.0.0.1"] {
        let c = Collector::builder(Mode::Accept)
            .tls(ca.server.clone())
            .start();
        let url = if host == "localhost" {
            c.url_localhost()
        } else {
            c.url()
        };
        let t = builder(&url, defaults())
            .tls_root_certificate(&ca.ca_pem)
            .auth_header("Authorization", TOKEN)
            .build()
            .unwrap();
        emit(t);
        let f = t.flush(Duration::from_secs(20));
        r.check(
            &format!("https://{host}: spans sent / accepted"),
            format!("{} / {}", f.sent, c.accepted_spans()),
            f.sent == 2 && c.accepted_spans() == 2,
        );
        let reqs = c.requests();
        r.check(
            &format!("https://{host}: auth header at the collector"),
            reqs.iter()
                .filter(|q| q.header("authorization") == Some(TOKEN))
                .count(),
            !reqs.is_empty()
                && reqs
                    .iter()
                    .all(|q| q.header("authorization") == Some(TOKEN)),
        );
        r.accounting_as(host, &t.metrics());
        check_requests_as(&mut r, host, &c);
        t.shutdown(Duration::from_secs(5));
    }
    r.finish();
}

#[test]
fn an_untrusted_certificate_fails_and_never_falls_back_to_plain_http() {
    let mut r = Report::new("X5 TLS: untrusted certificate");
    let ca = test_ca();
    let c = Collector::builder(Mode::Accept)
        .tls(ca.server.clone())
        .start();
    // No root given: the system roots do not know this CA.
    let t = builder(&c.url_localhost(), defaults())
        .auth_header("Authorization", TOKEN)
        .build()
        .unwrap();
    emit(t);
    t.flush(Duration::from_secs(20));
    let m = t.metrics();
    r.check(
        "dropped transport_error",
        m.dropped_transport_error,
        m.dropped_transport_error == 2,
    );
    r.check(
        "TLS handshakes refused by the client",
        c.tls_failures(),
        c.tls_failures() >= 1,
    );
    r.check(
        "requests read by the collector (plain or TLS)",
        c.request_count(),
        c.request_count() == 0,
    );
    r.accounting(&m);
    t.shutdown(Duration::from_secs(5));

    // http:// to a TLS port is a failed send, not a silent downgrade of anything.
    let t = builder(&c.url().replace("https://", "http://"), defaults())
        .build()
        .unwrap();
    emit(t);
    t.flush(Duration::from_secs(20));
    let m = t.metrics();
    r.check(
        "http:// to a TLS collector: dropped, no request read",
        format!(
            "{} dropped, {} read",
            m.dropped_transport_error,
            c.request_count()
        ),
        m.dropped_transport_error == 2 && c.request_count() == 0,
    );
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn an_invalid_root_certificate_is_a_config_error() {
    for pem in [
        "",
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let e = Tracer::builder()
            .endpoint("https://127.0.0.1:9411")
            .unwrap()
            .tls_root_certificate(pem)
            .build();
        // "AAAA" is valid base64 for a (garbage) DER body: then it is the TLS stack that
        // refuses it when the client is built, on the reporter thread, and sends fail.
        if pem.contains("AAAA") {
            continue;
        }
        let e = e.unwrap_err();
        assert!(e.to_string().contains("expected a PEM bundle"), "{e}");
    }
}

/// Regression: with credentials in the URL, reqwest sent them as basic auth and the configured
/// auth header silently never reached the collector.
#[test]
fn regression_url_credentials_replaced_the_configured_auth_header() {
    let c = Collector::start(Mode::Accept);
    let url = c.url().replace("://", "://user:url-pa55word@");
    let t = builder(&url, defaults())
        .auth_header("Authorization", TOKEN)
        .build()
        .unwrap();
    emit(t);
    assert_eq!(t.flush(Duration::from_secs(20)).sent, 2);
    let reqs = c.requests();
    assert!(!reqs.is_empty());
    for q in reqs {
        assert_eq!(q.header("authorization"), Some(TOKEN));
    }
    // Without an auth header, URL credentials are still sent as basic auth.
    let c = Collector::start(Mode::Accept);
    let t = builder(&c.url().replace("://", "://user:pw@"), defaults())
        .build()
        .unwrap();
    emit(t);
    assert_eq!(t.flush(Duration::from_secs(20)).sent, 2);
    assert!(c.requests()[0]
        .header("authorization")
        .is_some_and(|v| v.starts_with("Basic ")));
}

/// Regression: `Debug` of `Tracer` and `Config` (and endpoint errors) printed the password of
/// a collector URL with credentials.
#[test]
fn regression_debug_of_tracer_and_config_showed_the_url_password() {
    let t = Tracer::builder()
        .service_name("svc")
        .endpoint("https://user:url-pa55word@zipkin.example:9411/api/v2/spans")
        .unwrap()
        .auth_header("Authorization", TOKEN)
        .build()
        .unwrap();
    let shown = format!("{t:?} {:?} {:?}", t.config(), t.config().endpoint());
    for secret in ["url-pa55word", "tls-s3cret-token"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("zipkin.example:9411"), "{shown}");
    let builder = HttpTransport::builder("https://user:url-pa55word@zipkin.example:9411")
        .auth_header("Authorization", TOKEN);
    let transport = builder.clone().build().unwrap();
    // Regression: the builder's derived `Debug` printed the header's value and the URL's
    // password, and `url()` returned the password.
    let shown = format!("{builder:?} {transport:?} {}", transport.url());
    for secret in ["url-pa55word", "tls-s3cret-token"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("Authorization: <redacted>"), "{shown}");
    assert!(
        transport.url().starts_with("https://zipkin.example:9411/"),
        "{shown}"
    );
    let e = HttpTransport::builder("https://user:url-pa55word@")
        .build()
        .unwrap_err();
    assert!(!e.to_string().contains("pa55word"), "{e}");
    t.shutdown(Duration::from_secs(1));
}

/// Regression: an application whose own reqwest has its default TLS (OpenSSL; this crate's
/// dev-dependencies bring it in the same way) had its spans sent through OpenSSL, not the
/// rustls the `tls` feature documents: with both in the build, reqwest picks OpenSSL unless
/// told otherwise. Told apart by how each names a plain-HTTP answer to its hello.
#[test]
fn regression_the_reporter_uses_rustls_beside_the_applications_openssl() {
    use zipkin_runtime::transport::{Message, Transport};
    // A plain HTTP server, as Zipkin is on an `https://` endpoint given by mistake.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in server.incoming().flatten() {
            let _ = conn.read(&mut [0u8; 1024]);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let t = HttpTransport::builder(format!("https://{addr}/api/v2/spans"))
        .build()
        .unwrap();
    let msg = Message {
        body: b"[]".to_vec(),
        spans: 0,
        encoding: zipkin_runtime::Encoding::Json,
    };
    let e = t.send(&msg).unwrap_err().to_string();
    assert!(
        e.contains("InvalidContentType") && !e.contains("SSL routines"),
        "not rustls's error: {e}"
    );
}
