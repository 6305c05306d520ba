use zipkin_rs::zipkin_span;

trait Handler {
    #[zipkin_span]
    fn handle(&self);
}

fn main() {}
