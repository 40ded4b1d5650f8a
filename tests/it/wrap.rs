//! Lifted wrappers (`nn::remat`, `nn::SpectralNorm`, `nn::WeightNorm`) against real Flax
//! 0.12.8 / jax 0.10.2: every row's path, type, `flops` and `vjp_flops` as
//! `scripts/wrap_cases.py` prints them.

use tabulate::nn::{Dense, LayerNorm, SpectralNorm, WeightNorm, checkpoint, remat, vmap};
use tabulate::prelude::*;

fn rows(s: &Summary) -> Vec<(String, String, Option<u64>, Option<u64>)> {
    s.rows
        .iter()
        .map(|r| {
            (
                r.path.join("/"),
                r.module_type.clone(),
                r.flops(),
                r.vjp_flops(),
            )
        })
        .collect()
}

fn x() -> Tensor {
    Tensor::new(DType::F32, [16, 9])
}

#[derive(Tabulate)]
struct Blk;

impl Blk {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = Dense::new(5).forward(x)?.tanh()?;
        Dense::new(3).forward(&h)
    }
}

#[derive(Tabulate)]
struct RematBlock {
    remat: bool,
}

impl RematBlock {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = Dense::new(4).forward(x)?;
        let x = if self.remat {
            remat(Blk).call(|b| b.forward(&x))?
        } else {
            Blk.forward(&x)?
        };
        Dense::new(2).forward(&x)
    }
}

fn run<M: Tabulate>(m: &M, f: impl FnOnce(&M) -> Result<Tensor>) -> Summary {
    tabulate(m)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(f)
        .expect("runs")
}

#[test]
fn remat_recomputes_the_forward_pass_in_the_backward_pass() {
    let x = x();
    let plain = run(&RematBlock { remat: false }, |m| m.forward(&x));
    assert_eq!(
        rows(&plain)[0],
        (String::new(), "RematBlock".into(), Some(2688), Some(8237))
    );
    let s = run(&RematBlock { remat: true }, |m| m.forward(&x));
    let r = |p: &str, t: &str, f, v| (p.to_string(), t.to_string(), Some(f), Some(v));
    assert_eq!(
        rows(&s),
        [
            r("", "RematBlock", 2688, 8957),
            r("Dense_0", "Dense", 1216, 3620),
            r("CheckpointBlk_0", "Blk", 1248, 3971),
            r("CheckpointBlk_0/Dense_0", "Dense", 720, 2100),
            r("CheckpointBlk_0/Dense_1", "Dense", 528, 1551),
            r("Dense_1", "Dense", 224, 646),
        ]
    );
}

#[derive(Tabulate)]
struct RematDense;

impl RematDense {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = remat(Dense::new(4)).forward(x)?;
        let x = checkpoint(Dense::new(3).name("foo")).forward(&x)?;
        Dense::new(3).forward(&x)
    }
}

#[test]
fn remat_names_rows_after_checkpoint() {
    let x = x();
    let s = run(&RematDense, |m| m.forward(&x));
    let r = |p: &str, f, v| (p.to_string(), "Dense".to_string(), Some(f), Some(v));
    assert_eq!(
        rows(&s)[1..],
        [
            r("CheckpointDense_0", 1216, 3620),
            r("foo", 432, 1260),
            r("Dense_0", 336, 969),
        ]
    );
    assert_eq!(rows(&s)[0].2..rows(&s)[0].3, Some(1984)..Some(5849));
}

#[derive(Tabulate)]
struct Norms;

impl Norms {
    #[forward]
    fn forward(&self, x: &Tensor, #[kwarg] train: bool) -> Result<Tensor> {
        let x = SpectralNorm::new(Dense::new(4)).forward(x, train)?;
        WeightNorm::new(Dense::new(3)).forward(&x)
    }
}

