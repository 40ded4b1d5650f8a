//! How calls become rows: paths named as Flax names them (setup fields, containers,
//! compact auto-names, explicit names), repeated calls, other methods and `depth`.

use std::collections::BTreeMap;

use tabulate::nn::{Dense, relu};
use tabulate::prelude::*;
use tabulate::{ColorChoice, RenderOptions};

fn x(shape: &[usize]) -> Tensor {
    Tensor::new(DType::F32, shape)
}

fn paths(summary: &Summary) -> Vec<String> {
    summary.rows.iter().map(|r| r.path.join("/")).collect()
}

/// Setup style: submodules in fields and containers of every supported kind.
#[derive(Tabulate)]
struct Setup {
    dense: Dense,
    layers: Vec<Dense>,
    head: Option<Dense>,
    absent: Option<Dense>,
    boxed: Box<Dense>,
    pair: [Dense; 2],
    heads: BTreeMap<String, Dense>,
    features: usize,
    #[tabulate(skip)]
    scale: f32,
}

impl Setup {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.dense.forward(x)?;
        for layer in &self.layers {
            h = layer.forward(&h)?;
        }
        if let Some(head) = &self.head {
            h = head.forward(&h)?;
        }
        h = self.boxed.forward(&h)?;
        for dense in &self.pair {
            h = dense.forward(&h)?;
        }
        for key in ["b", "a"] {
            h = self.heads[key].forward(&h)?;
        }
        assert_eq!((self.features, self.scale), (4, 1.0));
        assert!(self.absent.is_none());
        Ok(h)
    }
}

#[test]
fn fields_and_containers_are_named_like_setup_attributes() {
    let model = Setup {
        dense: Dense::new(4),
        layers: vec![Dense::new(4), Dense::new(4)],
        head: Some(Dense::new(4)),
        absent: None,
        boxed: Box::new(Dense::new(4)),
        pair: [Dense::new(4), Dense::new(4)],
        heads: BTreeMap::from([
            ("b".to_string(), Dense::new(4)),
            ("a".to_string(), Dense::new(4)),
        ]),
        features: 4,
        scale: 1.0,
    };
    let summary = tabulate(&model).run(|m| m.forward(&x(&[2, 3]))).unwrap();
    assert_eq!(
        paths(&summary),
        [
            "", "dense", "layers_0", "layers_1", "head", "boxed", "pair_0", "pair_1", "heads_b",
            "heads_a"
        ]
    );
    assert_eq!(summary.rows[0].module_type, "Setup");
    // 3*4+4 for `dense`, 4*4+4 for the other eight.
    assert_eq!(summary.total().count, 16 + 8 * 20);
}

/// Compact style: modules built inside the method.
#[derive(Tabulate)]
struct Block {
    features: usize,
}

impl Block {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = relu(&Dense::new(self.features).forward(x)?)?;
        Dense::new(self.features).forward(&h)
    }
}

#[derive(Tabulate)]
struct Stack;

impl Stack {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for _ in 0..2 {
            h = Block { features: 4 }.forward(&h)?;
        }
        Dense::new(2).forward(&h)
    }
}

#[test]
fn inline_modules_are_counted_per_parent_and_type() {
    let summary = tabulate(&Stack).run(|m| m.forward(&x(&[2, 3]))).unwrap();
    assert_eq!(
        paths(&summary),
        [
            "",
            "Block_0",
            "Block_0/Dense_0",
            "Block_0/Dense_1",
            "Block_1",
            "Block_1/Dense_0",
            "Block_1/Dense_1",
            "Dense_0"
        ]
    );
    assert_eq!(summary.rows[1].module_type, "Block");
}

#[test]
fn depth_collapses_subtrees_into_the_deepest_row() {
    let full = tabulate(&Stack).run(|m| m.forward(&x(&[2, 3]))).unwrap();
    let one = tabulate(&Stack)
        .depth(1)
        .run(|m| m.forward(&x(&[2, 3])))
        .unwrap();
    assert_eq!(paths(&one), ["", "Block_0", "Block_1", "Dense_0"]);
    // Block_0 counts both its Denses: (3*4+4) + (4*4+4); its own cell lists no leaves.
    assert_eq!(one.rows[1].variables[0].counted.count, 16 + 20);
    assert!(one.rows[1].variables[0].own.is_empty());
    assert_eq!(one.total(), full.total());
    let zero = tabulate(&Stack)
        .depth(0)
        .run(|m| m.forward(&x(&[2, 3])))
        .unwrap();
    assert_eq!(paths(&zero), [""]);
    assert_eq!(zero.rows[0].variables[0].counted, full.total());
}

/// One module called twice, through a field and inline.
#[derive(Tabulate)]
struct Twice {
    shared: Dense,
}

impl Twice {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.shared.forward(x)?;
        let h = self.shared.forward(&h)?;
        let inline = Dense::new(4).name("again");
        let h = inline.forward(&h)?;
        inline.forward(&h)
    }
}

