//! `Tensor::powi` (`lax.integer_pow`) for every exponent from −3 to 8 on float, integer and
//! boolean dtypes, against jax 0.10.2 / Flax 0.12.8: the output dtype, and Flax's `flops` and
//! `vjp_flops` of a module whose `__call__` is the one power on a `[3, 4]` input
//! (`tests/golden/integer_pow.json`, written by `scripts/integer_pow.py`). The derivative
//! follows JAX's `_integer_pow_jvp`, which passes the tangent through for `y = 1` and
//! multiplies by `x` itself for `y = 2`; where jax refuses (an integer to a negative
//! power), tabulate must refuse too.

use crate::jax_cases;
use serde_json::Value as Json;
use tabulate::prelude::*;

/// `x ** y` on its input.
#[derive(Tabulate)]
struct Pow {
    #[tabulate(skip)]
    y: i32,
}

impl Pow {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.powi(self.y)
    }
}

#[test]
fn every_exponent_on_every_dtype_matches_jax_and_flax() {
    let text = include_str!("../golden/integer_pow.json");
    let golden: Json = serde_json::from_str(text).expect("JSON");
    let cases = golden["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 12 * 6);
    let mut wrong = Vec::new();
    for case in cases {
        let y = i32::try_from(case["y"].as_i64().unwrap()).unwrap();
        let dtype_name = case["dtype"].as_str().unwrap();
        let x = jax_cases::input(case);
        let summary = tabulate(&Pow { y })
            .compute_flops(true)
            .compute_vjp_flops(true)
            .run(|m| m.forward(&x));
        let got = match (&summary, case.get("error")) {
            (Err(e), Some(_)) if e.to_string().contains(": integer_pow: ") => continue,
            (Err(e), Some(theirs)) => format!("error {e}, want one from integer_pow ({theirs})"),
            (Ok(_), Some(e)) => format!("accepted what jax refuses ({e})"),
            (Err(e), None) => format!("error {e}"),
            (Ok(s), None) => match jax_cases::row_mismatch(case, s) {
                None => continue,
                Some(mismatch) => mismatch,
            },
        };
        wrong.push(format!("y = {y}, {dtype_name}: {got}"));
    }
    assert!(
        wrong.is_empty(),
        "{} cases differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn what_jax_refuses_is_a_located_error() {
    let run = |dtype: DType, y: i32| {
        let x = Tensor::new(dtype, [3, 4]);
        tabulate(&Pow { y })
            .run(|m| m.forward(&x))
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        run(DType::I32, -1),
        "Pow: Tensor::powi: integer_pow: integers cannot be raised to a negative power, got int32[3,4] to the power -1"
    );
    assert_eq!(
        run(DType::Bool, 2),
        "Pow: Tensor::powi: integer_pow: needs a numeric operand, got bool[3,4]"
    );
}
