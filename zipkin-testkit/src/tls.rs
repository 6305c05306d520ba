//! A throw-away certificate authority and a server certificate for `localhost` and 127.0.0.1,
//! generated at test time with rcgen, and the rustls server configuration that presents it.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

/// A CA (whose PEM a client must trust explicitly) and a server configuration signed by it.
pub struct TestCa {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// A rustls server configuration presenting a `localhost`/127.0.0.1 certificate.
    pub server: Arc<rustls::ServerConfig>,
}

/// Generates a fresh CA and server certificate.
pub fn test_ca() -> TestCa {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "zipkin-testkit CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA");

    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).expect("leaf params");
    leaf.subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let cert = leaf.signed_by(&leaf_key, &ca).expect("leaf certificate");

    let chain = vec![cert.der().clone(), ca.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    TestCa {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}
