//! Family `wrap` (`scripts/diff_families/wrap.py`): `nn::remat`, `nn::SpectralNorm` and
//! `nn::WeightNorm` around a base layer, and `nn::vmap` of one.

use super::*;
use tabulate::nn::{Remat, SpectralNorm, Vmap, WeightNorm, remat, vmap};

pub(crate) const FAMILY: Family = Family {
    build,
    apply_fn: |_, _| None,
};

/// A wrapper around one of the base layers it takes, as a family layer.
macro_rules! wrapped {
    ($name:ident, $wrapper:ident, $($kind:ident),*) => {
        enum $name {
            $($kind($wrapper<$kind>),)*
        }

        impl $name {
            fn module(&self) -> &dyn Tabulate {
                match self {
                    $($name::$kind(m) => m,)*
                }
            }
        }
    };
}

wrapped!(
    Checkpointed,
    Remat,
    Dense,
    DenseGeneral,
    Conv,
    LayerNorm,
    RMSNorm,
    BatchNorm
);
wrapped!(Spectral, SpectralNorm, Dense, DenseGeneral, Conv, Einsum);
wrapped!(Weight, WeightNorm, Dense, DenseGeneral, Conv, Einsum);
wrapped!(
    Mapped,
    Vmap,
    Dense,
    DenseGeneral,
    Einsum,
    LayerNorm,
    RMSNorm
);

/// `layer`, named `name` if given.
fn named<T>(layer: T, name: Option<&str>, set: fn(T, String) -> T) -> T {
    match name {
        Some(name) => set(layer, name.to_string()),
        None => layer,
    }
}

/// The inner layer of `op`, named `name` if given (Flax's `name=` on the remat class).
fn inner(op: &Json, name: Option<&str>) -> Built {
    let mut inner = op["inner"].clone();
    if let Some(name) = name {
        inner["name"] = Json::from(name);
    }
    super::build(&inner, name.is_none())
}

fn build(op: &Json, name: Option<&str>) -> Option<BoxedLayer> {
    Some(match kind(op) {
        "Remat" => Box::new(match inner(op, name) {
            Built::Dense(m) => Checkpointed::Dense(remat(m)),
            Built::DenseGeneral(m) => Checkpointed::DenseGeneral(remat(m)),
            Built::Conv(m) => Checkpointed::Conv(remat(m)),
            Built::LayerNorm(m) => Checkpointed::LayerNorm(remat(m)),
            Built::RMSNorm(m) => Checkpointed::RMSNorm(remat(m)),
            Built::BatchNorm(m) => Checkpointed::BatchNorm(remat(m)),
            _ => panic!("spec: Remat of {}", kind(&op["inner"])),
        }),
        "SpectralNorm" => {
            let n = usize_of(op, "n_steps");
            macro_rules! spectral {
                ($m:expr) => {
                    named(SpectralNorm::new($m).n_steps(n), name, SpectralNorm::name)
                };
            }
            Box::new(match inner(op, None) {
                Built::Dense(m) => Spectral::Dense(spectral!(m)),
                Built::DenseGeneral(m) => Spectral::DenseGeneral(spectral!(m)),
                Built::Conv(m) => Spectral::Conv(spectral!(m)),
                Built::Einsum(m) => Spectral::Einsum(spectral!(m)),
                _ => panic!("spec: SpectralNorm of {}", kind(&op["inner"])),
            })
        }
        "WeightNorm" => {
            let axes = op["feature_axes"]
                .as_i64()
                .map(|a| vec![isize::try_from(a).expect("axis")]);
            let scale = flag(op, "use_scale");
            macro_rules! weight {
                ($m:expr) => {
                    named(
                        WeightNorm::new($m)
                            .use_scale(scale)
                            .feature_axes(axes.clone()),
                        name,
                        WeightNorm::name,
                    )
                };
            }
            Box::new(match inner(op, None) {
                Built::Dense(m) => Weight::Dense(weight!(m)),
                Built::DenseGeneral(m) => Weight::DenseGeneral(weight!(m)),
                Built::Conv(m) => Weight::Conv(weight!(m)),
                Built::Einsum(m) => Weight::Einsum(weight!(m)),
                _ => panic!("spec: WeightNorm of {}", kind(&op["inner"])),
            })
        }
        "Vmap" => {
            let axes = op["variable_axes"]
                .as_u64()
                .map(|a| usize::try_from(a).expect("axis"));
            let inner = match name {
                Some(name) => {
                    let mut inner = op["inner"].clone();
                    inner["name"] = Json::from(name);
                    super::build(&inner, false)
                }
                None => super::build(&op["inner"], true),
            };
            macro_rules! mapped {
                ($m:expr) => {
                    vmap($m)
                        .variable_axes("params", axes)
                        .split_rngs("params", axes.is_some())
                        .in_axes(Some(usize_of(op, "in_axes")))
                        .out_axes(usize_of(op, "out_axes"))
                };
            }
            Box::new(match inner {
                Built::Dense(m) => Mapped::Dense(mapped!(m)),
                Built::DenseGeneral(m) => Mapped::DenseGeneral(mapped!(m)),
                Built::Einsum(m) => Mapped::Einsum(mapped!(m)),
                Built::LayerNorm(m) => Mapped::LayerNorm(mapped!(m)),
                Built::RMSNorm(m) => Mapped::RMSNorm(mapped!(m)),
                _ => panic!("spec: Vmap of {}", kind(&op["inner"])),
            })
        }
        _ => return None,
    })
}

impl FamilyLayer for Mapped {
    fn module(&self) -> &dyn Tabulate {
        Mapped::module(self)
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        match self {
            Mapped::Dense(m) => m.forward(x),
            Mapped::DenseGeneral(m) => m.forward(x),
            Mapped::Einsum(m) => m.forward(x),
            Mapped::LayerNorm(m) => m.forward(x),
            Mapped::RMSNorm(m) => m.forward(x),
        }
    }
}

impl FamilyLayer for Checkpointed {
    fn module(&self) -> &dyn Tabulate {
        Checkpointed::module(self)
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        match self {
            Checkpointed::Dense(m) => m.forward(x),
            Checkpointed::DenseGeneral(m) => m.forward(x),
            Checkpointed::Conv(m) => m.forward(x),
            Checkpointed::LayerNorm(m) => m.forward(x),
            Checkpointed::RMSNorm(m) => m.forward(x),
            Checkpointed::BatchNorm(m) => m.forward(x),
        }
    }
}

impl FamilyLayer for Spectral {
    fn module(&self) -> &dyn Tabulate {
        Spectral::module(self)
    }

    fn call(&self, op: &Json, x: &Tensor) -> Result<Tensor> {
        let update = flag(op, "update_stats");
        match self {
            Spectral::Dense(m) => m.forward(x, update),
            Spectral::DenseGeneral(m) => m.forward(x, update),
            Spectral::Conv(m) => m.forward(x, update),
            Spectral::Einsum(m) => m.forward(x, update),
        }
    }
}

impl FamilyLayer for Weight {
    fn module(&self) -> &dyn Tabulate {
        Weight::module(self)
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        match self {
            Weight::Dense(m) => m.forward(x),
            Weight::DenseGeneral(m) => m.forward(x),
            Weight::Conv(m) => m.forward(x),
            Weight::Einsum(m) => m.forward(x),
        }
    }
}
