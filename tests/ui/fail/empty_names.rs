use zipkin_rs::zipkin_span;

#[zipkin_span(service_name = "")]
fn empty_service() {}

#[zipkin_span(service_name = "  ")]
fn blank_service() {}

#[zipkin_span(span_name = "")]
fn empty_span_name() {}

#[zipkin_span(tags("" = 1))]
fn empty_tag_key() {}

fn main() {}
