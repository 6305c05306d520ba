use zipkin_rs::zipkin_span;

#[zipkin_span(name = "index")]
fn index() {}

fn main() {
    index(); // still defined: the one error is the option
}
