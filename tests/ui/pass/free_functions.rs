//! Free functions of every shape compile unchanged, without a warning.
#![deny(warnings)]

use std::collections::HashMap;
use std::fmt::Display;

use zipkin_rs::zipkin_span;

#[zipkin_span]
fn unit() {}

#[zipkin_span]
fn returns(x: u32) -> u32 {
    x + 1
}

#[zipkin_span]
fn generic<K, V>(map: &HashMap<K, V>, key: &K) -> Option<V>
where
    K: std::hash::Hash + Eq,
    V: Clone,
{
    map.get(key).cloned()
}

#[zipkin_span]
fn lifetimes<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

#[zipkin_span]
fn impl_trait(items: impl IntoIterator<Item = u32>) -> impl Display {
    items.into_iter().sum::<u32>()
}

#[zipkin_span]
fn question_mark(s: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let n: u32 = s.parse()?;
    if n == 0 {
        return Err("zero".into());
    }
    Ok(n)
}

#[zipkin_span]
fn patterns((a, b): (u8, u8), mut c: Vec<u8>, _: ()) -> usize {
    c.push(a + b);
    c.len()
}

#[must_use]
#[inline]
#[zipkin_span]
fn must_use() -> u32 {
    1
}

#[zipkin_span]
fn inner_attributes() -> u32 {
    #![allow(clippy::identity_op)]
    1 + 0
}

#[zipkin_span]
unsafe fn unsafe_fn(p: *const u32) -> u32 {
    *p
}

#[zipkin_span(err)]
unsafe fn unsafe_err(p: *const u32) -> Result<u32, String> {
    if p.is_null() {
        return Err("null".into());
    }
    Ok(*p)
}

#[zipkin_span]
extern "C" fn extern_c(x: u32) -> u32 {
    x
}

#[zipkin_span]
fn never_returns() -> ! {
    loop {
        std::thread::park();
    }
}

#[zipkin_span]
pub(crate) fn visibility() {}

// Items in the body may shadow names used in the signature (tracing #3306).
#[zipkin_span]
fn shadowing() -> Vec<u8> {
    #[allow(dead_code)]
    struct Vec;
    std::vec::Vec::new()
}

#[zipkin_span]
fn r#match() {}

#[zipkin_span]
fn nested() -> u32 {
    #[zipkin_span]
    fn inner() -> u32 {
        2
    }
    inner() + returns(1)
}

fn main() {
    unit();
    let _ = returns(1);
    let _ = generic(&HashMap::from([(1, "a")]), &1);
    let _ = lifetimes("a", "b");
    let _ = impl_trait([1, 2]).to_string();
    let _ = question_mark("1");
    let _ = patterns((1, 2), vec![], ());
    let _ = must_use();
    let _ = inner_attributes();
    let _ = unsafe { unsafe_fn(&1) };
    let _ = unsafe { unsafe_err(&1) };
    let _ = extern_c(1);
    let _: fn() -> ! = never_returns;
    visibility();
    let _ = shadowing();
    r#match();
    let _ = nested();
}
