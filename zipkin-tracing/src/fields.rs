//! Field values to text: a span's fields as tags (and the fields that name it or set its kind),
//! an event's message and fields as one annotation.

use std::fmt::{self, Write as _};

use tracing_core::field::{Field, Visit};
use zipkin_runtime::__unstable::TagValue;
use zipkin_runtime::{Kind, Span};

use crate::layer::TagFields;

/// The fields that rename a span: ours first, then the OpenTelemetry convention.
pub(crate) const NAME_FIELDS: [&str; 2] = ["zipkin.name", "otel.name"];
/// The fields that set a span's kind.
pub(crate) const KIND_FIELDS: [&str; 2] = ["zipkin.kind", "otel.kind"];
/// The OpenTelemetry status fields: `otel.status_code = "ERROR"` tags `error`, with
/// `otel.status_message` as its text when given.
const STATUS_CODE: &str = "otel.status_code";
const STATUS_MESSAGE: &str = "otel.status_message";

/// Reads a kind from a field value: `server`, `client`, `producer`, `consumer` (any case);
/// anything else is a local span.
pub(crate) fn parse_kind(v: &str) -> Kind {
    if v.eq_ignore_ascii_case("server") {
        Kind::Server
    } else if v.eq_ignore_ascii_case("client") {
        Kind::Client
    } else if v.eq_ignore_ascii_case("producer") {
        Kind::Producer
    } else if v.eq_ignore_ascii_case("consumer") {
        Kind::Consumer
    } else {
        Kind::Local
    }
}

/// Finds the kind among a span's fields before it opens.
#[derive(Default)]
pub(crate) struct KindVisitor(pub(crate) Option<Kind>);

impl Visit for KindVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if KIND_FIELDS.contains(&field.name()) {
            self.0 = Some(parse_kind(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if KIND_FIELDS.contains(&field.name()) {
            // `otel.kind = ?SpanKind::Server` prints `Server`.
            self.0 = Some(parse_kind(&format!("{value:?}")));
        }
    }
}

/// What a span's OpenTelemetry status fields said so far (they may be recorded apart).
#[derive(Default)]
pub(crate) struct Status {
    error: bool,
    message: Option<String>,
}

/// Records a span's fields on its Zipkin span: tags, a new name, `error`.
pub(crate) struct TagVisitor<'a> {
    pub(crate) span: &'a mut Span,
    pub(crate) tags: &'a TagFields,
    status: &'a mut Status,
    status_seen: bool,
}

impl<'a> TagVisitor<'a> {
    pub(crate) fn new(span: &'a mut Span, tags: &'a TagFields, status: &'a mut Status) -> Self {
        TagVisitor {
            span,
            tags,
            status,
            status_seen: false,
        }
    }

    /// Applies what the OpenTelemetry status fields said: `otel.status_code = "ERROR"` tags
    /// `error`, with `otel.status_message` as its text when there is one.
    pub(crate) fn finish(self) {
        if self.status_seen && self.status.error {
            let msg = self.status.message.as_deref().unwrap_or("ERROR");
            self.span.tag_value("error", TagValue::copied(msg));
        }
    }

    /// What a field is to this span, decided from its name before its value is rendered (a
    /// field that is not kept costs no allocation).
    #[inline]
    fn role(&self, name: &str) -> Role {
        if NAME_FIELDS.contains(&name) {
            Role::Name
        } else if KIND_FIELDS.contains(&name) {
            // Read before the span opened (the kind decides how it joins a remote parent).
            Role::Skip
        } else if name == STATUS_CODE {
            Role::StatusCode
        } else if name == STATUS_MESSAGE {
            Role::StatusMessage
        } else if name == "error" || self.tags.allows(name) {
            Role::Tag
        } else {
            Role::Skip
        }
    }

