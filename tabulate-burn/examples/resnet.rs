//! A ResNet-style CNN (CIFAR-sized ResNet-18 layout: a 3×3 stem, four stages of two basic
//! blocks, global average pooling, a linear head) built from `burn::nn` modules, summarised
//! on an `f32[8, 3, 32, 32]` batch.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};

/// 1×1 convolution and batch norm on the shortcut when a block changes shape.
#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
}

/// Two 3×3 convolutions with batch norm and a residual connection.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    relu: Relu,
    downsample: Option<Downsample>,
}

fn conv3x3(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> BasicBlock {
        let downsample = (stride != 1 || c_in != c_out).then(|| Downsample {
            conv: Conv2dConfig::new([c_in, c_out], [1, 1])
                .with_stride([stride, stride])
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        });
        BasicBlock {
            conv1: conv3x3(c_in, c_out, stride, device),
            bn1: BatchNormConfig::new(c_out).init(device),
            conv2: conv3x3(c_out, c_out, 1, device),
            bn2: BatchNormConfig::new(c_out).init(device),
            relu: Relu::new(),
            downsample,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone())),
            None => x.clone(),
        };
        let y = self.relu.forward(self.bn1.forward(self.conv1.forward(x)));
        let y = self.bn2.forward(self.conv2.forward(y));
        self.relu.forward(y + shortcut)
    }
}

/// ResNet-18 for 32×32 images.
#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv2d,
    stem_bn: BatchNorm,
    relu: Relu,
    layers: Vec<BasicBlock>,
    pool: AdaptiveAvgPool2d,
    fc: Linear,
}

impl ResNet {
    /// ResNet-18 with `classes` outputs.
    pub fn new(classes: usize, device: &Device) -> ResNet {
        let mut layers = Vec::new();
        let mut c_in = 64;
        for (c_out, stride) in [(64, 1), (128, 2), (256, 2), (512, 2)] {
            layers.push(BasicBlock::new(c_in, c_out, stride, device));
            layers.push(BasicBlock::new(c_out, c_out, 1, device));
            c_in = c_out;
        }
        ResNet {
            stem: conv3x3(3, 64, 1, device),
            stem_bn: BatchNormConfig::new(64).init(device),
            relu: Relu::new(),
            layers,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(512, classes).init(device),
        }
    }

    /// Logits for a batch of images `[batch, 3, height, width]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self
            .relu
            .forward(self.stem_bn.forward(self.stem.forward(x)));
        // Marking each block's call gives its row the residual add and final relu, which
        // come after the block's last parameter read (burn 0.22 has no forward hooks).
        let x = self.layers.iter().fold(x, |x, block| {
            tabulate_burn::call(block, || block.forward(x))
        });
        let x = self.pool.forward(x).flatten::<2>(1, 3);
        self.fc.forward(x)
    }
}

/// Summarises ResNet-18 on a batch of 8 CIFAR images.
pub fn summary() -> Result<tabulate::Summary, tabulate_burn::Error> {
    tabulate_burn::summarize(
        |device| ResNet::new(10, device),
        |model: &ResNet, inputs| model.forward(inputs.float([8, 3, 32, 32])),
    )
}

#[allow(dead_code)] // the tests include this file for its model
fn main() -> Result<(), tabulate_burn::Error> {
    print!("{}", summary()?);
    Ok(())
}
