//! The macros of [`tabulate`](https://docs.rs/tabulate): `#[derive(Tabulate)]`,
//! `#[derive(Describe)]` and `#[forward]`. Use them through the `tabulate` crate, which
//! re-exports them; their documentation and examples are there (as doctests of the facade,
//! so that this proc-macro crate needs no dev-dependency on `tabulate`: one would build
//! `tabulate` and tabulate-core a second time, with host-side features, in every
//! `cargo test`).

mod ast;
mod attr;
mod ctxt;
mod describe;
mod expand;
mod forward;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// `#[derive(Tabulate)]` of tabulate-derive: use it, and read its documentation, through
/// [`tabulate::Tabulate`](https://docs.rs/tabulate/latest/tabulate/derive.Tabulate.html).
#[proc_macro_derive(Tabulate, attributes(tabulate))]
pub fn derive_tabulate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// `#[derive(Describe)]` of tabulate-derive: use it, and read its documentation, through
/// [`tabulate::Describe`](https://docs.rs/tabulate/latest/tabulate/derive.Describe.html).
#[proc_macro_derive(Describe, attributes(tabulate))]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    describe::derive(&input).into()
}

/// `#[forward]` of tabulate-derive: use it, and read its documentation, through
/// [`tabulate::forward`](https://docs.rs/tabulate/latest/tabulate/attr.forward.html).
#[proc_macro_attribute]
pub fn forward(args: TokenStream, item: TokenStream) -> TokenStream {
    forward::expand(args.into(), item.into()).into()
}
