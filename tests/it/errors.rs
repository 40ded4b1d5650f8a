//! Everything a user can get wrong at run time is an `Error` naming where it happened,
//! never a panic.

use tabulate::nn::Dense;
use tabulate::prelude::*;
use tabulate::{ErrorKind, Mutable};

fn x(shape: &[usize]) -> Tensor {
    Tensor::new(DType::F32, shape)
}

/// A projection whose weight does not fit its input.
#[derive(Tabulate)]
struct Projection;

impl Projection {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = tabulate::param("w", DType::F32, [8, 4])?;
        x.matmul(&w)
    }
}

#[derive(Tabulate)]
struct Block;

impl Block {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = Dense::new(9).forward(x)?;
        Projection.forward(&h)
    }
}

#[derive(Tabulate)]
struct Net;

impl Net {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Block.forward(x)
    }
}

#[test]
fn shape_errors_name_the_module_path_op_and_shapes() {
    let err = tabulate(&Net).run(|m| m.forward(&x(&[16, 3]))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Block_0/Projection_0 (Projection): Tensor::matmul: dot_general: contracting dimensions differ (9 vs 8): float32[16,9] × float32[8,4]"
    );
    let location = err.location().unwrap();
    assert_eq!(
        (location.path.as_str(), location.module.as_str()),
        ("Block_0/Projection_0", "Projection")
    );
    assert!(matches!(
        err.kind(),
        ErrorKind::Shape {
            op: "Tensor::matmul",
            ..
        }
    ));
}

#[derive(Tabulate)]
struct Reuse {
    dense: Dense,
}

impl Reuse {
    #[forward]
    fn forward(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.dense.forward(x)?;
        self.dense.forward(y)
    }
}

#[test]
fn a_shared_layer_on_a_different_width_is_an_error() {
    let model = Reuse {
        dense: Dense::new(2),
    };
    let err = tabulate(&model)
        .run(|m| m.forward(&x(&[1, 3]), &x(&[1, 5])))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "dense (Dense): variable `kernel` in collection `params` was declared as float32[3,2] and again as float32[5,2]"
    );
}

#[test]
fn immutable_collections_cannot_be_declared() {
    let err = tabulate(&Block)
        .mutable(Mutable::Nothing)
        .run(|m| m.forward(&x(&[2, 3])))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dense_0 (Dense): cannot declare variable `kernel` in collection `params`: the collection is not mutable (see the `mutable` option)"
    );
}

#[test]
fn shape_errors_outside_modules_have_no_location() {
    let err = (&x(&[16, 4]) + &x(&[3])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Tensor::add: incompatible shapes: float32[16,4] and float32[1,3]"
    );
    assert!(err.location().is_none());
    let err = Dense::new(2)
        .forward(&Tensor::new(DType::F32, []))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dense needs an input of rank 1 or more, got float32[]"
    );
}

#[test]
fn a_run_without_module_calls_is_an_error() {
    let input = x(&[2]);
    let err = tabulate(&Net).run(|_| input.exp()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NoCall);
}

#[test]
fn variables_outside_module_calls_are_an_error() {
    let err = tabulate(&Net)
        .run(|_| tabulate::param("w", DType::F32, [2]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "declaring a variable only works inside a module call made by a summary run"
    );
}

#[derive(Tabulate)]
struct Nested;

impl Nested {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        tabulate(&Net).run(|m| m.forward(x))?;
        Ok(x.clone())
    }
}

#[test]
fn nested_runs_are_an_error() {
    let err = tabulate(&Nested)
        .run(|m| m.forward(&x(&[2, 3])))
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Reentrant);
}

#[derive(Tabulate)]
struct Panics;

impl Panics {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Dense::new(2).forward(x)?;
        panic!("user code panicked");
    }
}

#[test]
fn a_panicking_model_leaves_the_thread_usable() {
    let input = x(&[2, 3]);
    let caught = std::panic::catch_unwind(|| tabulate(&Panics).run(|m| m.forward(&input)));
    assert!(caught.is_err());
    let dense = Dense::new(2);
    let ok = tabulate(&dense).run(|d| d.forward(&input)).unwrap();
    assert_eq!(ok.rows.len(), 1);
    assert_eq!(ok.total().count, 8);
}

#[test]
fn errors_of_other_types_are_carried() {
    #[derive(Tabulate)]
    struct Fallible;
    impl Fallible {
        #[forward]
        fn forward(&self, _x: &Tensor) -> std::result::Result<(), String> {
            Err("bad input".into())
        }
    }
    let err = tabulate(&Fallible)
        .run(|m| m.forward(&x(&[1])))
        .unwrap_err();
    assert_eq!(err.to_string(), "the forward pass failed: bad input");
}
