use zipkin_rs::zipkin_span;

// A syntax error in the body is rustc's to report, where it is; the function stays defined.
#[zipkin_span]
fn half_typed(x: u32) -> u32 {
    let y = x +;
    y
}

#[zipkin_span]
async fn half_typed_async(x: u32) -> u32 {
    x.
}

fn main() {
    let _ = half_typed(1);
    let _ = half_typed_async(1);
}
