//! Lifted wrappers (`nn::remat`, `nn::SpectralNorm`, `nn::WeightNorm`) against real Flax
//! 0.12.8 / jax 0.10.2: every row's path, type, `flops` and `vjp_flops` as
//! `scripts/wrap_cases.py` prints them.

use tabulate::nn::{Dense, SpectralNorm, WeightNorm, checkpoint, remat};
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
