use zipkin_rs::zipkin_span;

#[zipkin_span(kind = "serve")]
fn typo() {}

#[zipkin_span(kind = Server)]
fn not_a_string() {}

fn main() {}
