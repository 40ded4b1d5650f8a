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
///
/// ```
/// use tabulate::prelude::*;
/// use std::collections::BTreeMap;
/// use tabulate::nn::{Dense, LayerNorm};
///
/// #[derive(Tabulate)]
/// struct Block {
///     norm: LayerNorm,
///     heads: BTreeMap<String, Dense>, // named by key: heads_k, heads_q
///     layers: Vec<(Dense, usize)>,    // layers_0_0, layers_1_0
///     #[tabulate(skip)]
///     spare: Option<Dense>,
///     width: usize,                   // configuration: left out by itself
/// }
///
/// impl Block {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let mut h = self.norm.forward(x)?;
///         for dense in self.heads.values() {
///             h = dense.forward(&h)?;
///         }
///         for (dense, _) in &self.layers {
///             h = dense.forward(&h)?;
///         }
///         Ok(h)
///     }
/// }
///
/// let heads = [("q".to_string(), Dense::new(8)), ("k".to_string(), Dense::new(8))].into();
/// let block = Block { norm: LayerNorm::new(), heads, layers: vec![(Dense::new(8), 1), (Dense::new(8), 2)], spare: None, width: 8 };
/// let summary = block.summary(&Tensor::new(DType::F32, [2, 8]))?;
/// let paths: Vec<_> = summary.rows.iter().map(|r| r.path.join("/")).collect();
/// assert_eq!(paths, ["", "norm", "heads_k", "heads_q", "layers_0_0", "layers_1_0"]);
/// # Ok::<(), tabulate::Error>(())
/// ```
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
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Value;
///
/// /// Returned by `forward`: shown as Flax shows a `flax.struct.dataclass`.
/// #[derive(Describe)]
/// struct Output {
///     logits: Tensor,
///     #[tabulate(rename = "aux")]
///     auxiliary: Tensor,
///     #[tabulate(skip)]
///     step: usize,
/// }
///
/// #[derive(Tabulate)]
/// struct Model;
///
/// impl Model {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Output> {
///         Ok(Output { logits: x.clone(), auxiliary: x.sum(&[-1], false)?, step: 0 })
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [2, 4]);
/// let summary = Model.summary(&x)?;
/// let expected = Value::mapping([("aux", Value::Array { dtype: DType::F32, shape: [2].into() }), ("logits", x.describe())]);
/// assert_eq!(summary.rows[0].outputs, expected);
/// # Ok::<(), tabulate::Error>(())
/// ```
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
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, Dropout};
///
/// #[derive(Tabulate)]
/// struct Classifier {
///     dense: Dense,
///     dropout: Dropout,
/// }
///
/// impl Classifier {
///     /// Recorded as a row; adds `summary(&x, train)` with the same arguments.
///     #[forward]
///     fn forward(&self, x: &Tensor, #[kwarg] train: bool) -> Result<Tensor> {
///         let h = self.dropout.forward(x, !train)?;
///         self.dense.forward(&h)
///     }
///
///     /// Another method: its row reads `Classifier (logits)`.
///     #[forward]
///     fn logits(&self, x: &Tensor) -> Result<Tensor> {
///         self.dense.forward(x)
///     }
/// }
///
/// let model = Classifier { dense: Dense::new(10), dropout: Dropout::new(0.1) };
/// let x = Tensor::new(DType::F32, [4, 32]);
/// let summary = model.summary(&x, false)?;
/// assert_eq!(summary.rows.len(), 3); // the model, dropout, dense
/// let summary = tabulate(&model).run(|m| m.logits(&x))?;
/// assert_eq!(summary.rows[0].method, "logits");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[proc_macro_attribute]
pub fn forward(args: TokenStream, item: TokenStream) -> TokenStream {
    forward::expand(args.into(), item.into()).into()
}
