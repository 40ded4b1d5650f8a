//! `ResNet-18` as torchvision builds it (`torchvision.models.resnet18`), channels last, in
//! evaluation mode (`BatchNorm` reads its running averages), on one 224×224 RGB image
//! `float32[1, 224, 224, 3]`.
//!
//! Parameters: 11,689,512 in `params` — torchvision's published count
//! (`ResNet18_Weights.IMAGENET1K_V1`, `num_params`), which counts `BatchNorm`'s scale and
//! bias but not its running mean and variance; those are the 9,600 of `batch_stats`.
//! Padding is torchvision's explicit padding (3 for the 7×7 stem, 1 for 3×3), not `SAME`.

use tabulate::nn::{BatchNorm, Conv, Dense, Padding, PoolPadding, max_pool, relu};
use tabulate::prelude::*;

/// A convolution without bias, padded as torchvision pads it.
fn conv(features: usize, kernel: usize, stride: usize, pad: i64) -> Conv {
    Conv::new(features, [kernel, kernel])
        .strides([stride, stride])
        .padding(Padding::Explicit(vec![(pad, pad); 2]))
        .use_bias(false)
}

/// The projection shortcut: a strided 1×1 convolution and its `BatchNorm`.
#[derive(Tabulate)]
pub struct Downsample {
    conv: Conv,
    bn: BatchNorm,
}

impl Downsample {
    fn new(features: usize, stride: usize) -> Downsample {
        Downsample {
            conv: conv(features, 1, stride, 0),
            bn: BatchNorm::new(true),
        }
    }

    /// `bn(conv(x))`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.bn.forward(&self.conv.forward(x)?)
    }
}

/// Two 3×3 convolutions and a shortcut.
#[derive(Tabulate)]
pub struct BasicBlock {
    conv1: Conv,
    bn1: BatchNorm,
    conv2: Conv,
    bn2: BatchNorm,
    down: Option<Downsample>,
}

impl BasicBlock {
    /// A block to `planes` channels; `downsample` adds the projection shortcut.
    pub fn new(planes: usize, stride: usize, downsample: bool) -> BasicBlock {
        BasicBlock {
            conv1: conv(planes, 3, stride, 1),
            bn1: BatchNorm::new(true),
            conv2: conv(planes, 3, 1, 1),
            bn2: BatchNorm::new(true),
            down: downsample.then(|| Downsample::new(planes, stride)),
        }
    }

    /// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out = relu(&self.bn1.forward(&self.conv1.forward(x)?)?)?;
        let out = self.bn2.forward(&self.conv2.forward(&out)?)?;
        let identity = match &self.down {
            Some(down) => down.forward(x)?,
            None => x.clone(),
        };
        relu(&out.add(&identity)?)
    }
}

/// `ResNet-18`: a 7×7 stem, four stages of two basic blocks, global average pooling and a
/// 1000-way classifier.
#[derive(Tabulate)]
pub struct ResNet {
    conv1: Conv,
    bn1: BatchNorm,
    layer1: Vec<BasicBlock>,
    layer2: Vec<BasicBlock>,
    layer3: Vec<BasicBlock>,
    layer4: Vec<BasicBlock>,
    fc: Dense,
}

impl ResNet {
    /// `ResNet-18` (`[2, 2, 2, 2]` basic blocks) with 1000 classes.
    pub fn resnet18() -> ResNet {
        let stage = |planes: usize, stride: usize| {
            let down = stride != 1 || planes != 64;
            vec![
                BasicBlock::new(planes, stride, down),
                BasicBlock::new(planes, 1, false),
            ]
        };
        ResNet {
            conv1: conv(64, 7, 2, 3),
            bn1: BatchNorm::new(true),
            layer1: stage(64, 1),
            layer2: stage(128, 2),
            layer3: stage(256, 2),
            layer4: stage(512, 2),
            fc: Dense::new(1000),
        }
    }

    /// Class logits of `NHWC` images.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = relu(&self.bn1.forward(&self.conv1.forward(x)?)?)?;
        let mut x = max_pool(
            &x,
            &[3, 3],
            Some(&[2, 2]),
            &PoolPadding::Explicit(vec![(1, 1); 2]),
        )?;
        for stage in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            for block in stage {
                x = block.forward(&x)?;
            }
        }
        let x = x.mean(&[1, 2], false)?; // adaptive average pooling to 1×1, flattened
        self.fc.forward(&x)
    }
}

#[allow(dead_code)] // the zoo tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [1, 224, 224, 3]);
    let summary = tabulate(&ResNet::resnet18())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&x))?;
    println!("{summary}");
    Ok(())
}
