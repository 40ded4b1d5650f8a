//! Family `part` (`scripts/diff_families/part.py`): partitioned parameters (`PDense`,
//! `PConv`: `Dense` and `Conv` with `with_partitioning` initialisers) and `sow` (`Sow`: a
//! module storing its input, and with `twice` also `x * 2.0`, in a collection mutable by
//! default).

use super::*;
use tabulate::nn::{initializers, with_partitioning};
use tabulate::{Initializer, ModuleIdentity, module_call};

pub(crate) const FAMILY: Family = Family {
    build,
    apply_fn: |_, _| None,
};

/// The op's axis names under `key` (`null` for an axis not partitioned).
fn names(op: &Json, key: &str) -> Vec<Option<String>> {
    op[key]
        .as_array()
        .unwrap_or_else(|| panic!("spec: `{key}` must be a list in {op}"))
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect()
}

fn kernel_init(op: &Json) -> Initializer {
    with_partitioning(initializers::lecun_normal(), names(op, "kernel_names"))
}

/// The bias initialiser: partitioned when the op names its axis, else Flax's default.
fn bias_init(op: &Json) -> Initializer {
    if op.get("bias_names").is_some() {
        with_partitioning(initializers::zeros_init(), names(op, "bias_names"))
    } else {
        initializers::zeros()
    }
}

/// The base layer of `op` read as `base` (`Dense`, `Conv`), without its name.
fn base(op: &Json, base: &str) -> Built {
    let mut op = op.clone();
    op["op"] = Json::from(base);
    if let Some(map) = op.as_object_mut() {
        map.remove("name");
    }
    super::build(&op, true)
}

struct PDense(Dense);
struct PConv(Conv);

impl FamilyLayer for PDense {
    fn module(&self) -> &dyn Tabulate {
        &self.0
    }
    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        self.0.forward(x)
    }
}

impl FamilyLayer for PConv {
    fn module(&self) -> &dyn Tabulate {
        &self.0
    }
    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        self.0.forward(x)
    }
}

/// The script's `Sow` module.
struct Sow {
    collection: String,
    tag: String,
    twice: bool,
    identity: ModuleIdentity,
}

impl Tabulate for Sow {
    fn type_name(&self) -> &'static str {
        "Sow"
    }

    fn identity(&self) -> Option<&ModuleIdentity> {
        Some(&self.identity)
    }
}

impl FamilyLayer for Sow {
    fn module(&self) -> &dyn Tabulate {
        self
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| args.positional(x),
            || {
                tabulate::sow(&self.collection, &self.tag, x)?;
                if self.twice {
                    tabulate::sow(&self.collection, &self.tag, &x.mul(2.0)?)?;
                }
                Ok(x.clone())
            },
        )
    }
}

fn build(op: &Json, name: Option<&str>) -> Option<BoxedLayer> {
    let text = |key: &str| op[key].as_str().expect("spec: a string").to_string();
    Some(match kind(op) {
        "PDense" => {
            let Built::Dense(dense) = base(op, "Dense") else {
                unreachable!("a Dense op builds a Dense")
            };
            let dense = dense.kernel_init(kernel_init(op)).bias_init(bias_init(op));
            Box::new(PDense(match name {
                Some(name) => dense.name(name),
                None => dense,
            }))
        }
        "PConv" => {
            let Built::Conv(conv) = base(op, "Conv") else {
                unreachable!("a Conv op builds a Conv")
            };
            let conv = conv.kernel_init(kernel_init(op)).bias_init(bias_init(op));
            Box::new(PConv(match name {
                Some(name) => conv.name(name),
                None => conv,
            }))
        }
        "Sow" => Box::new(Sow {
            collection: text("collection"),
            tag: text("tag"),
            twice: flag(op, "twice"),
            identity: name.map_or_else(ModuleIdentity::new, ModuleIdentity::named),
        }),
        _ => return None,
    })
}
