//! POSTs messages to a Zipkin collector (`/api/v2/spans`) with reqwest.
//!
//! The transport is only called from the reporter's sender thread. On first use it builds a
//! private current-thread tokio runtime and a reqwest client there, and blocks that thread on
//! each request: it never uses (or needs) the application's runtime, so it works the same with
//! none, inside `#[tokio::main]` of any flavour, or at shutdown of one.
//!
//! Each request: `Content-Type` of the encoding, optional `Content-Encoding: gzip`, `b3: 0` (so
//! an instrumented proxy in front of the collector does not trace our export, as the B3 spec
//! recommends), and the configured auth header (marked sensitive; never logged or shown by
//! `Debug`). Connect and whole-request timeouts apply; redirects are not followed; no system
//! proxy is used; at most [`MAX_RESPONSE_BYTES`] of a response body are read. The
//! `Retry-After` of a 429 or 503 answer is read ([`parse_retry_after`]) and returned in the
//! error, for the reporter to wait at least that long (see [`crate::ReporterConfig`]).
//!
//! HTTPS (the `tls` feature, on by default) uses rustls with the system's root certificates,
//! plus any root given with [`HttpTransportBuilder::tls_root_certificate`] (a private CA or a
//! self-signed collector). A TLS failure is a failed send (counted); it never falls back to
//! plain HTTP. Without the `tls` feature, an `https://` URL or a root certificate is refused
//! when the transport is built.

use std::fmt;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER,
};

use crate::encode::Encoding;
use crate::error::{ConfigError, Setting, TransportError};
use crate::transport::{Message, Transport};

/// The most bytes of a collector's response body read (Zipkin answers 202 with none; a 4xx
/// carries a short text).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The path Zipkin collects v2 spans on, appended to a URL given without a path.
pub const SPANS_PATH: &str = "/api/v2/spans";

/// Sends messages to a Zipkin collector over HTTP(S).
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use std::time::Duration;
/// use zipkin_rs::Encoding;
/// use zipkin_rs::transport::http::HttpTransport;
/// let t = HttpTransport::builder("http://127.0.0.1:9411")
///     .encoding(Encoding::Proto)
///     .gzip(true)
///     .auth_header("Authorization", "Bearer s3cret")
///     .timeouts(Duration::from_secs(1), Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert_eq!(t.url(), "http://127.0.0.1:9411/api/v2/spans");
/// assert!(!format!("{t:?}").contains("s3cret"));
/// ```
pub struct HttpTransport {
    url: reqwest::Url,
    encoding: Encoding,
    gzip: bool,
    headers: HeaderMap,
    connect_timeout: Duration,
    request_timeout: Duration,
    #[cfg(feature = "tls")]
    root_certificates: Vec<reqwest::Certificate>,
    /// Built on first send, on the sender thread.
    client: Mutex<Option<Client>>,
}

struct Client {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &redact(&self.url))
            .field("encoding", &self.encoding)
            .field("gzip", &self.gzip)
            .field("headers", &self.headers) // sensitive values print as "Sensitive"
            .finish()
    }
}

/// How much of an error answer's body goes into its message.
const SAID_BYTES: usize = 200;

/// `POST <url>` and the start of the answer's body, one line of printable text; `cut`: the
/// body went on past `body_start`.
fn said(url: &reqwest::Url, body_start: &[u8], cut: bool) -> String {
    // A character split by the cut is left out, not shown as U+FFFD.
    let whole = match std::str::from_utf8(body_start) {
        Err(e) if cut && e.error_len().is_none() => &body_start[..e.valid_up_to()],
        _ => body_start,
    };
    let text: String = String::from_utf8_lossy(whole)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.trim();
    let more = if cut { "…" } else { "" };
    if text.is_empty() {
        format!("POST {}", redact(url))
    } else {
        format!("POST {}: {text:?}{more}", redact(url))
    }
}

/// A URL without user, password and query values, for messages.
fn redact(url: &reqwest::Url) -> String {
    crate::transport::redact_url(url.as_str())
}

