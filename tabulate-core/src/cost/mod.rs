//! FLOPs of a row, computed as Flax asks XLA for them: the row's forward program
//! (`flops`) and the program of its VJP (`vjp_flops`), each folded, pruned of dead code
//! and costed per instruction in float32 (`reference/xla-cost-model.md` §7.8).

mod count;
mod fold;
pub(crate) mod linearize;
mod program;
pub(crate) mod transpose;
mod vjp;

use crate::error::Result;
use crate::trace::{CallRecord, Recording};

/// The forward and VJP flops of one call, each only when asked for.
pub(crate) fn call_flops(
    recording: &Recording,
    call: &CallRecord,
    forward: bool,
    backward: bool,
) -> Result<(Option<u64>, Option<u64>)> {
    let mut outputs = call.results.clone();
    outputs.extend(call.variables.iter().copied());
    let program = program::extract(&recording.graph, call.span.clone(), &outputs);
    let flops = forward.then(|| count::count(&program).flops);
    let vjp_flops = if backward {
        Some(count::count(&vjp::vjp_program(&program)?).flops)
    } else {
        None
    };
    Ok((flops, vjp_flops))
}
