//! The attribute's options, parsed and validated into [`Args`]. Every error points at the token
//! that caused it.

use proc_macro2::Span;
use quote::quote;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, Lit, LitStr, Path, Token};

const OPTIONS: &str =
    "`service_name`, `span_name`, `kind`, `tags`, `err`, `sample_rate`, `port`, `parent`, `crate`";

/// The span kind, as the runtime's `Kind` variant name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Local,
    Client,
    Server,
    Producer,
    Consumer,
}

impl Kind {
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Kind::Local => "Local",
            Kind::Client => "Client",
            Kind::Server => "Server",
            Kind::Producer => "Producer",
            Kind::Consumer => "Consumer",
        }
    }
}

/// One `"key" = expr` of `tags(...)`.
pub(crate) struct Tag {
    pub key: LitStr,
    pub value: Expr,
}

/// Everything `#[zipkin_span(...)]` was given.
#[derive(Default)]
pub(crate) struct Args {
    pub service_name: Option<LitStr>,
    pub span_name: Option<LitStr>,
    pub kind: Option<(Kind, Span)>,
    pub tags: Vec<Tag>,
    /// The span of the `err` keyword, which errors about the return type point at.
    pub err: Option<Span>,
    pub sample_rate: Option<f64>,
    pub port: Option<u16>,
    pub parent: Option<Expr>,
    pub krate: Option<Path>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Args> {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            // `crate` is a keyword; every other option is an identifier.
            let name = input.call(Ident::parse_any)?;
            let key = name.to_string();
            if seen.contains(&key) {
                return Err(syn::Error::new(
                    name.span(),
                    format!("duplicate option `{key}`: each option may be given once"),
                ));
            }
            match key.as_str() {
                "service_name" => {
                    let lit = value_str(input, &name)?;
                    if lit.value().trim().is_empty() {
                        return Err(syn::Error::new(
                            lit.span(),
                            "`service_name` is empty: expected a service name such as \"webapp\"",
                        ));
                    }
                    args.service_name = Some(lit);
                }
                "span_name" => {
                    let lit = value_str(input, &name)?;
                    if lit.value().trim().is_empty() {
                        return Err(syn::Error::new(
                            lit.span(),
                            "`span_name` is empty: expected a span name such as \"do_stuff\", \
                             or no `span_name` to use the function's name",
                        ));
                    }
                    args.span_name = Some(lit);
                }
                "kind" => {
                    let lit = value_str(input, &name)?;
                    let kind = match lit.value().to_ascii_lowercase().as_str() {
                        "local" => Kind::Local,
                        "client" => Kind::Client,
                        "server" => Kind::Server,
                        "producer" => Kind::Producer,
                        "consumer" => Kind::Consumer,
                        other => {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!(
                                    "unknown span kind \"{other}\": expected \"client\", \
                                     \"server\", \"producer\", \"consumer\" or \"local\""
                                ),
                            ))
                        }
                    };
                    args.kind = Some((kind, lit.span()));
                }
                "tags" => args.tags = parse_tags(input)?,
                "err" => {
                    if input.peek(Token![=]) || input.peek(syn::token::Paren) {
                        return Err(syn::Error::new(
                            input.span(),
                            "`err` takes no value: write `err` alone",
                        ));
                    }
                    args.err = Some(name.span());
                }
                "sample_rate" => {
                    input.parse::<Token![=]>()?;
                    let (neg, lit) = number(input, &name)?;
                    args.sample_rate = Some(sample_rate(neg, &lit)?);
                }
                "port" => {
                    input.parse::<Token![=]>()?;
                    let (neg, lit) = number(input, &name)?;
                    args.port = Some(port(neg, &lit)?);
                }
                "parent" => {
                    input.parse::<Token![=]>()?;
                    args.parent = Some(input.parse()?);
                }
                "crate" => {
                    input.parse::<Token![=]>()?;
                    args.krate = Some(input.call(Path::parse_mod_style)?);
                }
                _ => {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("unknown option `{key}`: expected one of {OPTIONS}"),
                    ))
                }
            }
            seen.push(key);
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

/// `= "literal"`.
fn value_str(input: ParseStream<'_>, name: &Ident) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    if input.peek(LitStr) {
        return input.parse();
    }
    // Anything else (a number, an identifier, an expression) is reported as a whole.
    let found: Expr = input.parse()?;
    Err(syn::Error::new_spanned(
        found,
        format!("expected a string literal for `{name}`, such as `{name} = \"...\"`"),
    ))
}

/// A literal, possibly negated (so that `-1` gets a range error, not a syntax error).
fn number(input: ParseStream<'_>, name: &Ident) -> syn::Result<(Option<Token![-]>, Lit)> {
    let neg: Option<Token![-]> = input.parse()?;
    if input.peek(Lit) {
        return Ok((neg, input.parse()?));
    }
    let found: Expr = input.parse()?;
    Err(syn::Error::new_spanned(
        found,
        format!("expected a number literal for `{name}`: it is read at compile time"),
    ))
}

fn sample_rate(neg: Option<Token![-]>, lit: &Lit) -> syn::Result<f64> {
    let value = match lit {
        Lit::Int(i) => i.base10_parse::<f64>(),
        Lit::Float(f) => f.base10_parse::<f64>(),
        other => {
            return Err(syn::Error::new(
                other.span(),
                "expected a number from 0 to 100 (percent) for `sample_rate`",
            ))
        }
    }?;
    let value = if neg.is_some() { -value } else { value };
    if !(0.0..=100.0).contains(&value) {
        return Err(syn::Error::new_spanned(
            quote!(#neg #lit),
            format!("`sample_rate` is {value}, expected a percentage from 0 to 100"),
        ));
    }
    Ok(value)
}

fn port(neg: Option<Token![-]>, lit: &Lit) -> syn::Result<u16> {
    let expected = "expected a port number from 1 to 65535 for `port`";
    let Lit::Int(i) = lit else {
        return Err(syn::Error::new(lit.span(), expected));
    };
    match i.base10_parse::<u16>() {
        Ok(p) if p != 0 && neg.is_none() => Ok(p),
        _ => Err(syn::Error::new_spanned(
            quote!(#neg #lit),
            format!(
                "`port` is {}{}, {expected}",
                if neg.is_some() { "-" } else { "" },
                i.base10_digits()
            ),
        )),
    }
}

/// `("key" = expr, ...)`; a key may also be a plain identifier (`user = id`).
fn parse_tags(input: ParseStream<'_>) -> syn::Result<Vec<Tag>> {
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            input.span(),
            "expected `tags(\"key\" = value, ...)`",
        ));
    }
    let content;
    syn::parenthesized!(content in input);
    let mut tags: Vec<Tag> = Vec::new();
    while !content.is_empty() {
        let key = if content.peek(LitStr) {
            content.parse::<LitStr>()?
        } else if content.peek(Ident::peek_any) {
            let id = content.call(Ident::parse_any)?;
            LitStr::new(&id.unraw().to_string(), id.span())
        } else {
            return Err(syn::Error::new(
                content.span(),
                "expected a tag key: a string literal such as \"http.path\"",
            ));
        };
        if key.value().is_empty() {
            return Err(syn::Error::new(
                key.span(),
                "tag key is empty: expected a key such as \"http.path\"",
            ));
        }
        if tags.iter().any(|t| t.key.value() == key.value()) {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "duplicate tag \"{}\": each tag may be given once",
                    key.value()
                ),
            ));
        }
        content.parse::<Token![=]>()?;
        let value: Expr = content.parse()?;
        tags.push(Tag { key, value });
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(tags)
}