/// Builds an [`HttpTransport`].
#[derive(Clone)]
pub struct HttpTransportBuilder {
    url: String,
    encoding: Encoding,
    gzip: bool,
    auth: Option<(String, String)>,
    connect_timeout: Duration,
    request_timeout: Duration,
    root_pems: Vec<Vec<u8>>,
}

impl fmt::Debug for HttpTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransportBuilder")
            .field("url", &crate::transport::redact_url(&self.url))
            .field("encoding", &self.encoding)
            .field("gzip", &self.gzip)
            .field(
                "auth_header",
                &self
                    .auth
                    .as_ref()
                    .map(|(name, _)| format!("{name}: <redacted>")),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("tls_root_certificates", &self.root_pems.len())
            .finish()
    }
}

impl HttpTransportBuilder {
    /// JSON (default) or proto3.
    pub fn encoding(mut self, e: Encoding) -> Self {
        self.encoding = e;
        self
    }

    /// Gzip request bodies.
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// A header sent with every request, such as `Authorization`. Its value is never logged.
    /// It replaces credentials given in the URL (`https://user:password@host`), which are
    /// otherwise sent as basic authentication.
    pub fn auth_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.auth = Some((name.into(), value.into()));
        self
    }

    /// Connect timeout and whole-request timeout.
    pub fn timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    /// Also trusts the certificates of this PEM bundle as roots for HTTPS (for a collector
    /// behind a private CA or with a self-signed certificate). The system's roots stay trusted.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::transport::http::HttpTransport;
    /// let err = HttpTransport::builder("https://zipkin.internal:9411")
    ///     .tls_root_certificate("not a certificate")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("PEM"));
    /// ```
    pub fn tls_root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_pems.push(pem.as_ref().to_vec());
        self
    }

    /// Checks the URL, header and certificates; no connection is made.
    pub fn build(self) -> Result<HttpTransport, ConfigError> {
        let invalid = || {
            ConfigError::new(
                Setting::Code("HttpTransport::builder"),
                crate::transport::redact_url(&self.url),
                "an http:// or https:// URL with a host, such as http://zipkin:9411",
            )
        };
        let mut url = reqwest::Url::parse(self.url.trim()).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid());
        }
        if self.auth.is_some() {
            // reqwest turns URL credentials into an Authorization header that replaces the
            // configured one; the header that was configured explicitly wins.
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        if url.path().is_empty() || url.path() == "/" {
            url.set_path(SPANS_PATH);
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(self.encoding.content_type()),
        );
        headers.insert(HeaderName::from_static("b3"), HeaderValue::from_static("0"));
        if self.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if let Some((name, value)) = self.auth {
            let setting = Setting::Code("HttpTransportBuilder::auth_header");
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                ConfigError::new(
                    setting,
                    name.clone(),
                    "an HTTP header name such as \"Authorization\"",
                )
            })?;
            let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
                ConfigError::new(
                    setting,
                    format!("{name}: <redacted>"),
                    "a header value of visible ASCII without line breaks",
                )
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        #[cfg(feature = "tls")]
        let root_certificates = root_certificates(&self.root_pems)?;
        #[cfg(not(feature = "tls"))]
        if url.scheme() == "https" || !self.root_pems.is_empty() {
            return Err(ConfigError::new(
                Setting::Code("HttpTransport::builder"),
                crate::transport::redact_url(&self.url),
                "an http:// URL and no root certificate: this build has no TLS (the `tls` \
                 feature of zipkin-runtime is off)",
            ));
        }
        Ok(HttpTransport {
            url,
            encoding: self.encoding,
            gzip: self.gzip,
            headers,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            #[cfg(feature = "tls")]
            root_certificates,
            client: Mutex::new(None),
        })
    }
}

