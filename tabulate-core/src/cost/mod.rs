//! The costing stage: each shown row's metrics ([`metric`]). FLOPs are computed as Flax
//! asks XLA for them: the row's forward program (`flops`) and the program of its VJP
//! (`vjp_flops`), each folded, pruned of dead code and costed per instruction in float32
//! (`reference/xla-cost-model.md` §7.8). MACs, the per-operator breakdown and the saved
//! activations are exact integer counts over the same live instructions ([`tally`]).

mod compose;
mod count;
mod fold;
mod memo;
pub(crate) mod metric;
mod program;
mod tally;
mod vjp;

#[doc(hidden)]
pub use compose::{Reuse, ReuseStats, fallback_reasons, reuse_stats, set_reuse};
pub(crate) use memo::Memo;
pub use metric::{Metric, MetricValue, Metrics, OperatorCount};
pub(crate) use metric::{MetricOptions, ModelPrograms, RowScope, measure, overflow, variable_path};
