use zipkin_rs::zipkin_span;

#[zipkin_span(err)]
fn not_a_result() -> u32 {
    1
}

#[zipkin_span(err)]
async fn async_not_a_result() -> Option<u32> {
    None
}

struct NoDisplay;

#[zipkin_span(err)]
fn error_without_display() -> Result<(), NoDisplay> {
    Err(NoDisplay)
}

fn main() {}
