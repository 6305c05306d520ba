use zipkin_rs::zipkin_span;

#[zipkin_span(sample_rate = 150)]
fn too_high() {}

#[zipkin_span(sample_rate = 100.5)]
fn just_too_high() {}

#[zipkin_span(sample_rate = -1)]
fn negative() {}

#[zipkin_span(sample_rate = "50")]
fn string() {}

fn main() {}
