//! `ResNet-50 v1.5` as torchvision builds it (`torchvision.models.resnet50`: the stride of a
//! bottleneck is on its 3×3 convolution, not its first 1×1), channels last, in evaluation
//! mode (`BatchNorm` reads its running averages), on one 224×224 RGB image
//! `float32[1, 224, 224, 3]`.
//!
//! Parameters: 25,557,032 in `params` — torchvision's published count
//! (`ResNet50_Weights`, `num_params`), which counts `BatchNorm`'s scale and bias but not
//! its running mean and variance; those are the 53,120 of `batch_stats` (Keras counts
//! them, and a bias on every convolution, for its 25,636,712). Padding is torchvision's
//! explicit padding (3 for the 7×7 stem, 1 for 3×3), not `SAME`.

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

/// 1×1 down to `planes`, 3×3 (strided), 1×1 up to `4 · planes`, and a shortcut.
#[derive(Tabulate)]
pub struct Bottleneck {
    conv1: Conv,
    bn1: BatchNorm,
    conv2: Conv,
    bn2: BatchNorm,
    conv3: Conv,
    bn3: BatchNorm,
    down: Option<Downsample>,
}

impl Bottleneck {
    const EXPANSION: usize = 4;

    fn new(planes: usize, stride: usize, downsample: bool) -> Bottleneck {
        Bottleneck {
            conv1: conv(planes, 1, 1, 0),
            bn1: BatchNorm::new(true),
            conv2: conv(planes, 3, stride, 1),
            bn2: BatchNorm::new(true),
            conv3: conv(planes * Self::EXPANSION, 1, 1, 0),
            bn3: BatchNorm::new(true),
            down: downsample.then(|| Downsample::new(planes * Self::EXPANSION, stride)),
        }
    }

    /// `relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x))`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out = relu(&self.bn1.forward(&self.conv1.forward(x)?)?)?;
        let out = relu(&self.bn2.forward(&self.conv2.forward(&out)?)?)?;
        let out = self.bn3.forward(&self.conv3.forward(&out)?)?;
        let identity = match &self.down {
            Some(down) => down.forward(x)?,
            None => x.clone(),
        };
        relu(&out.add(&identity)?)
    }
}

/// `ResNet-50`: a 7×7 stem, four stages of bottlenecks, global average pooling and a
/// 1000-way classifier.
#[derive(Tabulate)]
pub struct ResNet {
    conv1: Conv,
    bn1: BatchNorm,
    layer1: Vec<Bottleneck>,
    layer2: Vec<Bottleneck>,
    layer3: Vec<Bottleneck>,
    layer4: Vec<Bottleneck>,
    fc: Dense,
}

impl ResNet {
    /// `ResNet-50` (`[3, 4, 6, 3]` bottlenecks) with 1000 classes.
    pub fn resnet50() -> ResNet {
        let mut inplanes = 64;
        let mut stage = |planes: usize, blocks: usize, stride: usize| {
            (0..blocks)
                .map(|i| {
                    let stride = if i == 0 { stride } else { 1 };
                    let down = stride != 1 || inplanes != planes * Bottleneck::EXPANSION;
                    inplanes = planes * Bottleneck::EXPANSION;
                    Bottleneck::new(planes, stride, down)
                })
                .collect()
        };
        ResNet {
            conv1: conv(64, 7, 2, 3),
            bn1: BatchNorm::new(true),
            layer1: stage(64, 3, 1),
            layer2: stage(128, 4, 2),
            layer3: stage(256, 6, 2),
            layer4: stage(512, 3, 2),
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
    let summary = tabulate(&ResNet::resnet50())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&x))?;
    println!("{summary}");
    Ok(())
}
