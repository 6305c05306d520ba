//! What a configuration's collector endpoint needs from the crate's features. Runs with the
//! default features in `cargo test`, and without `http`, without `tls`, and with `kafka` alone in
//! scripts/test.sh:
//! an endpoint the build cannot reach is refused when the tracer is built, with the feature
//! to turn on, never accepted and then silently dropped.

use zipkin_runtime::Tracer;

fn build(endpoint: &str) -> Result<Tracer, String> {
    Tracer::builder()
        .endpoint(endpoint)
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())
}

#[test]
fn an_http_endpoint_needs_the_http_feature() {
    let got = build("http://127.0.0.1:9411");
    if cfg!(feature = "http") {
        assert!(got.is_ok(), "{got:?}");
    } else {
        let e = got.unwrap_err();
        assert!(e.contains("the `http` feature"), "{e}");
        assert!(e.contains("http://127.0.0.1:9411"), "{e}");
    }
}

#[test]
fn an_https_endpoint_needs_the_tls_feature() {
    let got = build("https://user:secret@zipkin.example:9411");
    if cfg!(feature = "tls") {
        assert!(got.is_ok(), "{got:?}");
    } else {
        let e = got.unwrap_err();
        let feature = if cfg!(feature = "http") {
            "tls"
        } else {
            "http"
        };
        assert!(e.contains(&format!("the `{feature}` feature")), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }
}

#[test]
fn a_root_certificate_needs_the_tls_feature() {
    let got = Tracer::builder()
        .endpoint("http://127.0.0.1:9411")
        .map(|b| b.tls_root_certificate("not a certificate"))
        .and_then(|b| b.build())
        .map_err(|e| e.to_string());
    let e = got.unwrap_err();
    if cfg!(feature = "tls") {
        assert!(e.contains("PEM"), "{e}");
    } else if cfg!(feature = "http") {
        assert!(e.contains("the `tls` feature"), "{e}");
    } else {
        assert!(e.contains("the `http` feature"), "{e}");
    }
}

#[test]
fn file_stdout_and_none_need_no_feature() {
    let dir = std::env::temp_dir().join(format!("zipkin-features-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = format!("file:{}", dir.join("spans.json").display());
    for endpoint in [file.as_str(), "stdout", "none"] {
        assert!(build(endpoint).is_ok(), "{endpoint}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_kafka_endpoint_needs_the_kafka_feature() {
    let got = build("kafka://127.0.0.1:9092,127.0.0.1:9093/spans?acks=all");
    if cfg!(feature = "kafka") {
        // Nothing connects before the first message: building needs no broker.
        let t = got.unwrap();
        assert_eq!(
            t.config().endpoint(),
            "kafka://127.0.0.1:9092,127.0.0.1:9093/spans?acks=all"
        );
    } else {
        let e = got.unwrap_err();
        assert!(e.contains("the `kafka` feature"), "{e}");
        // The value as given (it was shown normalised, `?acks=all` gone), and a list of what
        // this build takes, without Kafka.
        assert!(
            e.contains("\"kafka://127.0.0.1:9092,127.0.0.1:9093/spans?acks=all\""),
            "{e}"
        );
        assert!(!e.contains("kafka://host:port"), "{e}");
    }
}

/// A URL's scheme is case-insensitive (RFC 3986): `HTTP://` was refused with a list that
/// named only lower-case schemes.
#[test]
fn a_scheme_in_capitals_is_the_same_scheme() {
    let got = build("HTTP://127.0.0.1:9411/api/v2/spans");
    if cfg!(feature = "http") {
        assert!(got.is_ok(), "{got:?}");
    } else {
        let e = got.unwrap_err();
        assert!(e.contains("the `http` feature"), "{e}");
        assert!(!e.contains("http:// or https://"), "{e}");
    }
    let got = build("Kafka://127.0.0.1:9092");
    if cfg!(feature = "kafka") {
        assert!(got.is_ok(), "{got:?}");
    } else {
        assert!(got.unwrap_err().contains("the `kafka` feature"));
    }
}
