use zipkin_rs::zipkin_span;

// Type errors in an instrumented body are reported against the user's code and signature.
#[zipkin_span]
async fn wrong_return() -> u32 {
    "not a number"
}

#[zipkin_span(err)]
fn wrong_question_mark() -> Result<u32, std::num::ParseIntError> {
    let n: u32 = "1".parse::<f64>()? as u32;
    Ok(n)
}

fn main() {}
