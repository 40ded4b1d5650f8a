//! The tests of Flax's `tests/linen/summary_test.py` that use the lifted `nn.scan`
//! (`test_lifted_transform`, `test_lifted_transform_no_rename`), ported with the same
//! model and call. Flax's tests check a few substrings of the table; here the whole table
//! must be Flax's text (`tests/golden/summary_test/*.txt`, made by
//! `scripts/summary_test_port.py` with Flax's test console, `CONSOLE_TEST_KWARGS`), FLOPs
//! and VJP FLOPs included.

use std::path::Path;

use tabulate::RenderOptions;
use tabulate::nn::{self, LSTMCell, RNNCell};
use tabulate::prelude::*;

/// Flax's table of test `name`.
fn flax(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/summary_test")
        .join(format!("{name}.txt"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `summary_test.py`'s `LSTM`: an `LSTMCell` scanned over axis 1 with broadcast
/// parameters, named `ScanLSTM` (or auto-named `ScanLSTMCell_0`).
#[derive(Tabulate)]
#[allow(clippy::upper_case_acronyms)] // Flax's class name, shown in the table
struct LSTM {
    features: usize,
    rename: bool,
}

impl LSTM {
    #[forward]
    fn forward(&self, #[kwarg] x: &Tensor) -> Result<((Tensor, Tensor), Tensor)> {
        // `nn.LSTMCell(self.features).initialize_carry(random.key(0), x[:, 0].shape)`.
        let carry = LSTMCell::new(self.features).initialize_carry(&[x.dim(0)?, x.dim(2)?])?;
        let scan = nn::scan(LSTMCell::new(self.features))
            .variable_broadcast("params")
            .split_rngs([("params", false)])
            .in_axes(1)
            .out_axes(1);
        let scan = if self.rename {
            scan.name("ScanLSTM")
        } else {
            scan
        };
        scan.call(&carry, x, LSTMCell::forward)
    }
}

fn table(rename: bool) -> String {
    let lstm = LSTM {
        features: 128,
        rename,
    };
    // `x=jnp.ones((32, 128, 64))`: an input array of that shape.
    let x = Tensor::new(DType::F32, [32, 128, 64]);
    tabulate(&lstm)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .expect("runs")
        .render(&RenderOptions::new().width(10_000))
}

fn assert_lines(ours: &str, flax: &str) {
    for (i, (a, b)) in ours.lines().zip(flax.lines()).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert_eq!(ours, flax);
}

#[test]
fn test_lifted_transform() {
    let ours = table(true);
    let lines: Vec<&str> = ours.lines().collect();
    // Flax's own assertions.
    assert!(lines[5].contains("LSTM"));
    assert!(lines[9].contains("ScanLSTM"));
    assert!(lines[9].contains("LSTMCell"));
    assert!(lines[13].contains("ScanLSTM/ii"));
    assert!(lines[13].contains("Dense"));
    assert_lines(&ours, &flax("test_lifted_transform"));
}

#[test]
fn test_lifted_transform_no_rename() {
    let ours = table(false);
    let lines: Vec<&str> = ours.lines().collect();
    assert!(lines[5].contains("LSTM"));
    assert!(lines[9].contains("ScanLSTMCell_0"));
    assert!(lines[9].contains("LSTMCell"));
    assert!(lines[13].contains("ScanLSTMCell_0/ii"));
    assert!(lines[13].contains("Dense"));
    assert_lines(&ours, &flax("test_lifted_transform_no_rename"));
}
