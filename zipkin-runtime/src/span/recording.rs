//! The methods that add to a recording span, written once for both public span types: a type
//! gets them with `recording_methods!(Type)` when it has `fn recording(&mut self) ->
//! Option<&mut LiveSpan>` (its span when sampled). A macro rather than a trait so that users
//! call them without importing anything.

macro_rules! recording_methods {
    ($ty:ident) => {
        impl $ty {
            /// Sets a tag (kept only when the span records; the value is rendered only then).
            pub fn tag(
                &mut self,
                key: impl Into<std::borrow::Cow<'static, str>>,
                value: impl std::fmt::Display,
            ) -> &mut Self {
                if let Some(s) = self.recording() {
                    // Text past the inline 22 bytes goes into a string an earlier span gave
                    // back (benchmark: http_layers/server_layer_sampled).
                    let value =
                        $crate::tag_value::TagValue::display_into(&value, || s.spare_string());
                    s.set_tag(key.into(), value);
                }
                self
            }

            /// Sets the `error` tag to the error's Display text.
            pub fn error(&mut self, err: &dyn std::fmt::Display) -> &mut Self {
                self.tag("error", err)
            }

            /// Adds an annotation at the current time.
            pub fn annotate(
                &mut self,
                value: impl Into<std::borrow::Cow<'static, str>>,
            ) -> &mut Self {
                if let Some(s) = self.recording() {
                    s.annotate($crate::clock::now(), value.into());
                }
                self
            }

            /// Renames the span (kept only when it records): for a name known after it
            /// started, such as a server span's route.
            pub fn set_name(
                &mut self,
                name: impl Into<std::borrow::Cow<'static, str>>,
            ) -> &mut Self {
                if let Some(s) = self.recording() {
                    s.name = name.into();
                }
                self
            }

            /// Sets the other side of a client, server, producer or consumer span (kept only
            /// when it records).
            pub fn set_remote_endpoint(&mut self, endpoint: $crate::record::Endpoint) -> &mut Self {
                if let Some(s) = self.recording() {
                    let tracer = s.cur.tracer;
                    s.extra
                        .get_or_insert_with(|| tracer.new_extra())
                        .remote_endpoint = Some(endpoint);
                }
                self
            }
        }
    };
}

pub(crate) use recording_methods;