    /// Records a field's value, rendered only if the field is kept: a tag's straight into the
    /// span's tag storage (inline there when short).
    #[inline]
    fn text(&mut self, field: &Field, value: Text<'_>) {
        let name = field.name();
        match self.role(name) {
            Role::Skip => {}
            // Text past the inline 22 bytes goes into a string an earlier span gave back.
            Role::Tag => match value {
                Text::Str(s) => {
                    self.span.tag_str(name, s);
                }
                Text::Fmt(a) => {
                    self.span.tag(name, a);
                }
                other => {
                    self.span.tag_value(name, other.into_tag());
                }
            },
            Role::Name => {
                self.span.set_name(value.into_string());
            }
            Role::StatusCode => {
                self.status.error = value.into_string().eq_ignore_ascii_case("error");
                self.status_seen = true;
            }
            Role::StatusMessage => {
                self.status.message = Some(value.into_string());
                self.status_seen = true;
            }
        }
    }
}

/// A field's value, not rendered yet.
enum Text<'v> {
    Str(&'v str),
    /// Integers, written with `itoa` rather than `core::fmt` (benchmark:
    /// tracing_bridge/zipkin_layer_sampled).
    U64(u64),
    I64(i64),
    Fmt(fmt::Arguments<'v>),
}

impl Text<'_> {
    fn into_string(self) -> String {
        match self {
            Text::Str(s) => s.to_owned(),
            Text::U64(n) => itoa::Buffer::new().format(n).to_owned(),
            Text::I64(n) => itoa::Buffer::new().format(n).to_owned(),
            Text::Fmt(a) => a.to_string(),
        }
    }

    fn into_tag(self) -> TagValue {
        match self {
            Text::Str(s) => TagValue::copied(s),
            Text::U64(n) => TagValue::copied(itoa::Buffer::new().format(n)),
            Text::I64(n) => TagValue::copied(itoa::Buffer::new().format(n)),
            Text::Fmt(a) => TagValue::display(&a),
        }
    }
}

/// What a span field is to its Zipkin span.
enum Role {
    /// A tag.
    Tag,
    /// The span's name.
    Name,
    /// `otel.status_code`.
    StatusCode,
    /// `otel.status_message`.
    StatusMessage,
    /// Not recorded (a kind field, or one [`TagFields`] leaves out).
    Skip,
}

impl Visit for TagVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.text(field, Text::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.text(field, Text::U64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.text(field, Text::Str(if value { "true" } else { "false" }));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.text(field, Text::Fmt(format_args!("{value}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, Text::Str(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, Text::Fmt(format_args!("{value}")));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, Text::Fmt(format_args!("{value:?}")));
    }
}

/// The fields tracing-log gives a `log` record made an event (hyper's and reqwest's lines):
/// where it was logged from, not what happened, and four of them on every such annotation.
const LOG_FIELDS: [&str; 4] = ["log.target", "log.module_path", "log.file", "log.line"];

/// An event as one annotation: its message, then `name=value` for each other field but
/// tracing-log's [`LOG_FIELDS`], and
/// whether it carries an `error` field (whose value becomes the `error` tag).
#[derive(Default)]
pub(crate) struct EventVisitor {
    pub(crate) message: String,
    pub(crate) fields: String,
    pub(crate) error: Option<String>,
}

impl EventVisitor {
    fn push(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = self.message.write_fmt(value);
            return;
        }
        if LOG_FIELDS.contains(&field.name()) {
            return;
        }
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let at = self.fields.len();
        let _ = write!(self.fields, "{}={}", field.name(), value);
        if field.name() == "error" {
            let v = &self.fields[at + "error=".len()..];
            self.error = Some(v.to_owned());
        }
    }

    /// The annotation's text: the message, then the fields.
    pub(crate) fn text(self) -> (String, Option<String>) {
        let text = match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => {
                let mut m = self.message;
                m.push(' ');
                m.push_str(&self.fields);
                m
            }
        };
        (text, self.error)
    }
}

impl Visit for EventVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, format_args!("{value}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format_args!("{value:?}"));
    }
}
