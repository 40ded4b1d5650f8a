//! What the tests against generated jax/Flax cases share (`reductions.rs`,
//! `integer_pow.rs`): a case's input, and its one row compared with Flax's.

use serde_json::Value as Json;
use tabulate::prelude::*;
use tabulate::{Summary, Value};

/// The input a case describes: `{"dtype": "float32", "shape": [3, 4], …}`.
pub(crate) fn input(case: &Json) -> Tensor {
    let dtype = DType::from_name(case["dtype"].as_str().unwrap()).expect("dtype");
    let dims: Vec<usize> = case["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| usize::try_from(d.as_u64().unwrap()).unwrap())
        .collect();
    Tensor::new(dtype, dims)
}

/// The summary's first row against the case's `out` (dtype and shape), `flops` and
/// `vjp_flops`: `None` when they agree, else what differs.
pub(crate) fn row_mismatch(case: &Json, summary: &Summary) -> Option<String> {
    let row = &summary.rows[0];
    let out = match &row.outputs {
        Value::Array { dtype, shape, .. } => {
            serde_json::json!({"dtype": dtype.name(), "shape": shape.dims()})
        }
        other => serde_json::json!({ "not an array": format!("{other:?}") }),
    };
    let want = (
        case["out"].clone(),
        case["flops"].as_u64(),
        case["vjp_flops"].as_u64(),
    );
    let got = (out, row.flops(), row.vjp_flops());
    (got != want).then(|| format!("got {got:?}, want {want:?}"))
}
