//! A multi-layer perceptron: Dense 128, relu, Dense 64, relu, Dense 10 on
//! `float32[8, 784]` (the `mlp` golden).

use tabulate::nn::{Dense, relu};
use tabulate::prelude::*;

/// Flax's `MLP(features=(128, 64, 10))`: one inline `Dense` per entry, `relu` between.
#[derive(Tabulate)]
#[allow(clippy::upper_case_acronyms)] // the name Flax shows
pub struct MLP {
    /// Output features of each layer.
    pub features: Vec<usize>,
}

impl MLP {
    /// The layers in turn, with `relu` between them.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for (i, &features) in self.features.iter().enumerate() {
            x = Dense::new(features).forward(&x)?;
            if i != self.features.len() - 1 {
                x = relu(&x)?;
            }
        }
        Ok(x)
    }
}

impl Default for MLP {
    fn default() -> MLP {
        MLP {
            features: vec![128, 64, 10],
        }
    }
}

#[allow(dead_code)] // the golden tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [8, 784]);
    let summary = tabulate(&MLP::default())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|mlp| mlp.forward(&x))?;
    print!("{summary}");
    Ok(())
}
