//! The entry point: `tabulate(&model)`, its options, and the run that ties the stages
//! together (trace → costs → rows).

use crate::error::{Error, ErrorKind, Result};
use crate::module::Tabulate;
use crate::options::Mutable;
use crate::summary::Summary;
use crate::summary::collect::{Selection, collect};
use crate::trace::{self, ForwardOutput};

/// Starts a summary of `model`; set options, then [`Tabulator::run`] a forward pass.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let dense = Dense::new(4);
/// let summary = tabulate(&dense).compute_flops(true).run(|d| d.forward(&x))?;
/// assert_eq!(summary.rows[0].flops, Some(1216));
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn tabulate<M: Tabulate>(model: &M) -> Tabulator<'_, M> {
    Tabulator {
        model,
        depth: None,
        show_repeated: false,
        mutable: Mutable::default(),
        compute_flops: false,
        compute_vjp_flops: false,
        rngs: Vec::new(),
    }
}

/// The options of a summary, as Flax's `nn.tabulate` takes them.
#[derive(Debug)]
#[must_use = "a Tabulator does nothing until `run`"]
pub struct Tabulator<'a, M> {
    model: &'a M,
    depth: Option<usize>,
    show_repeated: bool,
    mutable: Mutable,
    compute_flops: bool,
    compute_vjp_flops: bool,
    rngs: Vec<String>,
}

impl<M: Tabulate> Tabulator<'_, M> {
    /// Shows modules up to `depth` levels deep (0: the root only); a row at the limit
    /// counts the variables of its whole subtree. Default: no limit.
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = Some(depth);
        self
    }

    /// Also shows repeated calls of a module (shared weights, other methods), with empty
    /// variable cells. Default: `false`.
    pub fn show_repeated(mut self, show: bool) -> Self {
        self.show_repeated = show;
        self
    }

    /// Which variable collections may be created and written. Default: all but
    /// `intermediates`.
    pub fn mutable(mut self, mutable: Mutable) -> Self {
        self.mutable = mutable;
        self
    }

    /// Adds a `flops` column: XLA's flops of each call's forward pass. Default: `false`.
    pub fn compute_flops(mut self, compute: bool) -> Self {
        self.compute_flops = compute;
        self
    }

    /// Adds a `vjp_flops` column: XLA's flops of each call's forward pass plus its VJP
    /// with respect to its variables and array inputs. Default: `false`.
    pub fn compute_vjp_flops(mut self, compute: bool) -> Self {
        self.compute_vjp_flops = compute;
        self
    }

    /// The random streams the run provides besides `params` (Flax's
    /// `rngs={'params': …, 'dropout': …}`): a stochastic `Dropout` needs `dropout`.
    /// Default: only `params`.
    pub fn rngs<S: Into<String>>(mut self, streams: impl IntoIterator<Item = S>) -> Self {
        self.rngs = streams.into_iter().map(Into::into).collect();
        self
    }

    /// Runs `forward` on the model with abstract tensors and summarises the calls it made.
    pub fn run<R: ForwardOutput>(self, forward: impl FnOnce(&M) -> R) -> Result<Summary> {
        let (out, recording) = trace::run(self.model, self.mutable.clone(), &self.rngs, forward)?;
        if let Some(error) = out.failure() {
            return Err(error);
        }
        if recording.calls.is_empty() {
            return Err(Error::new(ErrorKind::NoCall));
        }
        let selection = Selection {
            depth: self.depth,
            show_repeated: self.show_repeated,
            flops: self.compute_flops,
            vjp_flops: self.compute_vjp_flops,
        };
        collect(&recording, self.model.type_name(), selection)
    }
}
