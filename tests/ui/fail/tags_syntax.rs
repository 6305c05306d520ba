use zipkin_rs::zipkin_span;

#[zipkin_span(tags("a" = 1, "a" = 2))]
fn duplicate_tag() {}

#[zipkin_span(tags = "a")]
fn not_a_list() {}

#[zipkin_span(tags(1 = 2))]
fn number_key() {}

#[zipkin_span(tags("a"))]
fn missing_value() {}

fn main() {}
