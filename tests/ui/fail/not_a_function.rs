use zipkin_rs::zipkin_span;

#[zipkin_span]
struct Config {
    port: u16,
}

#[zipkin_span]
enum Mode {
    Fast,
}

#[zipkin_span(service_name = "x")]
impl Config {
    fn port(&self) -> u16 {
        self.port
    }
}

#[zipkin_span]
mod handlers {}

#[zipkin_span]
static NAME: &str = "x";

fn main() {
    let _ = (Mode::Fast, Config { port: 1 }.port(), NAME);
}
