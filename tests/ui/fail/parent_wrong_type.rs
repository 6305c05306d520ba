use zipkin_rs::zipkin_span;

#[zipkin_span(kind = "server", parent = request_id)]
fn serve(request_id: u64) {
    let _ = request_id;
}

fn main() {}
