use zipkin_rs::zipkin_span;

#[zipkin_span(kind = "client", span_name = "call", kind = "server")]
fn call() {}

fn main() {}
