//! VGG-16 as torchvision builds it (`torchvision.models.vgg16`, configuration "D", no
//! `BatchNorm`), channels last, on one 224×224 RGB image `float32[1, 224, 224, 3]`.
//!
//! Parameters: 138,357,544 — torchvision's published count (`VGG16_Weights`), the same in
//! Keras; every parameter is a kernel or a bias. torchvision's adaptive average pooling
//! to 7×7 is the identity on a 224×224 image and its dropouts are the identity in
//! evaluation, so neither is written here. Flattening is channels last (`H, W, C`);
//! torchvision flattens `C, H, W`, which permutes the first classifier kernel's rows but
//! changes no count.

use tabulate::nn::{Conv, Dense, Padding, PoolPadding, max_pool, relu};
use tabulate::prelude::*;

/// Configuration "D": output channels of each 3×3 convolution, `None` for a 2×2 max pool.
const VGG16: [Option<usize>; 18] = [
    Some(64),
    Some(64),
    None,
    Some(128),
    Some(128),
    None,
    Some(256),
    Some(256),
    Some(256),
    None,
    Some(512),
    Some(512),
    Some(512),
    None,
    Some(512),
    Some(512),
    Some(512),
    None,
];

/// Thirteen 3×3 convolutions in five pooled stages, then three fully connected layers.
#[derive(Tabulate)]
#[allow(clippy::upper_case_acronyms)] // the name torchvision and Flax show
pub struct VGG {
    features: Vec<Conv>,
    classifier: Vec<Dense>,
}

impl VGG {
    /// VGG-16 with 1000 classes.
    pub fn vgg16() -> VGG {
        VGG {
            features: VGG16
                .iter()
                .flatten()
                .map(|&c| Conv::new(c, [3, 3]).padding(Padding::Explicit(vec![(1, 1); 2])))
                .collect(),
            classifier: vec![Dense::new(4096), Dense::new(4096), Dense::new(1000)],
        }
    }

    /// Class logits of `NHWC` images.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut convs = self.features.iter();
        let mut x = x.clone();
        for layer in VGG16 {
            x = match layer {
                Some(_) => {
                    let conv = convs.next().expect("one convolution per channel count");
                    relu(&conv.forward(&x)?)?
                }
                None => max_pool(&x, &[2, 2], Some(&[2, 2]), &PoolPadding::Valid)?,
            };
        }
        let batch = isize::try_from(x.dim(0)?).expect("batch fits isize");
        let mut x = x.reshape([batch, -1])?;
        let last = self.classifier.len() - 1;
        for (i, dense) in self.classifier.iter().enumerate() {
            x = dense.forward(&x)?;
            if i < last {
                x = relu(&x)?;
            }
        }
        Ok(x)
    }
}

#[allow(dead_code)] // the zoo tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [1, 224, 224, 3]);
    let summary = tabulate(&VGG::vgg16())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&x))?;
    println!("{summary}");
    Ok(())
}
