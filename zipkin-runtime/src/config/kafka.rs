//! `kafka://host:port[,host:port...][/topic][?acks=...&compression=...&max_in_flight=...]`, the Kafka endpoint of
//! `ZIPKIN_ENDPOINT` and `TracerBuilder::endpoint`. Parsed in every build, so that a build
//! without the `kafka` feature names the feature instead of calling the URL unknown.

use crate::error::{ConfigError, Setting};
use crate::transport::kafka_names::{valid_broker, valid_topic};

/// The topic when the endpoint names none (Zipkin's collector's default).
const DEFAULT_TOPIC: &str = "zipkin";

/// What a Kafka endpoint accepts, for errors.
pub(crate) const KAFKA_EXPECTED: &str = "kafka://host:port[,host:port...][/topic] with an \
     optional ?acks=0|1|all, &compression=none|gzip and &max_in_flight=1..100 (the topic \
     defaults to zipkin)";

/// A parsed Kafka endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KafkaEndpoint {
    /// Bootstrap brokers, `host:port` each.
    pub(crate) bootstrap: Vec<String>,
    pub(crate) topic: String,
    /// `acks` as Kafka codes it (0, 1, -1); 1 unless the endpoint says.
    pub(crate) acks: i16,
    /// `Some(true)`: gzip records; `None`: as `ZIPKIN_GZIP` / `TracerBuilder::gzip` say.
    pub(crate) gzip: Option<bool>,
    /// Produce requests in flight at once; `None`: the transport's default.
    pub(crate) max_in_flight: Option<usize>,
}

impl std::fmt::Display for KafkaEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kafka://{}/{}", self.bootstrap.join(","), self.topic)?;
        let mut sep = '?';
        if self.acks != 1 {
            let acks = if self.acks == -1 {
                "all".to_owned()
            } else {
                self.acks.to_string()
            };
            write!(f, "{sep}acks={acks}")?;
            sep = '&';
        }
        if let Some(g) = self.gzip {
            write!(f, "{sep}compression={}", if g { "gzip" } else { "none" })?;
            sep = '&';
        }
        if let Some(n) = self.max_in_flight {
            write!(f, "{sep}max_in_flight={n}")?;
        }
        Ok(())
    }
}

/// Parses the part after `kafka://`; `original` is the whole value, for errors.
pub(crate) fn parse(
    rest: &str,
    original: &str,
    setting: Setting,
) -> Result<KafkaEndpoint, ConfigError> {
    let err =
        |why: String| ConfigError::new(setting, original.to_owned(), KAFKA_EXPECTED).because(why);
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (hosts, topic) = match main.split_once('/') {
        Some((h, t)) => (h, t.trim_end_matches('/')),
        None => (main, ""),
    };
    let topic = if topic.is_empty() {
        DEFAULT_TOPIC
    } else {
        topic
    };
    if !valid_topic(topic) {
        return Err(err(format!(
            "{topic:?} is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)"
        )));
    }
    let mut bootstrap = Vec::new();
    for b in hosts.split(',') {
        let b = b.trim();
        if !valid_broker(b) {
            return Err(err(format!("{b:?} is not a broker as host:port")));
        }
        bootstrap.push(b.to_owned());
    }
    let mut acks = 1;
    let mut gzip = None;
    let mut max_in_flight = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("acks", v)) => {
                acks = match v {
                    "0" => 0,
                    "1" => 1,
                    "all" | "-1" => -1,
                    _ => return Err(err(format!("acks={v:?} is not 0, 1 or all"))),
                }
            }
            Some(("compression", v)) => {
                gzip = match v {
                    "none" => Some(false),
                    "gzip" => Some(true),
                    _ => return Err(err(format!("compression={v:?} is not none or gzip"))),
                }
            }
            Some(("max_in_flight", v)) => match v.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => max_in_flight = Some(n),
                _ => return Err(err(format!("max_in_flight={v:?} is not from 1 to 100"))),
            },
            _ => {
                return Err(err(format!(
                    "{pair:?} is not acks=..., compression=... or max_in_flight=..."
                )))
            }
        }
    }
    Ok(KafkaEndpoint {
        bootstrap,
        topic: topic.to_owned(),
        acks,
        gzip,
        max_in_flight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: Setting = Setting::Env("ZIPKIN_ENDPOINT");

    fn ok(s: &str) -> KafkaEndpoint {
        let rest = s.strip_prefix("kafka://").unwrap();
        parse(rest, s, ENV).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn endpoints_parse_with_their_defaults() {
        let e = ok("kafka://127.0.0.1:9092");
        assert_eq!(
            (e.bootstrap.clone(), e.topic.as_str(), e.acks, e.gzip),
            (vec!["127.0.0.1:9092".to_owned()], "zipkin", 1, None)
        );
        assert_eq!(e.to_string(), "kafka://127.0.0.1:9092/zipkin");
        assert_eq!(e.max_in_flight, None);
        let e = ok("kafka://h:1/t?max_in_flight=1&acks=0");
        assert_eq!((e.max_in_flight, e.acks), (Some(1), 0));
        assert_eq!(e.to_string(), "kafka://h:1/t?acks=0&max_in_flight=1");
        let e = ok("kafka://a:1,b:2/spans?acks=all&compression=gzip");
        assert_eq!(e.bootstrap, ["a:1", "b:2"]);
        assert_eq!(
            (e.topic.as_str(), e.acks, e.gzip),
            ("spans", -1, Some(true))
        );
        assert_eq!(
            e.to_string(),
            "kafka://a:1,b:2/spans?acks=all&compression=gzip"
        );
        assert_eq!(ok("kafka://h:1/").topic, "zipkin");
        assert_eq!(ok("kafka://h:1/t?acks=0").acks, 0);
    }

    #[test]
    fn errors_name_the_variable_the_value_and_what_is_wrong() {
        for (bad, why) in [
            ("kafka://", "is not a broker"),
            ("kafka:///zipkin", "is not a broker"),
            ("kafka://host/zipkin", "\"host\" is not a broker"),
            ("kafka://h:1,,h:2/zipkin", "\"\" is not a broker"),
            ("kafka://h:notaport", "is not a broker"),
            ("kafka://h:1/bad topic", "is not a Kafka topic"),
            ("kafka://h:1/a/b", "is not a Kafka topic"),
            ("kafka://h:1/t?acks=2", "acks=\"2\""),
            ("kafka://h:1/t?compression=lz4", "compression=\"lz4\""),
            ("kafka://h:1/t?linger=5", "\"linger=5\""),
            ("kafka://h:1/t?max_in_flight=0", "max_in_flight=\"0\""),
            ("kafka://h:1/t?max_in_flight=x", "max_in_flight=\"x\""),
        ] {
            let e = parse(bad.strip_prefix("kafka://").unwrap(), bad, ENV).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("ZIPKIN_ENDPOINT"), "{text}");
            assert!(text.contains(why), "{bad}: {text}");
            assert!(text.contains("kafka://host:port"), "{text}");
        }
    }
}
