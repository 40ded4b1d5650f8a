//! Family `acts` (`scripts/diff_families/acts.py`): the rest of `flax.linen`'s
//! activations and `PReLU`, `jnp`'s trigonometric and hyperbolic functions, random noise
//! (`jax.random.normal`, `uniform` with bounds) inside a module, and grouped-query
//! attention (fewer key/value heads), and a rotary embedding built from `sin`/`cos`.

use super::*;
use tabulate::nn::PReLU;
use tabulate::random;

pub(crate) const FAMILY: Family = Family { build, apply_fn };

fn axes(op: &Json) -> Vec<isize> {
    isizes(op, "axis")
}

fn apply_fn(op: &Json, x: &Tensor) -> Option<Result<Tensor>> {
    if kind(op) != "fn" {
        return None;
    }
    let axis = || isize::try_from(op["axis"].as_i64().expect("spec: axis")).expect("axis");
    Some(match op["name"].as_str()? {
        "relu6" => nn::relu6(x),
        "hard_sigmoid" => nn::hard_sigmoid(x),
        "hard_tanh" => nn::hard_tanh(x),
        "hard_silu" => nn::hard_silu(x),
        "hard_swish" => nn::hard_swish(x),
        "celu" => nn::celu_with(x, float(op, "alpha")),
        "selu" => nn::selu(x),
        "glu" => nn::glu_with(x, axis()),
        "log_sigmoid" => nn::log_sigmoid(x),
        "soft_sign" => nn::soft_sign(x),
        "standardize" => nn::standardize_with(x, &axes(op), float(op, "epsilon")),
        "normalize" => nn::normalize(x),
        "logsumexp" => nn::logsumexp_with(x, &axes(op), flag(op, "keepdims")),
        "one_hot" => nn::one_hot_with(x, usize_of(op, "num_classes"), DType::F32, axis()),
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tan" => x.tan(),
        "arcsin" => x.arcsin(),
        "arccos" => x.arccos(),
        "arctan" => x.arctan(),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        "arcsinh" => x.arcsinh(),
        "arccosh" => x.arccosh(),
        "arctanh" => x.arctanh(),
        "erf_inv" => x.erf_inv(),
        _ => return None,
    })
}

fn build(op: &Json, name: Option<&str>) -> Option<BoxedLayer> {
    let identity = || name.map_or_else(ModuleIdentity::new, ModuleIdentity::named);
    Some(match kind(op) {
        "PReLU" => Box::new(named!(PReLU::new(), name)),
        "Noise" => Box::new(Noise {
            normal: op["kind"] == "normal",
            minval: float(op, "minval"),
            maxval: float(op, "maxval"),
            identity: identity(),
        }),
        "GQA" => Box::new(Gqa {
            num_heads: usize_of(op, "num_heads"),
            num_kv_heads: usize_of(op, "num_kv_heads"),
            head_dim: usize_of(op, "head_dim"),
            causal: op["causal"] == true,
            identity: identity(),
        }),
        "Rotary" => Box::new(Rotary {
            identity: identity(),
        }),
        _ => return None,
    })
}

impl FamilyLayer for PReLU {
    fn module(&self) -> &dyn Tabulate {
        self
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        self.forward(x)
    }
}

/// `Noise` of the script: `x + normal(make_rng('dropout'))` or `uniform(…, minval, maxval)`.
#[derive(Tabulate)]
struct Noise {
    normal: bool,
    minval: f64,
    maxval: f64,
    identity: ModuleIdentity,
}

impl Noise {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let key = random::make_rng("dropout")?;
        let dims = x.shape().dims();
        let noise = if self.normal {
            random::normal(&key, dims)?
        } else {
            random::uniform_with(&key, dims, self.minval, self.maxval)?
        };
        x.add(&noise)
    }
}

impl FamilyLayer for Noise {
    fn module(&self) -> &dyn Tabulate {
        self
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        self.forward(x)
    }
}

/// `GQA` of the script: grouped-query self-attention with `DenseGeneral` projections,
/// causal if asked.
#[derive(Tabulate)]
#[tabulate(rename = "GQA")]
struct Gqa {
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    causal: bool,
    identity: ModuleIdentity,
}

impl Gqa {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let project = |heads: usize, name: &str| {
            DenseGeneral::new([heads, self.head_dim])
                .name(name)
                .forward(x)
        };
        let q = project(self.num_heads, "query")?;
        let k = project(self.num_kv_heads, "key")?;
        let v = project(self.num_kv_heads, "value")?;
        let mask = if self.causal {
            let dims = x.shape().dims();
            let positions = Tensor::ones(DType::F32, [dims[0], dims[1]])?;
            Some(nn::make_causal_mask(&positions)?.astype(DType::Bool)?)
        } else {
            None
        };
        let options = nn::AttentionOptions {
            mask: mask.as_ref(),
            ..nn::AttentionOptions::default()
        };
        let o = nn::dot_product_attention(&q, &k, &v, &options)?;
        DenseGeneral::new([x.dim(-1)?])
            .axis([-2, -1])
            .name("out")
            .forward(&o)
    }
}

impl FamilyLayer for Gqa {
    fn module(&self) -> &dyn Tabulate {
        self
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        self.forward(x)
    }
}

/// `Rotary` of the script: rotary position embedding, its tables from `sin` and `cos`.
#[derive(Tabulate)]
struct Rotary {
    identity: ModuleIdentity,
}

impl Rotary {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (length, features) = (x.dim(-2)?, x.dim(-1)?);
        let half = features / 2;
        #[allow(clippy::cast_precision_loss)] // a feature count
        let exponents = Tensor::arange(half, DType::F32)?.div(half as f64)?;
        let scalar = |v: f64| Tensor::full(v, DType::F32, tabulate::Shape::scalar());
        let freqs = scalar(1.0)?.div(&scalar(10000.0)?.pow(&exponents)?)?;
        let positions = Tensor::arange(length, DType::F32)?;
        let angles = positions.expand_dims(1)?.mul(&freqs.expand_dims(0)?)?;
        let (sin, cos) = (angles.sin()?, angles.cos()?);
        let x1 = x.slice(-1, 0, half)?;
        let x2 = x.slice(-1, half, features)?;
        let first = x1.mul(&cos)?.sub(&x2.mul(&sin)?)?;
        let second = x1.mul(&sin)?.add(&x2.mul(&cos)?)?;
        Tensor::concatenate(&[&first, &second], -1)
    }
}

impl FamilyLayer for Rotary {
    fn module(&self) -> &dyn Tabulate {
        self
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        self.forward(x)
    }
}