#[test]
fn repeated_calls_are_hidden_unless_asked_for() {
    let model = Twice {
        shared: Dense::new(4),
    };
    let input = x(&[2, 4]);
    let hidden = tabulate(&model)
        .compute_flops(true)
        .run(|m| m.forward(&input))
        .unwrap();
    assert_eq!(paths(&hidden), ["", "shared", "again"]);
    let shown = tabulate(&model)
        .compute_flops(true)
        .show_repeated(true)
        .run(|m| m.forward(&input))
        .unwrap();
    assert_eq!(paths(&shown), ["", "shared", "shared", "again", "again"]);
    // A repeated row carries no variables but its own flops (2*2*4*4 + 2*4).
    assert_eq!(shown.rows[2].variables[0].counted.count, 0);
    assert!(shown.rows[2].variables[0].own.is_empty());
    assert_eq!(shown.rows[2].flops(), Some(72));
    assert_eq!(shown.total(), hidden.total());
    assert_eq!(hidden.total().count, 2 * 20);
}

/// A module with a second method.
#[derive(Tabulate)]
struct Encoder {
    proj: Dense,
}

impl Encoder {
    #[forward]
    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        self.proj.forward(x)
    }

    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.encode(x)
    }
}

#[test]
fn other_methods_show_their_name() {
    let model = Encoder {
        proj: Dense::new(2),
    };
    let input = x(&[1, 3]);
    let summary = tabulate(&model).run(|m| m.encode(&input)).unwrap();
    assert_eq!(summary.rows[0].method, "encode");
    let text = summary.render(&RenderOptions::new());
    assert!(text.contains("│      │ Encoder (encode) │"), "{text}");
    let coloured = summary.render(&RenderOptions::new().color(ColorChoice::Always));
    assert!(
        coloured.contains("Encoder \x1b[2m(encode)\x1b[0m"),
        "{coloured}"
    );
    // Called through `forward`, `encode` is a repeated call of the root.
    let nested = tabulate(&model)
        .show_repeated(true)
        .run(|m| m.forward(&input))
        .unwrap();
    assert_eq!(paths(&nested), ["", "", "proj"]);
    assert_eq!(nested.rows[1].method, "encode");
}

/// Generic wrappers, tuple structs and keyword arguments.
#[derive(Tabulate)]
struct Residual<M> {
    inner: M,
}

impl Residual<Dense> {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x + self.inner.forward(x)?
    }
}

#[derive(Tabulate)]
struct Pair(Dense, Residual<Dense>);

impl Pair {
    #[forward]
    fn forward(&self, x: &Tensor, #[kwarg] deterministic: bool) -> Result<(Tensor, Tensor)> {
        assert!(deterministic);
        let h = self.0.forward(x)?;
        Ok((self.1.forward(&h)?, h))
    }
}

#[test]
fn generic_and_tuple_fields_and_keywords() {
    let model = Pair(
        Dense::new(3),
        Residual {
            inner: Dense::new(3),
        },
    );
    let input = x(&[2, 3]);
    let summary = tabulate(&model).run(|m| m.forward(&input, true)).unwrap();
    assert_eq!(paths(&summary), ["", "0", "1", "1/inner"]);
    let text = summary.render(&RenderOptions::new());
    assert!(
        text.contains("│ Pair     │ - float32[2,3]        │ - float32[2,3] │"),
        "{text}"
    );
    assert!(
        text.contains("│          │ - deterministic: True │ - float32[2,3] │"),
        "{text}"
    );
    // `#[forward]` on `forward` adds `summary` with the same arguments.
    assert_eq!(model.summary(&input, true).unwrap(), summary);
}

/// `name=` on a user module: a `ModuleIdentity` field is the module's identity without any
/// attribute (Flax: `Block(name='h_0')(x); Block()(h)` gives `h_0`, `h_0/Dense_0`,
/// `Block_0`, `Block_0/Dense_0`).
#[derive(Tabulate)]
struct NamedBlock {
    identity: ModuleIdentity,
}

impl NamedBlock {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Dense::new(4).forward(x)
    }
}

#[derive(Tabulate)]
#[tabulate(rename = "Net")]
struct NamesUserModules;

impl NamesUserModules {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = NamedBlock {
            identity: ModuleIdentity::named("h_0"),
        }
        .forward(x)?;
        NamedBlock {
            identity: ModuleIdentity::new(),
        }
        .forward(&h)
    }
}

#[test]
fn a_module_identity_field_names_a_user_module_without_an_attribute() {
    let summary = tabulate(&NamesUserModules)
        .run(|m| m.forward(&x(&[2, 3])))
        .unwrap();
    assert_eq!(
        paths(&summary),
        [
            "",
            "h_0",
            "h_0/Dense_0",
            "NamedBlock_0",
            "NamedBlock_0/Dense_0"
        ]
    );
}
