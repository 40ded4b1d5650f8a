//! What the derives accept beyond plain fields: modules inside tuples, lists of tuples,
//! maps of tuples, nested lists and cells, named as Flax names `setup` attributes that
//! hold pytrees of modules; output structs shown as Flax shows a `flax.struct.dataclass`
//! and a `NamedTuple`; a `forward` that returns a reference into `self`. The expected
//! tables are Flax's (`tests/golden/derive/`, made by `scripts/derive_cases.py`).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tabulate::nn::Dense;
use tabulate::prelude::*;
use tabulate::{RenderOptions, Value};

fn x(shape: &[usize]) -> Tensor {
    Tensor::new(DType::F32, shape)
}

fn golden(name: &str) -> String {
    let path = format!(
        "{}/tests/golden/derive/{name}.plain.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn paths(summary: &Summary) -> Vec<String> {
    summary.rows.iter().map(|r| r.path.join("/")).collect()
}

/// A value of the user's own type beside a module in a tuple field.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Relu,
}

/// Flax's `Containers` (see `scripts/derive_cases.py`), field for field.
#[derive(Tabulate)]
struct Containers {
    pair: (Dense, usize),
    named: Vec<(String, Dense)>,
    heads: HashMap<String, (Dense, f32)>,
    nested: Vec<Vec<Dense>>,
    cell: RefCell<Dense>,
    act: (Dense, Act),
}

impl Containers {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.pair.0.forward(x)?;
        for (_, layer) in &self.named {
            h = layer.forward(x)?;
        }
        self.heads["y"].0.forward(&h)?;
        self.heads["x"].0.forward(&h)?;
        h = self.nested[0][0].forward(&h)?;
        h = self.cell.borrow().forward(&h)?;
        assert_eq!(self.act.1, Act::Relu);
        self.act.0.forward(&h)
    }
}

#[test]
fn modules_in_tuples_lists_maps_and_cells_are_named_like_flax() {
    let model = Containers {
        pair: (Dense::new(3), 5),
        named: vec![("a".into(), Dense::new(3)), ("b".into(), Dense::new(4))],
        heads: HashMap::from([
            ("x".into(), (Dense::new(2), 0.5)),
            ("y".into(), (Dense::new(2), 2.0)),
        ]),
        nested: vec![vec![Dense::new(2)]],
        cell: RefCell::new(Dense::new(2)),
        act: (Dense::new(2), Act::Relu),
    };
    let summary = model.summary(&x(&[2, 4])).unwrap();
    assert_eq!(
        summary.render(&RenderOptions::new().width(120)),
        golden("setup_containers")
    );
}

/// A long tuple behind an alias: visited through `Submodules`, not taken apart.
type Wide = (
    u8,
    u16,
    u32,
    u64,
    i8,
    Dense,
    f64,
    char,
    &'static str,
    (),
    String,
    bool,
);

/// Every other container a module may sit in, each named by the same rules.
#[derive(Tabulate)]
struct Holders {
    shared: Rc<RefCell<Dense>>,
    locked: Mutex<Dense>,
    read: RwLock<Dense>,
    lazy: OnceLock<Dense>,
    arced: Arc<[Dense]>,
    boxed: Box<[(Dense, bool)]>,
    keyed: BTreeMap<u32, Vec<Dense>>,
    wide: Wide,
    /// Plain values in containers hold no module and are not walked.
    sizes: Vec<(usize, usize)>,
}

impl Holders {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.shared.borrow().forward(x)?;
        h = self.locked.lock().unwrap().forward(&h)?;
        h = self.read.read().unwrap().forward(&h)?;
        h = self.lazy.get().unwrap().forward(&h)?;
        h = self.arced[1].forward(&h)?;
        h = self.boxed[0].0.forward(&h)?;
        h = self.keyed[&10][0].forward(&h)?;
        assert_eq!(self.sizes.len(), 1);
        self.wide.5.forward(&h)
    }
}

#[test]
fn every_std_container_is_visited() {
    let model = Holders {
        shared: Rc::new(RefCell::new(Dense::new(2))),
        locked: Mutex::new(Dense::new(2)),
        read: RwLock::new(Dense::new(2)),
        lazy: OnceLock::from(Dense::new(2)),
        arced: Arc::from([Dense::new(2), Dense::new(2)]),
        boxed: Box::new([(Dense::new(2), true)]),
        keyed: BTreeMap::from([(10, vec![Dense::new(2)])]),
        wide: (
            0,
            0,
            0,
            0,
            0,
            Dense::new(2),
            0.0,
            'c',
            "s",
            (),
            String::new(),
            true,
        ),
        sizes: vec![(1, 2)],
    };
    let summary = model.summary(&x(&[1, 2])).unwrap();
    assert_eq!(
        paths(&summary),
        [
            "",
            "shared",
            "locked",
            "read",
            "lazy",
            "arced_1",
            "boxed_0_0",
            "keyed_10_0",
            "wide_5"
        ]
    );
}

/// A generic tuple field: the module part is bounded, the configuration part probed.
#[derive(Tabulate)]
struct Generic<M> {
    gate: (M, Act),
}