/// The root certificates of PEM bundles, each of which must hold at least one.
#[cfg(feature = "tls")]
fn root_certificates(pems: &[Vec<u8>]) -> Result<Vec<reqwest::Certificate>, ConfigError> {
    let mut roots = Vec::new();
    for pem in pems {
        match reqwest::Certificate::from_pem_bundle(pem) {
            Ok(certs) if !certs.is_empty() => roots.extend(certs),
            _ => {
                return Err(ConfigError::new(
                    Setting::Code("HttpTransportBuilder::tls_root_certificate"),
                    format!("<{} bytes>", pem.len()),
                    "a PEM bundle with at least one \"-----BEGIN CERTIFICATE-----\" block",
                ))
            }
        }
    }
    Ok(roots)
}

impl HttpTransport {
    /// A builder for the collector at `url` (`http(s)://host:port[/path]`; a URL without a
    /// path gets `/api/v2/spans`).
    pub fn builder(url: impl Into<String>) -> HttpTransportBuilder {
        HttpTransportBuilder {
            url: url.into(),
            encoding: Encoding::Json,
            gzip: false,
            auth: None,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            root_pems: Vec::new(),
        }
    }

    /// The URL spans are posted to, without the user and password it may carry (those are
    /// sent as basic authentication, and never shown).
    pub fn url(&self) -> String {
        redact(&self.url)
    }

    fn client(&self) -> Result<std::sync::MutexGuard<'_, Option<Client>>, TransportError> {
        let mut guard = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| TransportError::Io(format!("cannot start the HTTP runtime: {e}")))?;
            let http = reqwest::Client::builder();
            #[cfg(feature = "tls")]
            let http = {
                // rustls, as documented, even when the application's own reqwest brings in its
                // default TLS (OpenSSL): with both in the build, reqwest picks OpenSSL.
                let http = http.use_rustls_tls();
                // The system's root store is read (hundreds of files) only when it can be used.
                let mut http = http.tls_built_in_root_certs(self.url.scheme() == "https");
                for cert in &self.root_certificates {
                    http = http.add_root_certificate(cert.clone());
                }
                http
            };
            let http = http
                .connect_timeout(self.connect_timeout)
                .timeout(self.request_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .default_headers(self.headers.clone())
                .build()
                .map_err(|e| TransportError::Io(describe(e)))?;
            *guard = Some(Client { runtime, http });
        }
        Ok(guard)
    }
}

/// An error and its causes on one line, without the URL (which may hold credentials).
fn describe(e: reqwest::Error) -> String {
    crate::error::ErrorChain(&e.without_url()).to_string()
}

