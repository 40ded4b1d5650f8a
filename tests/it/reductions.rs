//! Every reduction of `Tensor` and `nn` on every dtype, against jax 0.10.2 / Flax 0.12.8:
//! the output dtype and shape, and Flax's `flops` and `vjp_flops` of a module whose
//! `__call__` is the one reduction on a `[3, 4]` input (`tests/golden/reductions.json`,
//! written by `scripts/reductions.py`). Where jax refuses the dtype, tabulate must refuse
//! it too, with an error.

use crate::jax_cases;
use serde_json::Value as Json;
use tabulate::nn;
use tabulate::prelude::*;

/// One reduction applied to its input.
#[derive(Tabulate)]
struct Reduce {
    #[tabulate(skip)]
    reduction: String,
}

impl Reduce {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self.reduction.as_str() {
            "sum" => x.sum(&[1], false),
            "sum_all" => x.sum(&[], false),
            "sum_keepdims" => x.sum(&[1], true),
            "mean" => x.mean(&[1], false),
            "mean_keepdims" => x.mean(&[1], true),
            "max" => x.max(&[1], false),
            "min" => x.min(&[1], false),
            "argmax" => x.argmax(-1),
            "any" => x.any(&[1]),
            "all" => x.all(&[1]),
            "logsumexp" => nn::logsumexp_with(x, &[-1], false),
            "softmax" => nn::softmax_with(x, -1),
            "log_softmax" => nn::log_softmax_with(x, -1),
            other => panic!("unknown reduction {other}"),
        }
    }
}

#[test]
fn every_reduction_on_every_dtype_matches_jax_and_flax() {
    let text = include_str!("../golden/reductions.json");
    let golden: Json = serde_json::from_str(text).expect("JSON");
    let cases = golden["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 13 * 9);
    let mut wrong = Vec::new();
    for case in cases {
        let reduction = case["reduction"].as_str().unwrap();
        let dtype_name = case["dtype"].as_str().unwrap();
        let x = jax_cases::input(case);
        let module = Reduce {
            reduction: reduction.to_owned(),
        };
        let summary = tabulate(&module)
            .compute_flops(true)
            .compute_vjp_flops(true)
            .run(|m| m.forward(&x));
        let got = match (&summary, case.get("error")) {
            // jax's message starts with the primitive that refuses (`sub does not accept
            // dtype bool`): ours must name the same operation.
            (Err(e), Some(theirs)) => {
                let prim = theirs.as_str().unwrap().split_whitespace().nth(1).unwrap();
                if e.to_string().contains(&format!(": {prim}: ")) {
                    continue;
                }
                format!("error {e}, want one from `{prim}` ({theirs})")
            }
            (Ok(_), Some(e)) => format!("accepted what jax refuses ({e})"),
            (Err(e), None) => format!("error {e}"),
            (Ok(s), None) => match jax_cases::row_mismatch(case, s) {
                None => continue,
                Some(mismatch) => mismatch,
            },
        };
        wrong.push(format!("{reduction} {dtype_name}: {got}"));
    }
    assert!(
        wrong.is_empty(),
        "{} pairs differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