#[test]
fn spectral_and_weight_norm_rows_and_numbers() {
    let x = x();
    for (train, root, sn) in [(false, 5619, 4185), (true, 5620, 4186)] {
        let s = run(&Norms, |m| m.forward(&x, train));
        let r = |p: &str, t: &str, f, v| (p.to_string(), t.to_string(), Some(f), Some(v));
        assert_eq!(
            rows(&s),
            [
                r("", "Norms", 1998, root),
                r("SpectralNorm_0", "SpectralNorm", 1518, sn),
                r("Dense_0", "Dense", 1216, 3620),
                r("WeightNorm_0", "WeightNorm", 480, 1434),
                r("Dense_1", "Dense", 432, 1260),
            ]
        );
    }
}

#[derive(Tabulate)]
struct BadWrapped;

impl BadWrapped {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = remat(Dense::new(4)).forward(x)?;
        SpectralNorm::new(tabulate::nn::Conv::new(2, [3]))
            .error_on_non_matrix(true)
            .forward(&x.reshape([16, 4, 1])?, false)
    }
}

#[test]
fn errors_name_the_wrapped_call() {
    // A shape error inside a checkpointed layer names its row.
    let bad = Tensor::new(DType::F32, [0usize; 0]);
    let error = tabulate(&BadWrapped).run(|m| m.forward(&bad)).unwrap_err();
    assert!(
        error.to_string().starts_with("CheckpointDense_0 (Dense): "),
        "{error}"
    );
    // Flax's error for a 3-D kernel with `error_on_non_matrix`, at the wrapper.
    let error = tabulate(&BadWrapped).run(|m| m.forward(&x())).unwrap_err();
    assert_eq!(
        error.to_string(),
        "SpectralNorm_0 (SpectralNorm): Input is 3D but error_on_non_matrix is True"
    );
}

#[derive(Tabulate)]
struct Mapped;

impl Mapped {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = vmap(Dense::new(4))
            .variable_axes("params", Some(0))
            .split_rngs("params", true)
            .forward(x)?;
        let x = vmap(Dense::new(3))
            .variable_axes("params", None)
            .split_rngs("params", false)
            .in_axes(Some(1))
            .out_axes(1)
            .forward(&x)?;
        let x = tabulate::nn::relu(&x)?;
        vmap(LayerNorm::new())
            .variable_axes("params", Some(0))
            .split_rngs("params", true)
            .in_axes(Some(2))
            .out_axes(0)
            .forward(&x)
    }
}

