use zipkin_rs::zipkin_span;

struct Secret;

#[zipkin_span(tags("secret" = secret))]
fn login(secret: Secret) {
    let _ = secret;
}

fn main() {}
