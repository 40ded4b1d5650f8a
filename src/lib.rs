//! Summary tables of neural networks written in Rust, the way Flax's `nn.tabulate` prints
//! them: one row per module call with its path, type, input and output shapes, forward
//! and backward FLOPs and parameters, from a forward pass on abstract tensors (dtype and
//! shape only). Nothing is allocated and no arithmetic is done, so a summary of a model of
//! any size takes milliseconds.
//!
//! ```
//! use tabulate::prelude::*;
//! use tabulate::nn::Dense;
//!
//! #[derive(Tabulate)]
//! struct Foo;
//!
//! impl Foo {
//!     #[forward]
//!     fn forward(&self, x: &Tensor) -> Result<Tensor> {
//!         let h = Dense::new(4).forward(x)?;
//!         Dense::new(2).forward(&h)
//!     }
//! }
//!
//! let x = Tensor::new(DType::F32, [16, 9]);
//! let summary = tabulate(&Foo)
//!     .compute_flops(true)
//!     .compute_vjp_flops(true)
//!     .run(|foo| foo.forward(&x))?;
//! assert_eq!(summary.rows[1].path, ["Dense_0"]);
//! assert_eq!(summary.rows[1].flops(), Some(1216));
//! assert_eq!(summary.rows[1].vjp_flops(), Some(3620));
//! assert_eq!(summary.total().count, 50);
//! println!("{summary}");
//! # Ok::<(), tabulate::Error>(())
//! ```
//!
//! Modules are structs with `#[derive(Tabulate)]` and methods marked `#[forward]`.
//! Submodules held in fields are named after the fields (`dense`, `layers_0`); modules
//! built inside a method are named `{Type}_{n}`, as Flax names them. FLOPs are XLA's cost
//! analysis of what JAX would run, computed from per-primitive rules (see the crate's
//! `DESIGN.md`), so layers you write from [`Tensor`] operations are counted too.

pub use tabulate_core::{
    AxisName, CallArgs, ColorChoice, Column, DType, DTypeKind, Describe, Error, ErrorKind,
    ForwardOutput, Frozen, Initializer, Leaf, Location, MemoryEstimate, Metric, MetricValue,
    Metrics, ModuleIdentity, ModulePath, Mutable, Operand, OperatorCount, Optimizer, Param,
    RenderOptions, ReshapeArg, Result, Row, RowVariables, SCHEMA_VERSION, Shape, Size, Submodules,
    Summary, Tabulate, Tabulator, Tensor, TrainableSplit, Value, Variable, Visitor,
    is_mutable_collection, module_call, param, param_with, sow, sow_with, tabulate, variable,
    variable_with,
};
pub use tabulate_derive::{Describe, Tabulate, forward};

/// Built-in layers and functions mirroring `flax.linen`.
pub mod nn {
    pub use tabulate_core::nn::*;
}

/// Primitives without a [`Tensor`] method (`dot_general`, `conv_general_dilated`,
/// `reduce_window`, `take`, `argmax`), for mapping another framework's operations onto
/// `tabulate`'s.
pub mod lax {
    pub use tabulate_core::lax_api::*;
}

/// Random numbers as `jax.random` draws them, for stochastic layers of your own.
pub mod random {
    pub use tabulate_core::random::*;
}

/// The names most programs need: `use tabulate::prelude::*;`.
pub mod prelude {
    pub use crate::{
        DType, Describe, ModuleIdentity, Param, Result, Summary, Tabulate, Tensor, forward,
        tabulate,
    };
}

/// Not public API: what the macros' expansions refer to.
#[doc(hidden)]
pub mod __private {
    pub use tabulate_core::enter_call;
    pub use tabulate_core::probe::{
        FieldProbe, InCollection, ParamField, ViaConfig, ViaSubmodules, assert_param_field,
    };

    use crate::{Error, ForwardOutput, Result, Summary, Tabulate};

    /// Runs the body of a `#[forward]` method. Taking it as `FnOnce` moves `self` into the
    /// closure, so the body may return references into `self`.
    #[inline]
    pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
        body()
    }

    /// Wraps the receiver of a generated `summary` method for method resolution.
    pub struct SummaryProbe<'a, M: ?Sized>(pub &'a M);

    /// Chosen when the receiver is a module: summarises the call.
    pub trait ViaModule<M> {
        /// Runs `forward` under a summary with the default options.
        fn summarise<R: ForwardOutput>(&self, forward: impl FnOnce(&M) -> R) -> Result<Summary>;
    }

    impl<M: Tabulate> ViaModule<M> for SummaryProbe<'_, M> {
        fn summarise<R: ForwardOutput>(&self, forward: impl FnOnce(&M) -> R) -> Result<Summary> {
            crate::tabulate(self.0).run(forward)
        }
    }

    /// Chosen when the receiver is not a module. Then the `#[forward]` method that the
    /// `summary` calls cannot record its call and fails to compile, with the one error the
    /// user sees; this keeps `summary` from reporting the same mistake a second time.
    pub trait ViaNotModule<M: ?Sized> {
        /// Never runs in a program that compiles.
        fn summarise<R>(&self, forward: impl FnOnce(&M) -> R) -> Result<Summary>;
    }

    impl<M: ?Sized> ViaNotModule<M> for &SummaryProbe<'_, M> {
        fn summarise<R>(&self, _forward: impl FnOnce(&M) -> R) -> Result<Summary> {
            Err(Error::invalid(format!(
                "`{}` is not a module",
                ::core::any::type_name::<M>()
            )))
        }
    }
}

/// The README's code, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

// Lets the `::tabulate::…` paths that the macros emit resolve inside this crate's own tests.
extern crate self as tabulate;
