//! Settings of the services and the demo: command-line flags first, then the environment
//! variables the Python originals read, then the defaults. The post slept 5 s and 10 s; the
//! defaults are 50 ms and 100 ms, the same 5:10 shape in a hundredth of the time.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// The default `do_stuff` sleep (the post: 5 s).
pub const DO_STUFF_SLEEP: Duration = Duration::from_millis(50);
/// The default sleep of the webapp's `index` after `do_stuff` (the post: 10 s).
pub const INDEX_SLEEP: Duration = Duration::from_millis(100);

/// A setting that could not be read: which one, what it was, what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError(pub String);

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SettingError {}

/// One setting: its flag, the environment variable that also sets it, and its help text.
pub struct Setting {
    pub flag: &'static str,
    pub env: Option<&'static str>,
    pub help: &'static str,
}

/// The values given for `settings`, by flag: from `args` (`--flag value` or `--flag=value`),
/// else from the environment. `Ok(None)` means `--help` was asked for.
pub fn read(
    args: &[String],
    settings: &[Setting],
) -> Result<Option<HashMap<&'static str, String>>, SettingError> {
    let mut values = HashMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let Some(s) = settings.iter().find(|s| s.flag == name) else {
            return Err(SettingError(format!(
                "unknown argument {arg:?}; expected one of: {} (or --help)",
                settings
                    .iter()
                    .map(|s| s.flag)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| SettingError(format!("{name} needs a value")))?,
        };
        values.insert(s.flag, value);
    }
    for s in settings {
        if values.contains_key(s.flag) {
            continue;
        }
        if let Some(v) = s.env.and_then(|e| std::env::var(e).ok()) {
            if !v.trim().is_empty() {
                values.insert(s.flag, v);
            }
        }
    }
    Ok(Some(values))
}

/// The usage text for `settings`.
pub fn usage(program: &str, about: &str, settings: &[Setting]) -> String {
    let mut out = format!("{about}\n\nusage: {program} [options]\n\noptions:\n");
    for s in settings {
        let env = s.env.map(|e| format!(" [env {e}]")).unwrap_or_default();
        out.push_str(&format!(
            "  {:<22} {}{env}\n",
            format!("{} <v>", s.flag),
            s.help
        ));
    }
    out
}

/// Where a value came from, for error messages.
fn origin(flag: &str, settings: &[Setting]) -> String {
    match settings.iter().find(|s| s.flag == flag).and_then(|s| s.env) {
        Some(env) => format!("{flag} (or {env})"),
        None => flag.to_owned(),
    }
}

/// A port, 0 meaning "any free port".
pub fn port(
    values: &HashMap<&'static str, String>,
    flag: &'static str,
    settings: &[Setting],
    default: u16,
) -> Result<u16, SettingError> {
    match values.get(flag) {
        None => Ok(default),
        Some(v) => v.trim().parse::<u16>().map_err(|_| {
            SettingError(format!(
                "{} is {v:?}; expected a port number from 0 to 65535",
                origin(flag, settings)
            ))
        }),
    }
}

/// A duration in seconds (`0.05`, `5`), as the Python demo's sleeps.
pub fn seconds(
    values: &HashMap<&'static str, String>,
    flag: &'static str,
    settings: &[Setting],
    default: Duration,
) -> Result<Duration, SettingError> {
    match values.get(flag) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && (0.0..=3600.0).contains(s))
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                SettingError(format!(
                    "{} is {v:?}; expected seconds from 0 to 3600, such as 0.05",
                    origin(flag, settings)
                ))
            }),
    }
}

/// An `http://` URL.
pub fn url(
    values: &HashMap<&'static str, String>,
    flag: &'static str,
    settings: &[Setting],
    default: &str,
) -> Result<String, SettingError> {
    match values.get(flag) {
        None => Ok(default.to_owned()),
        Some(v) if v.starts_with("http://") || v.starts_with("https://") => Ok(v.trim().to_owned()),
        Some(v) => Err(SettingError(format!(
            "{} is {v:?}; expected an http:// URL",
            origin(flag, settings)
        ))),
    }
}

/// A positive count.
pub fn count(
    values: &HashMap<&'static str, String>,
    flag: &'static str,
    settings: &[Setting],
    default: usize,
) -> Result<usize, SettingError> {
    match values.get(flag) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                SettingError(format!(
                    "{} is {v:?}; expected a number from 1 to 1000",
                    origin(flag, settings)
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &[Setting] = &[
        Setting {
            flag: "--port",
            env: None,
            help: "",
        },
        Setting {
            flag: "--sleep",
            env: None,
            help: "",
        },
    ];

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_in_both_forms() {
        let v = read(&args(&["--port", "5001", "--sleep=0.5"]), S)
            .unwrap()
            .unwrap();
        assert_eq!(port(&v, "--port", S, 1).unwrap(), 5001);
        assert_eq!(
            seconds(&v, "--sleep", S, Duration::ZERO).unwrap(),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        let v = read(&args(&["--port", "http", "--sleep", "-1"]), S)
            .unwrap()
            .unwrap();
        assert!(port(&v, "--port", S, 1)
            .unwrap_err()
            .0
            .contains("expected a port"));
        assert!(seconds(&v, "--sleep", S, Duration::ZERO)
            .unwrap_err()
            .0
            .contains("expected seconds"));
        assert!(read(&args(&["--nope"]), S)
            .unwrap_err()
            .0
            .contains("--port"));
        assert!(read(&args(&["--port"]), S)
            .unwrap_err()
            .0
            .contains("needs a value"));
        assert_eq!(read(&args(&["--help"]), S).unwrap(), None);
    }
}
