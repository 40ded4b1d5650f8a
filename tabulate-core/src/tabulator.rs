//! The entry point: `tabulate(&model)`, its options, and the run that ties the stages
//! together (trace → shown calls → costs → rows).

use crate::call::ForwardOutput;
use crate::cost::{self, Metric};
use crate::error::{Error, ErrorKind, Result};
use crate::module::Tabulate;
use crate::options::Mutable;
use crate::summary::Summary;
use crate::summary::collect::{Selection, collect, shown_calls};
use crate::trace;

/// Starts a summary of `model`; set options, then [`Tabulator::run`] a forward pass.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let dense = Dense::new(4);
/// let summary = tabulate(&dense).compute_flops(true).run(|d| d.forward(&x))?;
/// assert_eq!(summary.rows[0].flops(), Some(1216));
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn tabulate<M: Tabulate>(model: &M) -> Tabulator<'_, M> {
    Tabulator {
        model,
        depth: None,
        show_repeated: false,
        mutable: Mutable::default(),
        metrics: Vec::new(),
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
    metrics: Vec<Metric>,
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
    pub fn compute_flops(self, compute: bool) -> Self {
        self.metric(Metric::Flops, compute)
    }

    /// Adds a `vjp_flops` column: XLA's flops of each call's forward pass plus its VJP
    /// with respect to its variables and array inputs. Default: `false`.
    pub fn compute_vjp_flops(self, compute: bool) -> Self {
        self.metric(Metric::VjpFlops, compute)
    }

    /// Adds (`true`) or removes (`false`) the column of `metric`. Columns appear in the
    /// order of [`Metric::ALL`] whatever the order of the calls. Default: none.
    pub fn metric(mut self, metric: Metric, compute: bool) -> Self {
        self.metrics.retain(|&m| m != metric);
        if compute {
            self.metrics.push(metric);
            self.metrics.sort_unstable();
        }
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
        };
        let shown = shown_calls(&recording, selection);
        let mut memo = cost::Memo::new(shown.iter().map(|s| s.call.span.len()));
        let measured = shown
            .iter()
            .map(|s| cost::measure(&recording, s.call, &self.metrics, &mut memo))
            .collect::<Result<Vec<_>>>()?;
        Ok(collect(
            &recording,
            self.model.type_name(),
            &shown,
            self.metrics,
            measured,
        ))
    }
}
