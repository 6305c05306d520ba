//! Every option, in every accepted form.
#![deny(warnings)]

use zipkin_rs::{RemoteContext, SpanContext};

#[zipkin_rs::zipkin_span(
    service_name = "webapp",
    span_name = "index",
    kind = "server",
    tags("http.path" = path, user = user_id, "static" = "x", "computed" = path.len() * 2),
    err,
    sample_rate = 50,
    port = 8080,
    parent = parent,
)]
fn everything(
    path: &str,
    user_id: u64,
    parent: Option<RemoteContext>,
) -> Result<(), std::fmt::Error> {
    Ok(())
}

#[zipkin_rs::zipkin_span(kind = "CLIENT")]
fn upper_kind() {}

#[zipkin_rs::zipkin_span(kind = "Producer", sample_rate = 0.5)]
fn mixed_case_kind() {}

#[zipkin_rs::zipkin_span(kind = "consumer", sample_rate = 0)]
fn consumer() {}

#[zipkin_rs::zipkin_span(kind = "local", sample_rate = 100.0)]
fn local() {}

#[zipkin_rs::zipkin_span(parent = ctx)]
fn from_span_context(ctx: SpanContext) {}

#[zipkin_rs::zipkin_span(parent = RemoteContext::default())]
fn from_expression() {}

#[zipkin_rs::zipkin_span(tags("trailing" = 1,),)]
fn trailing_commas() {}

#[zipkin_rs::zipkin_span()]
fn empty_parens() {}

mod telemetry {
    pub mod zipkin {
        pub use zipkin_rs::*;
    }
}

#[telemetry::zipkin::zipkin_span(crate = telemetry::zipkin)]
fn reexported() {}

#[zipkin_rs::zipkin_span(crate = ::zipkin_rs)]
fn absolute_crate_path() {}

fn main() {
    let _ = everything("/", 1, None);
    upper_kind();
    mixed_case_kind();
    consumer();
    local();
    if let Some(ctx) = zipkin_rs::current_context() {
        from_span_context(ctx);
    }
    from_expression();
    trailing_commas();
    empty_parens();
    reexported();
    absolute_crate_path();
}
