//! The `#[zipkin_span]` attribute of zipkin-rs. Use it through the `zipkin-rs` facade, whose
//! documentation describes every option with examples.
//!
//! This crate only parses, validates and expands: the expansion is a `static` describing the
//! span and a couple of calls into the runtime, which holds all behaviour.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unsafe_code
)]

use proc_macro::TokenStream;

mod args;
mod expand;
mod item;

/// Traces a function as a Zipkin span. Defined in `zipkin-rs-macros`: depend on `zipkin-rs`,
/// which re-exports it as `zipkin_rs::zipkin_span` and documents its options there.
#[proc_macro_attribute]
pub fn zipkin_span(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let result = syn::parse::<args::Args>(attr)
        .and_then(|args| Ok((args, item::parse(item.clone())?)))
        .and_then(|(args, f)| expand::expand(args, f));
    match result {
        Ok(tokens) => tokens.into(),
        // Keep the item so that the one error shown is ours, not a cascade of "not found".
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(item);
            out.into()
        }
    }
}
