//! Every async shape compiles, and its future stays `Send` when the body is.
#![deny(warnings)]

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use zipkin_rs::zipkin_span;

fn assert_send<T: Send>(_: &T) {}

#[zipkin_span]
async fn plain() {}

#[zipkin_span]
async fn with_args(a: &str, b: String) -> usize {
    a.len() + b.len()
}

#[zipkin_span]
async fn question_mark(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n = s.parse::<u32>()?;
    Ok(n)
}

#[zipkin_span]
async fn early_return(n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    n
}

#[zipkin_span]
async fn impl_trait_return() -> impl std::fmt::Display {
    5
}

#[zipkin_span]
async fn generic<T>(t: T) -> T
where
    T: Send,
{
    t
}

#[zipkin_span]
fn impl_future(n: u32) -> impl Future<Output = u32> + Send {
    let doubled = n * 2;
    async move { doubled }
}

#[zipkin_span]
fn impl_future_borrowing(s: &str) -> impl Future<Output = usize> + '_ {
    async move { s.len() }
}

#[zipkin_span]
fn non_move_block() -> impl Future<Output = u32> {
    async { 1 }
}

#[zipkin_span(err)]
fn impl_future_err(n: u32) -> impl Future<Output = Result<u32, String>> + Send {
    async move { if n == 0 { Err("zero".to_string()) } else { Ok(n) } }
}

#[zipkin_span]
async fn recursive(n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    Box::pin(recursive(n - 1)).await + 1
}

#[zipkin_span]
fn boxed() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {})
}

#[async_trait]
trait Repo {
    async fn get(&self, id: u32) -> Option<String>;
    async fn put(&mut self, id: u32, v: String) -> Result<(), String>;
}

struct Mem(Vec<(u32, String)>);

#[async_trait]
impl Repo for Mem {
    #[zipkin_span]
    async fn get(&self, id: u32) -> Option<String> {
        self.0.iter().find(|(k, _)| *k == id).map(|(_, v)| v.clone())
    }

    #[zipkin_span(err, tags("id" = id))]
    async fn put(&mut self, id: u32, v: String) -> Result<(), String> {
        if id == 0 {
            return Err("zero".into());
        }
        self.0.push((id, v));
        Ok(())
    }
}

#[async_trait]
trait WithDefault: Sync {
    #[zipkin_span]
    async fn provided(&self) -> u32 {
        1
    }
}

impl WithDefault for Mem {}

#[async_trait(?Send)]
trait Local {
    async fn run(&self) -> u32;
}

#[async_trait(?Send)]
impl Local for std::rc::Rc<u32> {
    #[zipkin_span]
    async fn run(&self) -> u32 {
        **self
    }
}

// Native async fn in traits.
trait Native {
    async fn native(&self) -> u32;
}

impl Native for u32 {
    #[zipkin_span]
    async fn native(&self) -> u32 {
        *self
    }
}

struct Service;

impl Service {
    #[zipkin_span]
    async fn by_ref(&self) -> &Self {
        self
    }

    #[zipkin_span]
    async fn by_mut(&mut self) -> &mut Self {
        self
    }

    #[zipkin_span]
    async fn by_value(self) -> Self {
        self
    }
}

fn main() {
    assert_send(&plain());
    assert_send(&with_args("a", String::new()));
    assert_send(&question_mark("1"));
    assert_send(&early_return(1));
    assert_send(&impl_trait_return());
    assert_send(&generic(1u8));
    assert_send(&impl_future(1));
    assert_send(&impl_future_borrowing("x"));
    assert_send(&non_move_block());
    assert_send(&boxed());
    assert_send(&impl_future_err(1));
    assert_send(&recursive(3));
    let mut m = Mem(vec![]);
    assert_send(&m.get(1));
    assert_send(&m.put(1, String::new()));
    assert_send(&m.provided());
    let _ = std::rc::Rc::new(1).run();
    assert_send(&1u32.native());
    let mut s = Service;
    assert_send(&s.by_ref());
    assert_send(&s.by_mut());
    assert_send(&Service.by_value());
}
