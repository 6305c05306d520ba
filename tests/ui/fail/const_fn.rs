use zipkin_rs::zipkin_span;

#[zipkin_span]
const fn answer() -> u32 {
    42
}

fn main() {
    let _ = answer();
}
