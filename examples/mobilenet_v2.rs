//! `MobileNetV2` (width 1.0) as torchvision builds it (`torchvision.models.mobilenet_v2`),
//! channels last, in evaluation mode (`BatchNorm` reads its running averages), on one
//! 224×224 RGB image `float32[1, 224, 224, 3]`.
//!
//! Parameters: 3,504,872 in `params` — torchvision's published count
//! (`MobileNet_V2_Weights`), which counts `BatchNorm`'s scale and bias but not its
//! running mean and variance; those are the 34,112 of `batch_stats` (Keras counts them as
//! non-trainable parameters for its 3,538,984). Padding is torchvision's explicit
//! padding; the classifier's dropout is the identity in evaluation and is not written.

use tabulate::nn::{BatchNorm, Conv, Dense, Padding, relu};
use tabulate::prelude::*;

/// `ReLU6`: `min(relu(x), 6)`, from `relu` and a `Tensor` operation.
fn relu6(x: &Tensor) -> Result<Tensor> {
    relu(x)?.minimum(6.0)
}

/// torchvision's `Conv2dNormActivation`: convolution without bias, `BatchNorm`, `ReLU6`.
#[derive(Tabulate)]
pub struct ConvBNReLU {
    conv: Conv,
    bn: BatchNorm,
}

impl ConvBNReLU {
    fn new(features: usize, kernel: usize, stride: usize, groups: usize) -> ConvBNReLU {
        let pad = i64::try_from((kernel - 1) / 2).expect("small kernel");
        ConvBNReLU {
            conv: Conv::new(features, [kernel, kernel])
                .strides([stride, stride])
                .padding(Padding::Explicit(vec![(pad, pad); 2]))
                .feature_group_count(groups)
                .use_bias(false),
            bn: BatchNorm::new(true),
        }
    }

    /// `relu6(bn(conv(x)))`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        relu6(&self.bn.forward(&self.conv.forward(x)?)?)
    }
}

/// An inverted residual: 1×1 expansion (unless the ratio is 1), 3×3 depthwise, linear
/// 1×1 projection, and a residual when the shape is kept.
#[derive(Tabulate)]
pub struct InvertedResidual {
    expand: Option<ConvBNReLU>,
    depthwise: ConvBNReLU,
    project: Conv,
    bn: BatchNorm,
    use_residual: bool,
}

impl InvertedResidual {
    fn new(inp: usize, oup: usize, stride: usize, expand_ratio: usize) -> InvertedResidual {
        let hidden = inp * expand_ratio;
        InvertedResidual {
            expand: (expand_ratio != 1).then(|| ConvBNReLU::new(hidden, 1, 1, 1)),
            depthwise: ConvBNReLU::new(hidden, 3, stride, hidden),
            project: Conv::new(oup, [1, 1])
                .padding(Padding::Explicit(vec![(0, 0); 2]))
                .use_bias(false),
            bn: BatchNorm::new(true),
            use_residual: stride == 1 && inp == oup,
        }
    }

    /// `x + bn(project(depthwise(expand(x))))`, or without `x` when the shape changes.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        if let Some(expand) = &self.expand {
            h = expand.forward(&h)?;
        }
        let h = self
            .bn
            .forward(&self.project.forward(&self.depthwise.forward(&h)?)?)?;
        if self.use_residual { x.add(&h) } else { Ok(h) }
    }
}

/// `(expansion t, channels c, repeats n, first stride s)` of each stage.
const STAGES: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

/// `MobileNetV2`: a strided 3×3 stem, 17 inverted residuals, a 1×1 convolution to 1280,
/// global average pooling and a 1000-way classifier.
#[derive(Tabulate)]
pub struct MobileNetV2 {
    stem: ConvBNReLU,
    blocks: Vec<InvertedResidual>,
    head: ConvBNReLU,
    classifier: Dense,
}

impl Default for MobileNetV2 {
    fn default() -> MobileNetV2 {
        let mut blocks = Vec::new();
        let mut inp = 32;
        for (t, c, n, s) in STAGES {
            for i in 0..n {
                blocks.push(InvertedResidual::new(inp, c, if i == 0 { s } else { 1 }, t));
                inp = c;
            }
        }
        MobileNetV2 {
            stem: ConvBNReLU::new(32, 3, 2, 1),
            blocks,
            head: ConvBNReLU::new(1280, 1, 1, 1),
            classifier: Dense::new(1000),
        }
    }
}

impl MobileNetV2 {
    /// Class logits of `NHWC` images.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = self.stem.forward(x)?;
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        let x = self.head.forward(&x)?;
        let x = x.mean(&[1, 2], false)?; // adaptive average pooling to 1×1, flattened
        self.classifier.forward(&x)
    }
}

#[allow(dead_code)] // the zoo tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [1, 224, 224, 3]);
    let summary = tabulate(&MobileNetV2::default())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&x))?;
    println!("{summary}");
    Ok(())
}
