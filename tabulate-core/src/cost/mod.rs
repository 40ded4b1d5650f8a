//! FLOPs of a row, computed as Flax asks XLA for them: the row's forward program
//! (`flops`) and the program of its VJP (`vjp_flops`), each folded, pruned of dead code
//! and costed per instruction in float32 (`reference/xla-cost-model.md` §7.8).

mod count;
mod fold;
pub(crate) mod linearize;
mod program;
pub(crate) mod transpose;
mod vjp;

use crate::error::{Error, Location, Result};
use crate::trace::{CallRecord, Recording};

/// The forward and VJP flops of one call, each only when asked for.
pub(crate) fn call_flops(
    recording: &Recording,
    call: &CallRecord,
    forward: bool,
    backward: bool,
) -> Result<(Option<u64>, Option<u64>)> {
    let location = || Location {
        path: call.path.join("/"),
        module: call.type_name.clone(),
    };
    // A total XLA's float32 sum puts at 2^64 or more is reported, not shown saturated.
    let exact = |flops: u64, column: &str| {
        if flops == u64::MAX {
            Err(Error::located(
                crate::error::ErrorKind::InvalidArgument {
                    what: format!(
                        "{column}: the call's flop count does not fit in 64 bits (2^64 or more)"
                    ),
                },
                Some(location()),
            ))
        } else {
            Ok(flops)
        }
    };
    let mut outputs = call.results.clone();
    outputs.extend(call.variables.iter().copied());
    let program = program::extract(&recording.graph, call.span.clone(), &outputs);
    let flops = if forward {
        Some(exact(count::count(&program).flops, "flops")?)
    } else {
        None
    };
    let vjp_flops = if backward {
        let vjp = vjp::vjp_program(&program).map_err(|e| e.or_at(location))?;
        Some(exact(count::count(&vjp).flops, "vjp_flops")?)
    } else {
        None
    };
    Ok((flops, vjp_flops))
}
