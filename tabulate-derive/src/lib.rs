//! The macros of [`tabulate`](https://docs.rs/tabulate): `#[derive(Tabulate)]` and
//! `#[forward]`. Use them through the `tabulate` crate, which re-exports them.

mod ast;
mod attr;
mod ctxt;
mod describe;
mod expand;
mod forward;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `tabulate::Tabulate` for a struct: its type name, and the fields that hold
/// submodules (recognised by type, through `tabulate::Submodules`), so that calls of those
/// submodules are named after the fields (`dense`, `layers_0`, …).
///
/// A field of type `tabulate::Param` (or a container of them) is a variable of the module,
/// named after the field, declared when the module's call opens.
///
/// Field attributes: `#[tabulate(skip)]` leaves a field out; `#[tabulate(rename = "…")]`
/// names its submodules (or its variable) differently; `#[tabulate(collection = "…")]`
/// puts a `Param` field's variables in that collection instead of `params`. Container
/// attribute: `#[tabulate(rename = "…")]` changes the type name shown.
#[proc_macro_derive(Tabulate, attributes(tabulate))]
pub fn derive_tabulate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// Derives `tabulate::Describe` for a struct returned (or taken) by `#[forward]` methods,
/// so it shows in the `outputs` cell as Flax shows a `flax.struct.dataclass`: a struct
/// with named fields as a mapping of its fields, keys sorted (`alpha: float32[2,4]`,
/// `zeta: float32[2,3]`); a tuple struct as a list of its fields, like a `NamedTuple`.
///
/// Every field must implement `Describe`. Field attributes: `#[tabulate(skip)]` leaves a
/// field out; `#[tabulate(rename = "…")]` shows it under another key.
#[proc_macro_derive(Describe, attributes(tabulate))]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    describe::derive(&input).into()
}

/// Marks a method of a module whose calls become rows of a summary. It must take `&self`;
/// its arguments must implement `tabulate::Describe` and its result
/// `tabulate::ForwardOutput`. Mark an argument `#[kwarg]` to show it as a keyword
/// argument. On a method named `forward` it also adds a `summary` method taking the same
/// arguments, unless written `#[forward(no_summary)]` (needed inside trait impls).
#[proc_macro_attribute]
pub fn forward(args: TokenStream, item: TokenStream) -> TokenStream {
    forward::expand(args.into(), item.into()).into()
}
