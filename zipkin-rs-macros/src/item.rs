//! The annotated item: a function whose signature is parsed and whose body is kept as tokens, so
//! that a syntax error inside the body is reported by rustc where it is, and the rest of the
//! expansion (and IDE completion) keeps working while the user types.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Block, Item, Signature, Stmt, Token, Visibility};

pub(crate) struct Function {
    pub outer_attrs: Vec<Attribute>,
    pub inner_attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    /// The body's statements, braces excluded, as written.
    pub body: TokenStream,
    /// The span of the body's braces, for generated code that stands for the body.
    pub body_span: Span,
}

impl Parse for Function {
    fn parse(input: ParseStream<'_>) -> syn::Result<Function> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        if input.peek(Token![;]) {
            let semi: Token![;] = input.parse()?;
            return Err(syn::Error::new(
                semi.span,
                "#[zipkin_span] needs a function body: put it on the function's implementation",
            ));
        }
        let content;
        let brace = syn::braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body: TokenStream = content.parse()?;
        Ok(Function {
            outer_attrs,
            inner_attrs,
            vis,
            sig,
            body,
            body_span: brace.span.join(),
        })
    }
}

impl Function {
    /// The body as statements, when it parses (it may not while the user is typing).
    pub(crate) fn stmts(&self) -> Option<Vec<Stmt>> {
        syn::parse::Parser::parse2(Block::parse_within, self.body.clone()).ok()
    }
}

/// Parses the item; when it is not a function, an error naming what it is, at its keyword.
pub(crate) fn parse(item: TokenStream) -> syn::Result<Function> {
    match syn::parse2::<Function>(item.clone()) {
        Ok(f) => Ok(f),
        // Name what it is when syn knows; otherwise (a body-less `fn`, new syntax) the
        // function parser's error is the useful one.
        Err(fn_err) => match syn::parse2::<Item>(item).ok().and_then(|i| describe(&i)) {
            Some((what, span)) => Err(syn::Error::new(
                span,
                format!("#[zipkin_span] can only be applied to a function, not to {what}"),
            )),
            None => Err(fn_err),
        },
    }
}

fn describe(item: &Item) -> Option<(&'static str, Span)> {
    Some(match item {
        Item::Struct(i) => ("a struct", i.struct_token.span),
        Item::Enum(i) => ("an enum", i.enum_token.span),
        Item::Union(i) => ("a union", i.union_token.span),
        Item::Impl(i) => ("an impl block", i.impl_token.span),
        Item::Trait(i) => ("a trait", i.trait_token.span),
        Item::TraitAlias(i) => ("a trait alias", i.trait_token.span),
        Item::Mod(i) => ("a module", i.mod_token.span),
        Item::Const(i) => ("a constant", i.const_token.span),
        Item::Static(i) => ("a static", i.static_token.span),
        Item::Type(i) => ("a type alias", i.type_token.span),
        Item::Use(i) => ("a `use` declaration", i.use_token.span),
        Item::ExternCrate(i) => ("an `extern crate`", i.extern_token.span),
        Item::ForeignMod(i) => ("an `extern` block", i.abi.extern_token.span),
        Item::Macro(i) => ("a macro", i.mac.path.span()),
        _ => return None,
    })
}
