use zipkin_rs::zipkin_span;

#[zipkin_span(err = true)]
fn f() -> Result<(), String> {
    Ok(())
}

fn main() {}
