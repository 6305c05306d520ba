//! The expansion does not depend on, or leak into, the names around it.
#![deny(warnings)]
#![allow(non_camel_case_types, dead_code)]

// Local items named like what the expansion uses.
struct Option;
struct Some;
struct Span;
struct SpanGuard;
mod core {}

#[zipkin_rs::zipkin_span(err)]
fn uses_our_names(__zipkin_span: u32, __zipkin_guard: u32) -> Result<u32, String> {
    let __zipkin_ret = __zipkin_span + __zipkin_guard;
    Ok(__zipkin_ret)
}

#[zipkin_rs::zipkin_span(tags("x" = __zipkin_span))]
async fn async_uses_our_names(__zipkin_span: u32) -> u32 {
    __zipkin_span
}

mod no_prelude {
    #![no_implicit_prelude]

    #[::zipkin_rs::zipkin_span(err)]
    pub fn f(x: u32) -> ::core::result::Result<u32, ::std::string::String> {
        ::core::result::Result::Ok(x)
    }

    #[::zipkin_rs::zipkin_span(tags("x" = x))]
    pub async fn g(x: u32) -> u32 {
        x
    }
}

fn main() {
    let _ = uses_our_names(1, 2);
    let _ = async_uses_our_names(1);
    let _ = no_prelude::f(1);
    let _ = no_prelude::g(1);
}
