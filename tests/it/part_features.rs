//! Issue 8, items 4 and 7, beyond the tables of `tests/it/flax_summary_test.rs`: the forms
//! `reshape` takes, the JSON of partitioned and sown variables, and the errors of `sow`.

use tabulate::nn::{Dense, initializers, with_partitioning};
use tabulate::prelude::*;
use tabulate::{ErrorKind, Mutable};

#[test]
fn reshape_takes_usize_and_signed_forms() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [2, 3, 4]);
    let dims = |t: Tensor| t.shape().dims().to_vec();
    let slice: &[usize] = &[6, 4];
    assert_eq!(dims(x.reshape(slice)?), [6, 4]);
    assert_eq!(dims(x.reshape([4_usize, 6])?), [4, 6]);
    let array: &[usize; 1] = &[24];
    assert_eq!(dims(x.reshape(array)?), [24]);
    assert_eq!(dims(x.reshape(vec![2_usize, 12])?), [2, 12]);
    let wide = vec![3_i64, -1];
    assert_eq!(dims(x.reshape(&wide)?), [3, 8]);
    assert_eq!(wide.len(), 2);
    assert_eq!(dims(x.reshape([-1, 2])?), [12, 2]); // literals: i32
    let signed: &[isize] = &[2, -1, 3];
    assert_eq!(dims(x.reshape(signed)?), [2, 4, 3]);
    Ok(())
}

#[test]
fn reshape_rejects_what_numpy_rejects() {
    let x = Tensor::new(DType::F32, [2, 3, 4]);
    for (what, result) in [
        ("wrong size", x.reshape([5_usize, 5])),
        ("two -1", x.reshape([-1, -1])),
        ("negative", x.reshape([-2, 12])),
        ("indivisible", x.reshape([5, -1])),
    ] {
        let err = result.expect_err(what);
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Shape {
                    op: "Tensor::reshape",
                    ..
                }
            ),
            "{what}: {err}"
        );
    }
}

#[derive(Tabulate)]
struct Probe;

impl Probe {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = Dense::new(3)
            .kernel_init(with_partitioning(
                initializers::lecun_normal(),
                [None, Some("mlp")],
            ))
            .forward(x)?;
        tabulate::sow("probes", "h", &h)?;
        Ok(h)
    }
}

/// JSON export: `partition` on a partitioned leaf, `values` for sown tuples (value trees
/// as the inputs and outputs are written); neither when absent (so existing exports are unchanged).
#[test]
fn json_carries_partitions_and_sown_values() {
    let x = Tensor::new(DType::F32, [2, 4]);
    let summary = Probe.summary(&x).expect("summary");
    let json = serde_json::to_value(&summary).expect("serialises");
    let rows = json["rows"].as_array().expect("rows");
    let root = &rows[0]["variables"]["probes"];
    assert_eq!(
        root["values"]["h"],
        serde_json::json!({
            "kind": "sequence",
            "items": [{"kind": "array", "dtype": "float32", "shape": [2, 3]}]
        })
    );
    assert_eq!(
        (root["count"].as_u64(), root["bytes"].as_u64()),
        (Some(6), Some(24))
    );
    let dense = &rows[1]["variables"]["params"]["own"];
    assert_eq!(
        dense["kernel"]["partition"],
        serde_json::json!([null, "mlp"])
    );
    assert!(dense["bias"].get("partition").is_none(), "{dense}");
    assert!(rows[1]["variables"]["params"].get("values").is_none());
}

#[derive(Tabulate)]
struct SowsOverAParam;

impl SowsOverAParam {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        tabulate::param("h", DType::F32, [2])?;
        tabulate::sow("params", "h", x)?;
        Ok(x.clone())
    }
}

#[derive(Tabulate)]
struct GrowingSum;

impl GrowingSum {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let empty = || Tensor::zeros(DType::F32, [0, 3]);
        let concat = |a: &Tensor, b: &Tensor| Tensor::concatenate(&[a, b], 0);
        tabulate::sow_with("stats", "all", x, empty, concat)?;
        tabulate::sow_with("stats", "all", x, empty, concat)?;
        Ok(x.clone())
    }
}

#[test]
fn sow_errors_name_the_call() {
    let x = Tensor::new(DType::F32, [2, 3]);
    let err = SowsOverAParam.summary(&x).expect_err("a param named h");
    assert_eq!(
        err.to_string(),
        "SowsOverAParam: sow: `h` in collection `params` holds a variable, not the tuple `sow` appends to"
    );
    let err = GrowingSum.summary(&x).expect_err("the stored value grows");
    assert_eq!(
        err.location().map(|l| l.module.as_str()),
        Some("GrowingSum")
    );
    assert!(
        err.to_string()
            .contains("variable `all` in collection `stats`"),
        "{err}"
    );

    // Outside a module call but inside a run.
    let err = tabulate(&Probe)
        .run(|m| {
            tabulate::sow("probes", "h", &x)?;
            m.forward(&x)
        })
        .expect_err("sow outside a call");
    assert!(
        matches!(err.kind(), ErrorKind::OutsideModule { what: "sow" }),
        "{err}"
    );
    // Outside a run: nothing to store.
    assert!(!tabulate::sow("probes", "h", &x).expect("no run"));
}

/// Flax's `mutable=['intermediates']` (no `params`) cannot create parameters; with
/// `mutable=False` nothing can be declared, and `sow` into a collection that is not
/// mutable stores nothing (it returns `false`).
#[test]
fn sow_returns_whether_it_stored() {
    #[derive(Tabulate)]
    struct Flags;
    impl Flags {
        #[forward]
        fn forward(&self, x: &Tensor) -> Result<(bool, bool)> {
            Ok((
                tabulate::sow("intermediates", "a", x)?,
                tabulate::sow("other", "b", x)?,
            ))
        }
    }
    let x = Tensor::new(DType::F32, [2]);
    let outputs = |mutable: Mutable| {
        let summary = tabulate(&Flags)
            .mutable(mutable)
            .run(|m| m.forward(&x))
            .expect("summary");
        (summary.rows[0].outputs.clone(), summary.collections.clone())
    };
    let (out, cols) = outputs(Mutable::default());
    assert_eq!(
        out,
        tabulate::Value::sequence([
            tabulate::Value::object("False"),
            tabulate::Value::object("True")
        ])
    );
    assert_eq!(cols, ["other"]);
    let (_, cols) = outputs(Mutable::All);
    assert_eq!(cols, ["intermediates", "other"]);
    let (_, cols) = outputs(Mutable::Nothing);
    assert!(cols.is_empty());
}
