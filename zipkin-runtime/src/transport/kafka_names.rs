//! The names a Kafka endpoint holds, checked the same way by the `kafka://` parser (in every
//! build) and by the Kafka transport's builder.

/// `host:port` with a non-empty host and a port number (an IPv6 host in brackets).
pub(crate) fn valid_broker(b: &str) -> bool {
    match b.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(['/', '?', '#', ',', ' ', '@'])
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

/// A topic name Kafka accepts: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`.
pub(crate) fn valid_topic(t: &str) -> bool {
    (1..=249).contains(&t.len())
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_and_topics_are_checked() {
        assert!(valid_broker("127.0.0.1:9092"));
        assert!(valid_broker("kafka-1.internal:19092"));
        assert!(valid_broker("[::1]:9092"));
        for bad in [
            "",
            "host",
            ":9092",
            "host:",
            "host:0",
            "host:99999",
            "a/b:1",
            "h:p",
        ] {
            assert!(!valid_broker(bad), "{bad}");
        }
        assert!(valid_topic("zipkin"));
        assert!(valid_topic("zipkin.spans_v2-prod"));
        for bad in ["", ".", "..", "a b", "a/b", &"x".repeat(250)] {
            assert!(!valid_topic(bad), "{bad}");
        }
    }
}
