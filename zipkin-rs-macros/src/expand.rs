//! Expansion: the function, unchanged, with its body handed to a few runtime calls.
//!
//! The shapes, by what the body's future (if any) looks like:
//! - `fn`: a `SpanGuard` for the body's scope;
//! - `async fn`: the body becomes an `async move` block run inside a `Span`;
//! - `fn` whose body ends in `async { .. }` (`-> impl Future`) or `Box::pin(async { .. })`
//!   (`#[async_trait]`): that block is run inside a `Span`, so the span covers the future's run
//!   and not only its construction.
//!
//! Async spans open when the future is first polled, so their parent is the span current then
//! (the caller awaiting it, or the task's captured context).

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident, ReturnType, Stmt, Type};

use crate::args::{Args, Kind};
use crate::item::Function;

/// Where the span goes.
enum Shape {
    Sync,
    AsyncFn,
    /// The body's last expression is an async block (`pinned`: inside `Box::pin(..)`).
    AsyncTail {
        prelude: Vec<Stmt>,
        tail: Box<Expr>,
        pinned: Option<Box<Expr>>,
    },
}

pub(crate) fn expand(args: Args, f: Function) -> syn::Result<TokenStream> {
    if let Some(c) = &f.sig.constness {
        return Err(syn::Error::new(
            c.span,
            "#[zipkin_span] cannot be used on a `const fn`: a span opens and closes at run time",
        ));
    }
    let shape = shape(&f);
    let p = match &args.krate {
        Some(path) => quote!(#path::__private),
        None => quote!(::zipkin_rs::__private),
    };
    let meta = meta(&args, &f, &p);
    let parent = match &args.parent {
        Some(e) => quote_spanned!(e.span()=> #p::parent(#e)),
        None => quote!(::core::option::Option::None),
    };
    // A sync guard opens through the smallest call: no parent passed when there is none.
    let open_guard = match &args.parent {
        Some(e) => {
            let remote = quote_spanned!(e.span()=> #p::remote_parent(#e));
            quote!(#p::SpanGuard::remote(&__ZIPKIN_META, #remote))
        }
        None => quote!(#p::SpanGuard::local(&__ZIPKIN_META)),
    };
    let guard = Ident::new("__zipkin_guard", Span::mixed_site());
    let span = Ident::new("__zipkin_span", Span::mixed_site());
    let ret = Ident::new("__zipkin_ret", Span::mixed_site());
    let body = {
        let mut g = Group::new(Delimiter::Brace, f.body.clone());
        // Located at the body, but marked as the expansion's own: rustc then lints the braces as
        // generated (`unused_braces` fired on one-expression bodies), while errors about the block
        // still point at the user's braces.
        g.set_span(Span::mixed_site().located_at(f.body_span));
        g
    };
    let fake_return = fake_return(&f);

    let instrumented_body = match shape {
        Shape::Sync => {
            let mutability = (args.err.is_some() || !args.tags.is_empty()).then(|| quote!(mut));
            let tags = tags(&args, &guard);
            let open = quote! {
                let #mutability #guard = #open_guard;
                #tags
            };
            match args.err {
                None => quote! { #open #body },
                Some(err) => {
                    // Every token of the check sits on `err`, so a non-`Result` return type is
                    // reported there.
                    let (g, r) = (located(&guard, err), located(&ret, err));
                    let record = quote_spanned!(err=> #p::record_err(&mut #g, &#r));
                    quote! {
                        #open
                        let #ret = #p::call_once(move || { #fake_return #body });
                        #record;
                        #ret
                    }
                }
            }
        }
        Shape::AsyncFn => {
            let open = open_span(&args, &p, &span, &parent);
            let run = run(&args, &p, &span, quote!(async move { #fake_return #body }));
            quote!(#open #run.await)
        }
        Shape::AsyncTail {
            prelude,
            tail,
            pinned,
        } => {
            // The span opens on the first poll, as for an `async fn`: it covers the future's
            // run, and its parent is the span current when the future starts running.
            let open = open_span(&args, &p, &span, &parent);
            let run = run(&args, &p, &span, tail.into_token_stream());
            let fut = quote!(async move { #open #run.await });
            match pinned {
                None => quote!(#(#prelude)* #fut),
                Some(func) => quote!(#(#prelude)* #func(#fut)),
            }
        }
    };

    let Function {
        outer_attrs,
        inner_attrs,
        vis,
        sig,
        ..
    } = &f;
    Ok(quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #meta
            #instrumented_body
        }
    })
}

/// Opens the detached `Span` an async body runs in, and tags it.
fn open_span(args: &Args, p: &TokenStream, span: &Ident, parent: &TokenStream) -> TokenStream {
    let mutability = (!args.tags.is_empty()).then(|| quote!(mut));
    let tags = tags(args, span);
    quote! {
        let #mutability #span = #p::Span::from_meta(&__ZIPKIN_META, #parent);
        #tags
    }
}

/// `fut` run inside the span (and its `Err` recorded, with `err`), as a future expression.
fn run(args: &Args, p: &TokenStream, span: &Ident, fut: TokenStream) -> TokenStream {
    match args.err {
        None => quote!(#p::Span::instrument(#span, #fut)),
        Some(err) => {
            // The call's tokens all sit on `err`, so a non-`Result` output is reported there.
            let var = Ident::new("__zipkin_fut", Span::mixed_site());
            let (s, v) = (located(span, err), located(&var, err));
            let call = quote_spanned!(err=> #p::instrument_err(#s, #v));
            quote!({
                let #var = #fut;
                #call
            })
        }
    }
}

/// The same hygienic identifier, reported at `at`.
fn located(ident: &Ident, at: Span) -> Ident {
    Ident::new(&ident.to_string(), at.resolved_at(ident.span()))
}

/// Tag values are computed only when the span is sampled.
fn tags(args: &Args, var: &Ident) -> TokenStream {
    if args.tags.is_empty() {
        return TokenStream::new();
    }
    let calls = args.tags.iter().map(|t| {
        let key = &t.key;
        let value = &t.value;
        let value = quote_spanned!(value.span()=> &(#value));
        quote!(#var.tag(#key, #value);)
    });
    quote! {
        if #var.is_recording() {
            #(#calls)*
        }
    }
}

/// The per-function `static` the span is opened from.
fn meta(args: &Args, f: &Function, p: &TokenStream) -> TokenStream {
    let name = match &args.span_name {
        Some(lit) => lit.value(),
        None => syn::ext::IdentExt::unraw(&f.sig.ident).to_string(),
    };
    let service = match &args.service_name {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let kind = Ident::new(
        args.kind.map_or(Kind::Local, |(k, _)| k).variant(),
        Span::call_site(),
    );
    let port = args.port.unwrap_or(0);
    let rate = match args.sample_rate {
        Some(r) => {
            let lit = proc_macro2::Literal::f64_suffixed(r);
            quote!(::core::option::Option::Some(#lit))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        static __ZIPKIN_META: #p::SpanMeta = #p::SpanMeta {
            name: #name,
            service_name: #service,
            kind: #p::Kind::#kind,
            port: #port,
            sample_rate: #rate,
        };
    }
}

fn shape(f: &Function) -> Shape {
    if f.sig.asyncness.is_some() {
        return Shape::AsyncFn;
    }
    let Some(mut stmts) = f.stmts() else {
        return Shape::Sync;
    };
    let Some(Stmt::Expr(last, None)) = stmts.last() else {
        return Shape::Sync;
    };
    match last {
        Expr::Async(_) => {}
        Expr::Call(call) if is_box_pin(&call.func) && call.args.len() == 1 => {
            if !matches!(call.args.first(), Some(Expr::Async(_))) {
                return Shape::Sync;
            }
        }
        _ => return Shape::Sync,
    }
    let Some(Stmt::Expr(last, None)) = stmts.pop() else {
        return Shape::Sync;
    };
    match last {
        Expr::Call(mut call) => {
            let Some(tail) = call.args.pop().map(|p| p.into_value()) else {
                return Shape::Sync;
            };
            Shape::AsyncTail {
                prelude: stmts,
                tail: Box::new(tail),
                pinned: Some(call.func),
            }
        }
        tail => Shape::AsyncTail {
            prelude: stmts,
            tail: Box::new(tail),
            pinned: None,
        },
    }
}

/// `Box::pin`, however the path to it is written (`Box::pin`, `std::boxed::Box::pin`, ...).
fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(p) = func else {
        return false;
    };
    let segs: Vec<_> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segs.len() >= 2 && segs[segs.len() - 2] == "Box" && segs[segs.len() - 1] == "pin"
}

/// A never-taken `return` of the declared type at the start of a body that the expansion moves
/// into a closure or an async block, so that `?` and `return` in the body infer that type and
/// type errors point at the user's signature.
fn fake_return(f: &Function) -> TokenStream {
    let (ty, span) = match &f.sig.output {
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            ImplTraitEraser.visit_type_mut(&mut ty);
            let span = ty.span();
            (ty.into_token_stream(), span)
        }
        ReturnType::Default => (quote!(()), f.sig.ident.span()),
    };
    // Located at the return type, so rustc's "return type inferred to be .. here" points at
    // the signature.
    let var = Ident::new("__zipkin_fake_return", span.resolved_at(Span::mixed_site()));
    quote_spanned! {span=>
        #[allow(
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::let_unit_value,
            clippy::unreachable,
            clippy::needless_return
        )]
        if false {
            let #var: #ty = ::core::unreachable!();
            return #var;
        }
    }
}

/// `impl Trait` cannot be written in a `let`; `_` infers the same type.
struct ImplTraitEraser;

impl VisitMut for ImplTraitEraser {
    fn visit_type_mut(&mut self, t: &mut Type) {
        if let Type::ImplTrait(it) = t {
            *t = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](it.impl_token.span),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, t);
        }
    }
}
