use zipkin_rs::zipkin_span;

#[zipkin_span(port = 70000)]
fn too_high() {}

#[zipkin_span(port = 0)]
fn zero() {}

#[zipkin_span(port = 80.5)]
fn float() {}

fn main() {}
