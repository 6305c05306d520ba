//! Regression: a body that is one expression (`{ 1 }`) warned `unused_braces` on rustc 1.95,
//! and `cargo fix` then failed on the expansion. Every shape below compiles with `-D warnings`.
#![deny(warnings)]

use zipkin_rs::zipkin_span;

const LIMIT: u32 = 7;

struct Store {
    items: Vec<u32>,
}

#[zipkin_span]
fn literal() -> u32 { 1 }

#[zipkin_span]
fn path() -> u32 { LIMIT }

#[zipkin_span]
fn call() -> Option<u32> { Some(1) }

#[zipkin_span]
fn unit_literal() { () }

#[zipkin_span]
fn string() -> &'static str { "ok" }

#[zipkin_span]
fn argument(x: u32) -> u32 { x }

#[zipkin_span(err)]
fn result_ok() -> Result<u32, std::fmt::Error> { Ok(1) }

#[zipkin_span(err)]
fn result_path(r: Result<u32, std::fmt::Error>) -> Result<u32, std::fmt::Error> { r }

#[zipkin_span(tags("n" = 1))]
fn tagged() -> u32 { 2 }

#[zipkin_span]
async fn async_literal() -> u32 { 1 }

#[zipkin_span(err)]
async fn async_result() -> Result<u32, std::fmt::Error> { Ok(1) }

#[zipkin_span]
fn impl_future() -> impl std::future::Future<Output = u32> { async { 1 } }

impl Store {
    #[zipkin_span]
    fn first(&self) -> Option<&u32> { self.items.first() }

    #[zipkin_span]
    fn len(&self) -> usize { self.items.len() }

    #[zipkin_span]
    async fn count(&self) -> usize { self.items.len() }
}

fn main() {
    let store = Store { items: vec![1] };
    let _ = (literal(), path(), call(), string(), argument(3), tagged());
    unit_literal();
    let _ = (result_ok(), result_path(Ok(2)));
    let _ = (store.first(), store.len());
    let _ = (async_literal(), async_result(), impl_future(), store.count());
}