impl Generic<Dense> {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.gate.0.forward(x)
    }
}

#[test]
fn generic_tuple_fields_are_visited() {
    let model = Generic {
        gate: (Dense::new(2), Act::Relu),
    };
    let summary = model.summary(&x(&[1, 3])).unwrap();
    assert_eq!(paths(&summary), ["", "gate_0"]);
}

/// A field of a generic type may hold a plain value: it holds no module.
#[derive(Tabulate)]
struct Scaled<S> {
    dense: Dense,
    scale: S,
}

impl Scaled<f32> {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        assert!((self.scale - 0.5).abs() < f32::EPSILON);
        self.dense.forward(x)
    }
}

#[test]
fn a_generic_field_may_hold_a_plain_value() {
    let model = Scaled {
        dense: Dense::new(2),
        scale: 0.5,
    };
    let summary = model.summary(&x(&[1, 3])).unwrap();
    assert_eq!(paths(&summary), ["", "dense"]);
}

/// A cell that is mutably borrowed when its parent is called is not visited, and
/// nothing panics: its module is then named as one built inline.
#[derive(Tabulate)]
struct Busy {
    cell: RefCell<Dense>,
}

#[test]
fn a_mutably_borrowed_cell_is_skipped_without_panicking() {
    let model = Busy {
        cell: RefCell::new(Dense::new(2)),
    };
    let input = x(&[1, 3]);
    let guard = model.cell.borrow_mut();
    let summary = tabulate(&model).run(|_| guard.forward(&input)).unwrap();
    assert_eq!(paths(&summary), ["Dense_0"]);
    drop(guard);
    let summary = tabulate(&model)
        .run(|m| m.cell.borrow().forward(&input))
        .unwrap();
    assert_eq!(paths(&summary), ["cell"]);
}

/// Flax's `struct.dataclass` output: a mapping of its fields, keys sorted.
#[derive(Describe)]
struct Output {
    zeta: Tensor,
    alpha: Tensor,
    count: usize,
}

/// Flax's `NamedTuple` output: a list.
#[derive(Describe)]
struct Pair(Tensor, Tensor);

#[derive(Tabulate)]
struct Encoder;

impl Encoder {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Output> {
        Ok(Output {
            zeta: Dense::new(3).forward(x)?,
            alpha: x.clone(),
            count: 3,
        })
    }
}

#[derive(Tabulate)]
struct Head;

impl Head {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Pair> {
        Ok(Pair(x.clone(), Dense::new(2).forward(x)?))
    }
}

#[derive(Tabulate)]
struct Outputs;

impl Outputs {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out = Encoder.forward(x)?;
        Ok(Head.forward(&out.zeta)?.1)
    }
}

#[test]
fn output_structs_show_like_flax_dataclasses_and_named_tuples() {
    let summary = Outputs.summary(&x(&[2, 4])).unwrap();
    assert_eq!(
        summary.render(&RenderOptions::new().width(120)),
        golden("struct_outputs")
    );
}

/// Attributes and generics of `#[derive(Describe)]`.
#[derive(Describe)]
struct Tagged<T> {
    #[tabulate(rename = "a_first")]
    zzz: T,
    #[tabulate(skip)]
    _cache: Vec<u8>,
    r#type: &'static str,
}

#[derive(Describe)]
struct Empty {}

#[derive(Describe)]
struct Unit;

#[test]
fn describe_attributes_and_generics() {
    let tagged = Tagged {
        zzz: Some(1.5_f32),
        _cache: vec![1],
        r#type: "relu",
    };
    assert_eq!(
        tagged.describe(),
        Value::mapping([
            ("a_first", Value::object("1.5")),
            ("type", Value::object("'relu'")),
        ])
    );
    assert_eq!(Empty {}.describe(), Value::mapping::<String>([]));
    assert_eq!(Unit.describe(), Value::mapping::<String>([]));
}

/// A `forward` may return a reference into `self`.
#[derive(Tabulate)]
struct Table {
    weights: Tensor,
}

impl Table {
    #[forward]
    fn forward(&self, _ids: &Tensor) -> &Tensor {
        &self.weights
    }

    #[forward]
    fn lookup<'a>(&'a self, _ids: &Tensor) -> Result<&'a Tensor> {
        Ok(&self.weights)
    }
}

#[test]
fn forward_may_return_a_reference_into_self() {
    let table = Table {
        weights: x(&[10, 4]),
    };
    let ids = Tensor::new(DType::I32, [3]);
    let summary = table.summary(&ids).unwrap();
    let weights = Value::Array {
        dtype: DType::F32,
        shape: [10, 4].into(),
    };
    assert_eq!(summary.rows.len(), 1);
    assert_eq!(summary.rows[0].outputs, weights);
    let summary = tabulate(&table)
        .show_repeated(true)
        .run(|t| {
            t.lookup(&ids)?;
            Ok::<_, tabulate::Error>(t.forward(&ids).clone())
        })
        .unwrap();
    let methods: Vec<&str> = summary.rows.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["lookup", "forward"]);
    assert_eq!(summary.rows[0].outputs, weights);
}