/// The wait a `Retry-After` value asks for (RFC 9110 §10.2.3), as of `now`: delay-seconds
/// (`1*DIGIT`; too many to count reads as the most a `Duration` holds) or an HTTP-date in any
/// of its three forms (a date already past asks for no wait). `None` for anything else: a
/// value that cannot be read is treated as if it were absent.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use zipkin_rs::transport::http::parse_retry_after;
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_767); // Sun, 06 Nov 1994 08:49:27 GMT
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// let date = "Sun, 06 Nov 1994 08:49:37 GMT";
/// assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// assert_eq!(parse_retry_after("-1", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits: the sole failure left is overflow.
        return Some(Duration::from_secs(v.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The response's `Retry-After`, if it has exactly one readable value (repeats of the same value
/// count as one; differing values are as unreadable as a garbled one).
fn retry_after_of(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let mut values = headers.get_all(RETRY_AFTER).iter();
    let first = values.next()?;
    if values.any(|v| v != first) {
        return None;
    }
    parse_retry_after(first.to_str().ok()?, now)
}

fn gzip(body: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(body)
        .and_then(|_| enc.finish())
        .map_err(|e| TransportError::Io(format!("gzip failed: {e}")))
}

impl Transport for HttpTransport {
    fn encoding(&self) -> Encoding {
        self.encoding
    }

    fn send(&self, msg: &Message) -> Result<(), TransportError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking here would stall the caller's runtime; the reporter never does this.
            return Err(TransportError::Io(
                "HttpTransport::send was called inside an async runtime; it runs on the reporter thread".into(),
            ));
        }
        let body = if self.gzip {
            gzip(&msg.body)?
        } else {
            msg.body.clone()
        };
        let guard = self.client()?;
        let Some(client) = guard.as_ref() else {
            return Err(TransportError::Closed);
        };
        client.runtime.block_on(async {
            let mut resp = client
                .http
                .post(self.url.clone())
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    // reqwest says "timed out" without the bound it ran into.
                    let bound = match (e.is_timeout(), e.is_connect()) {
                        (true, true) => Some(("connect", self.connect_timeout)),
                        (true, false) => Some(("request", self.request_timeout)),
                        _ => None,
                    };
                    let mut why = describe(e);
                    if let Some((which, t)) = bound {
                        why.push_str(&format!(" (the {which} timeout is {t:?})"));
                    }
                    TransportError::Io(why)
                })?;
            let status = resp.status();
            let retry_after = if matches!(status.as_u16(), 429 | 503) {
                retry_after_of(resp.headers(), SystemTime::now())
            } else {
                None
            };
            // Read (and discard) at most the cap, so a hostile or broken endpoint cannot make
            // us buffer or wait for an endless body; the connection is dropped if more follows.
            let mut read = 0usize;
            // The start of an error's body, which says why (Zipkin names the format it wanted).
            let mut start = Vec::new();
            while read <= MAX_RESPONSE_BYTES {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        read += c.len();
                        if !status.is_success() && start.len() < SAID_BYTES {
                            let room = SAID_BYTES - start.len();
                            start.extend_from_slice(&c[..c.len().min(room)]);
                        }
                    }
                    Ok(None) => break,
                    // The status is what counts; a broken body after it does not.
                    Err(_) => break,
                }
            }
            if status.is_success() {
                Ok(())
            } else {
                Err(TransportError::Status {
                    status: status.as_u16(),
                    retry_after,
                    said: Some(said(&self.url, &start, read > start.len())),
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// Sun, 06 Nov 1994 08:49:27 GMT: ten seconds before the RFC's example date.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(784_111_767)
    }

    /// A collector that takes the connection and never answers: the error says it timed out
    /// and after how long, not only reqwest's "operation timed out".
    #[test]
    fn a_hung_collector_is_a_timeout_with_its_bound() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/v2/spans", l.local_addr().unwrap());
        let t = HttpTransport::builder(url)
            .timeouts(Duration::from_secs(1), Duration::from_millis(200))
            .build()
            .unwrap();
        let msg = Message {
            body: b"[]".to_vec(),
            spans: 0,
            encoding: crate::encode::Encoding::Json,
        };
        let e = t.send(&msg).unwrap_err().to_string();
        assert!(e.ends_with("(the request timeout is 200ms)"), "{e}");
        drop(l);
    }

    #[test]
    fn retry_after_reads_delay_seconds_and_all_three_date_forms() {
        let ten = Some(Duration::from_secs(10));
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(" 7 ", now()),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now()),
            ten
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now()),
            ten
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now()), ten);
        // A date already past: no wait, but the collector did say.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        // More seconds than a u64 holds: as long as can be, not "not given".
        assert_eq!(
            parse_retry_after("99999999999999999999999", now()),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn unreadable_retry_after_is_not_given() {
        for v in [
            "",
            "  ",
            "-1",
            "+5",
            "1.5",
            "5s",
            "soon",
            "0x10",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Mon, 06 Nov 1994 08:49:37 GMT", // wrong weekday
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "٣",
        ] {
            assert_eq!(parse_retry_after(v, now()), None, "{v:?}");
        }
    }

    #[test]
    fn retry_after_header_needs_one_value() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after_of(&h, now()), None);
        h.append(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after_of(&h, now()), Some(Duration::from_secs(3)));
        h.append(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after_of(&h, now()), Some(Duration::from_secs(3)));
        h.append(RETRY_AFTER, HeaderValue::from_static("60"));
        assert_eq!(retry_after_of(&h, now()), None, "values disagree");
        let mut h = HeaderMap::new();
        h.append(RETRY_AFTER, HeaderValue::from_bytes(b"\xff5").unwrap());
        assert_eq!(retry_after_of(&h, now()), None);
    }
}