/// An array value as Flax's table shows it (`float32[16,9]`).
fn array(value: &tabulate::Value) -> String {
    match value {
        tabulate::Value::Array { dtype, shape, .. } => format!(
            "{dtype}[{}]",
            shape
                .dims()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => panic!("not an array: {other:?}"),
    }
}

fn io_and_params(s: &Summary) -> Vec<(String, String, String, Vec<String>)> {
    s.rows
        .iter()
        .map(|r| {
            (
                r.path.join("/"),
                array(&r.inputs),
                array(&r.outputs),
                r.variables
                    .iter()
                    .flat_map(|v| v.own.iter())
                    .map(|l| format!("{}: {:?}", l.name, l.shape.dims()))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn vmap_rows_show_one_example_and_stacked_variables() {
    let x = Tensor::new(DType::F32, [5, 16, 9]);
    let s = run(&Mapped, |m| m.forward(&x));
    let r = |p: &str, t: &str, f, v| (p.to_string(), t.to_string(), Some(f), Some(v));
    assert_eq!(
        rows(&s),
        [
            r("", "Mapped", 10220, 30127),
            r("VmapDense_0", "Dense", 1216, 3620),
            r("VmapDense_1", "Dense", 135, 402),
            r("VmapLayerNorm_0", "LayerNorm", 580, 1685),
        ]
    );
    let p = |s: &[&str]| s.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        io_and_params(&s)[1..],
        [
            (
                "VmapDense_0".into(),
                "float32[16,9]".into(),
                "float32[16,4]".into(),
                p(&["bias: [5, 4]", "kernel: [5, 9, 4]"])
            ),
            (
                "VmapDense_1".into(),
                "float32[5,4]".into(),
                "float32[5,3]".into(),
                p(&["bias: [3]", "kernel: [4, 3]"])
            ),
            (
                "VmapLayerNorm_0".into(),
                "float32[5,16]".into(),
                "float32[5,16]".into(),
                p(&["bias: [3, 16]", "scale: [3, 16]"])
            ),
        ]
    );
    assert_eq!(array(&s.rows[0].outputs), "float32[3,5,16]");
}

#[derive(Tabulate)]
struct SharedParams;

impl SharedParams {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        vmap(Dense::new(3)).variable_axes("params", None).forward(x)
    }
}

#[test]
fn vmap_with_shared_parameters() {
    let x = Tensor::new(DType::F32, [5, 16, 9]);
    let s = run(&SharedParams, |m| m.forward(&x));
    let r = |p: &str, t: &str, f, v| (p.to_string(), t.to_string(), Some(f), Some(v));
    assert_eq!(
        rows(&s),
        [
            r("", "SharedParams", 4560, 13467),
            r("VmapDense_0", "Dense", 912, 2715)
        ]
    );
}

#[derive(Tabulate)]
struct MappedConv;

impl MappedConv {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        vmap(tabulate::nn::Conv::new(4, [3])).forward(x)
    }
}

#[test]
fn vmap_of_an_unmodelled_primitive_is_an_error() {
    let x = Tensor::new(DType::F32, [5, 2, 8, 3]);
    let error = tabulate(&MappedConv).run(|m| m.forward(&x)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "MappedConv: vmap: batching `conv_general_dilated` is not modelled"
    );
}

/// Found by the `wrap` family (case `wrap-c0071`): `jnp.pad` of zero widths (a CIRCULAR
/// `ConvTranspose` with kernel 1) folds away, its padding value's conversion with it.
/// Flax: 512 and 1568.
#[test]
fn a_pad_of_zero_widths_folds_away() {
    let layer = tabulate::nn::ConvTranspose::new(2, [1])
        .padding(tabulate::nn::Padding::Circular)
        .use_bias(false);
    let x = Tensor::new(DType::F32, [4, 2, 16]);
    let s = run(&layer, |m| m.forward(&x));
    assert_eq!(
        (s.rows[0].flops(), s.rows[0].vjp_flops()),
        (Some(512), Some(1568))
    );
}

/// `relu(Dense(8)(x))`, the body of `scripts/remat_nested.py`.
#[derive(Tabulate)]
struct DenseBlock;

impl DenseBlock {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        tabulate::nn::relu(&Dense::new(8).forward(x)?)
    }
}

/// A checkpoint whose body is a checkpoint: `remat(Nested)` around `remat(DenseBlock)`.
#[derive(Tabulate)]
struct Nested;

impl Nested {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        remat(DenseBlock).call(|b| b.forward(x))
    }
}

#[derive(Tabulate)]
struct RematRoot {
    /// 2: a checkpoint around a checkpoint; 1: one checkpoint; 0: none.
    checkpoints: u8,
}

impl RematRoot {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self.checkpoints {
            2 => remat(Nested).call(|n| n.forward(x)),
            1 => remat(DenseBlock).call(|b| b.forward(x)),
            _ => DenseBlock.forward(x),
        }
    }
}

/// Both checkpoint regions of `remat(remat(f))` hold every node of the inner program; the
/// VJP once recursed without end there (a stack overflow, which aborts). Flax 0.12.8's
/// root rows, from `scripts/remat_nested.py`.
#[test]
fn a_checkpoint_around_a_checkpoint_has_a_vjp() {
    let x = Tensor::new(DType::F32, [4, 8]);
    let root = |checkpoints| {
        let s = run(&RematRoot { checkpoints }, |m| m.forward(&x));
        (s.rows[0].flops(), s.rows[0].vjp_flops())
    };
    assert_eq!(root(2), (Some(576), Some(2304)));
    assert_eq!(root(1), (Some(576), Some(2304)));
    assert_eq!(root(0), (Some(576), Some(1760)));
}
