use zipkin_rs::zipkin_span;

#[zipkin_span(service_name = 5)]
fn number_for_a_string() {}

#[zipkin_span(span_name = webapp)]
fn identifier_for_a_string() {}

#[zipkin_span(port = "8080")]
fn string_for_a_number() {}

#[zipkin_span(sample_rate = RATE)]
fn constant_for_a_number() {}

const RATE: f64 = 1.0;

fn main() {}
