//! The lifted `nn::scan` used directly on a user cell (a `#[derive(Tabulate)]` module with
//! `#[forward]`), `RNN`'s keywords and `Bidirectional`, against real Flax 0.12.8: every
//! table is Flax's text (`tests/scan/tables.json`, made by `scripts/scan_tables.py`),
//! FLOPs and VJP FLOPs included.

use std::path::Path;

use serde_json::Value as Json;
use tabulate::nn::{
    self, Bidirectional, Dense, GRUCell, LSTMCell, RNN, RnnArgs, ScanAxis, SimpleCell,
};
use tabulate::prelude::*;
use tabulate::{RenderOptions, Tabulator};

/// Flax's table `name`.
fn flax(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scan/tables.json");
    let data: Json = serde_json::from_str(&std::fs::read_to_string(path).expect("tables.json"))
        .expect("valid JSON");
    data["tables"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no table {name}"))
        .to_string()
}

/// Our table as Flax's test console renders it (plain, as wide as it needs).
fn ours<M: Tabulate, R: tabulate::ForwardOutput>(
    options: impl FnOnce(Tabulator<'_, M>) -> Tabulator<'_, M>,
    model: &M,
    f: impl FnOnce(&M) -> R,
) -> String {
    let summary = options(tabulate(model).compute_flops(true).compute_vjp_flops(true))
        .run(f)
        .expect("the model runs");
    summary.render(&RenderOptions::new().width(10_000))
}

fn assert_same(actual: &str, expected: &str, what: &str) {
    if actual == expected {
        return;
    }
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    let line = a
        .iter()
        .zip(&e)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(e.len()));
    panic!(
        "{what}: first difference at line {}\n  ours: {:?}\n  flax: {:?}\n\nours:\n{actual}\nflax:\n{expected}",
        line + 1,
        a.get(line),
        e.get(line)
    );
}

fn seq() -> Tensor {
    Tensor::new(DType::F32, [2, 5, 3])
}

/// Flax's `Cell`: `h = tanh(Dense(4)(x) + Dense(4, use_bias=False)(c))`, `(h, Dense(3)(h))`.
#[derive(Tabulate)]
struct Cell;

impl Cell {
    #[forward]
    fn forward(&self, c: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = Dense::new(4)
            .forward(x)?
            .add(&Dense::new(4).use_bias(false).forward(c)?)?;
        let h = nn::tanh(&h)?;
        Ok((h.clone(), Dense::new(3).forward(&h)?))
    }
}

/// `Cell` scanned over axis 1 with shared parameters.
#[derive(Tabulate)]
struct Broadcast {
    #[tabulate(skip)]
    reverse: bool,
    #[tabulate(skip)]
    out_axes: isize,
}

impl Broadcast {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let scan = nn::scan(Cell)
            .variable_broadcast("params")
            .split_rngs([("params", false)])
            .in_axes(1)
            .out_axes(self.out_axes)
            .reverse(self.reverse);
        let c = Tensor::zeros(DType::F32, [x.dim(0)?, 4])?;
        scan.call(&c, x, Cell::forward)
    }
}

#[test]
fn scanned_user_cell_with_broadcast_parameters() {
    let model = Broadcast {
        reverse: false,
        out_axes: 1,
    };
    let x = seq();
    assert_same(
        &ours(|t| t, &model, |m| m.forward(&x)),
        &flax("broadcast"),
        "broadcast",
    );
}

/// `reverse=True`: the forward `while` computes a reversed index (+2); `out_axes=0`
/// stacks the outputs time-major.
#[test]
fn reversed_scan_stacking_along_another_axis() {
    let model = Broadcast {
        reverse: true,
        out_axes: 0,
    };
    let x = seq();
    assert_same(
        &ours(|t| t, &model, |m| m.forward(&x)),
        &flax("broadcast_reverse_out0"),
        "broadcast_reverse_out0",
    );
}

/// `Cell` scanned with `variable_axes={'params': 0}` and `name='steps'`.
#[derive(Tabulate)]
struct Stacked;

impl Stacked {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let scan = nn::scan(Cell)
            .variable_axes([("params", 0)])
            .split_rngs([("params", true)])
            .in_axes(1)
            .out_axes(1)
            .name("steps");
        let c = Tensor::zeros(DType::F32, [x.dim(0)?, 4])?;
        scan.call(&c, x, Cell::forward)
    }
}

/// Parameters stacked per step: each row shows `float32[5,…]` and costs one step, and
/// the root's VJP takes the per-step cotangents out of the loop (790, not 649).
#[test]
fn scanned_user_cell_with_stacked_parameters() {
    let x = seq();
    assert_same(
        &ours(|t| t, &Stacked, |m| m.forward(&x)),
        &flax("stacked"),
        "stacked",
    );
    assert_same(
        &ours(|t| t.depth(1), &Stacked, |m| m.forward(&x)),
        &flax("stacked_depth1"),
        "stacked_depth1",
    );
}

/// `Broadcast` inside another module.
#[derive(Tabulate)]
struct Outer;

impl Outer {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        Broadcast {
            reverse: false,
            out_axes: 1,
        }
        .forward(x)
    }
}

/// With `show_repeated`: the `<lambda>` call Flax's lifted scan records on the root path
/// (type `ScanCell`), then the body's second trace as repeated rows.
#[test]
fn repeated_rows_of_a_nested_scan() {
    let x = seq();
    let table = ours(
        |t| {
            t.show_repeated(true)
                .compute_flops(false)
                .compute_vjp_flops(false)
        },
        &Outer,
        |m| m.forward(&x),
    );
    assert_same(&table, &flax("outer_show_repeated"), "outer_show_repeated");
}

/// `ResidualMLPBlock` of `flax.linen.scan`'s docstring: `(x + relu(Dense(2)(x)), None)`.
#[derive(Tabulate)]
struct ResidualMLPBlock;

impl ResidualMLPBlock {
    #[forward]
    fn forward(&self, x: &Tensor, _none: &()) -> Result<(Tensor, ())> {
        let h = nn::relu(&Dense::new(2).forward(x)?)?;
        Ok((x.add(&h)?, ()))
    }
}

/// The docstring's `ResidualMLP`: four layers scanned with `length`, no scanned input.
#[derive(Tabulate)]
struct ResidualMLP;

impl ResidualMLP {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let scan = nn::scan(ResidualMLPBlock)
            .variable_axes([("params", 0)])
            .variable_broadcast(false)
            .split_rngs([("params", true)])
            .length(4);
        Ok(scan.call(x, &(), ResidualMLPBlock::forward)?.0)
    }
}

#[test]
fn layers_scanned_with_a_length() {
    let x = Tensor::new(DType::F32, [1, 2]);
    assert_same(
        &ours(|t| t, &ResidualMLP, |m| m.forward(&x)),
        &flax("residual_mlp"),
        "residual_mlp",
    );
}

/// `RNN(GRUCell(4))(x, return_carry=True, reverse=True, keep_order=True)`, then a
/// time-major `RNN(SimpleCell(3))`.
#[derive(Tabulate)]
struct RnnKeywords;

impl RnnKeywords {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let out = RNN::new(GRUCell::new(4)).forward_with(
            x,
            &RnnArgs::new()
                .return_carry(true)
                .reverse(true)
                .keep_order(true),
        )?;
        let carry = out.carry().expect("return_carry").clone();
        let z = RNN::new(SimpleCell::new(3))
            .time_major(true)
            .forward(out.outputs())?;
        Ok((carry, z))
    }
}

#[test]
fn rnn_keywords_and_time_major() {
    let x = seq();
    assert_same(
        &ours(|t| t, &RnnKeywords, |m| m.forward(&x)),
        &flax("rnn_keywords"),
        "rnn_keywords",
    );
}

/// `Bidirectional(RNN(LSTMCell(4)), RNN(SimpleCell(3)), return_carry=True)`.
#[derive(Tabulate)]
struct Bidir;

impl Bidir {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<nn::RnnOutput<((Tensor, Tensor), Tensor)>> {
        Bidirectional::new(RNN::new(LSTMCell::new(4)), RNN::new(SimpleCell::new(3)))
            .return_carry(true)
            .forward_with(x, &RnnArgs::new())
    }
}

#[test]
fn bidirectional_with_its_carries() {
    let x = seq();
    assert_same(
        &ours(|t| t, &Bidir, |m| m.forward(&x)),
        &flax("bidirectional"),
        "bidirectional",
    );
}

/// Flax's default scan lifts no collection: a cell with parameters is an error there
/// (`ScopeCollectionNotFound`) and here, naming the variable, its module and the fix.
#[derive(Tabulate)]
struct Unlifted;

impl Unlifted {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let c = Tensor::zeros(DType::F32, [5, 4])?;
        nn::scan(Cell).call(&c, x, Cell::forward)
    }
}

#[test]
fn a_collection_neither_broadcast_nor_scanned_is_an_error() {
    let x = Tensor::new(DType::F32, [2, 5, 3]);
    let error = tabulate(&Unlifted)
        .run(|m| m.forward(&x))
        .expect_err("params are not lifted");
    assert_eq!(
        error.to_string(),
        "ScanCell_0/Dense_0 (Dense): scan: variable `kernel` of collection `params` is made \
         inside a scan that neither broadcasts (variable_broadcast) nor scans \
         (variable_axes) `params`"
    );
}

/// Lengths that disagree, and a carry that changes shape, are errors located at the
/// module that called the scan.
#[derive(Tabulate)]
struct BadScan {
    #[tabulate(skip)]
    two_inputs: bool,
}

impl BadScan {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let scan = nn::scan(Cell).variable_broadcast("params");
        if self.two_inputs {
            let c = Tensor::zeros(DType::F32, [2, 4])?;
            let other = Tensor::new(DType::F32, [3, 2, 3]);
            let (c, ys) = scan.call(&c, &vec![x.clone(), other], |cell, c, xs: &Vec<Tensor>| {
                let (c, y) = cell.forward(c, &xs[0])?;
                Ok((c, vec![y]))
            })?;
            Ok((c, ys[0].clone()))
        } else {
            let c = Tensor::zeros(DType::F32, [2, 7])?;
            scan.call(&c, x, Cell::forward)
        }
    }
}

#[test]
fn inconsistent_lengths_and_carries_are_errors() {
    let x = Tensor::new(DType::F32, [5, 2, 3]);
    let error = tabulate(&BadScan { two_inputs: true })
        .run(|m| m.forward(&x))
        .expect_err("lengths 5 and 3");
    assert_eq!(
        error.to_string(),
        "BadScan: scan: inconsistent scan lengths [5, 3]"
    );
    // `jax.lax.scan`: "the input carry and the output carry must have equal types".
    let error = tabulate(&BadScan { two_inputs: false })
        .run(|m| m.forward(&x))
        .expect_err("a [2,7] carry comes out [2,4]");
    assert_eq!(
        error.to_string(),
        "BadScan: scan: the body's carry output [float32[2,4]] differs from its carry input \
         [float32[2,7]]"
    );
}

/// `DropCell`: `Cell`'s first half, then `Dropout(0.5)` drawing from `dropout`.
#[derive(Tabulate)]
struct DropCell;

impl DropCell {
    #[forward]
    fn forward(&self, c: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = Dense::new(4)
            .forward(x)?
            .add(&Dense::new(4).use_bias(false).forward(c)?)?;
        let h = nn::tanh(&h)?;
        Ok((h.clone(), nn::Dropout::new(0.5).forward(&h, Some(false))?))
    }
}

/// `DropCell` scanned with `split_rngs={'params': False, 'dropout': <split>}`.
#[derive(Tabulate)]
struct Dropped {
    #[tabulate(skip)]
    split: bool,
}

impl Dropped {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let scan = nn::scan(DropCell)
            .variable_broadcast("params")
            .split_rngs([("params", false), ("dropout", self.split)])
            .in_axes(1)
            .out_axes(1);
        let c = Tensor::zeros(DType::F32, [x.dim(0)?, 4])?;
        scan.call(&c, x, DropCell::forward)
    }
}

/// A stream not split per step is the caller's key in every step: the loop's body draws
/// from it once (XLA analyses the body once), as Flax's numbers show.
#[test]
fn random_stream_not_split_inside_a_scan() {
    let x = seq();
    assert_same(
        &ours(
            |t| t.rngs(["dropout"]),
            &Dropped { split: false },
            |m| m.forward(&x),
        ),
        &flax("dropout_not_split"),
        "dropout_not_split",
    );
}

/// A stream split per step is not modelled (Flax splits its key `length` ways outside the
/// loop): an error naming the stream, not a wrong number.
#[test]
fn random_stream_split_per_step_is_an_error() {
    let x = seq();
    let error = tabulate(&Dropped { split: true })
        .rngs(["dropout"])
        .run(|m| m.forward(&x))
        .expect_err("split dropout");
    assert_eq!(
        error.to_string(),
        "ScanDropCell_0/Dropout_0 (Dropout): scan: random stream `dropout` is split per step \
         (split_rngs), which is not modelled; draw it with split_rngs={'dropout': False}"
    );
}

/// A cell with a context: `tanh(Dense(x) + Dense(c, no bias) + Dense(ctx))`.
#[derive(Tabulate)]
struct CtxCell;

impl CtxCell {
    #[forward]
    fn forward(&self, c: &Tensor, x: &Tensor, ctx: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = Dense::new(4)
            .forward(x)?
            .add(&Dense::new(4).use_bias(false).forward(c)?)?
            .add(&Dense::new(4).forward(ctx)?)?;
        let h = nn::tanh(&h)?;
        Ok((h.clone(), h))
    }
}

/// `in_axes=(1, nn.broadcast)`: `x` scanned over axis 1, `ctx` whole at every step (a
/// loop invariant).
#[derive(Tabulate)]
struct WithContext;

impl WithContext {
    #[forward]
    fn forward(&self, x: &Tensor, ctx: &Tensor) -> Result<(Tensor, Tensor)> {
        let scan = nn::scan(CtxCell)
            .variable_broadcast("params")
            .split_rngs([("params", false)])
            .in_axes(vec![ScanAxis::Axis(1), ScanAxis::Broadcast])
            .out_axes(1);
        let c = Tensor::zeros(DType::F32, [x.dim(0)?, 4])?;
        scan.call(&c, &(x.clone(), ctx.clone()), |cell, c, (x, ctx)| {
            cell.forward(c, x, ctx)
        })
    }
}

#[test]
fn broadcast_input_is_a_loop_invariant() {
    let x = seq();
    let ctx = Tensor::new(DType::F32, [2, 6]);
    assert_same(
        &ours(|t| t, &WithContext, |m| m.forward(&x, &ctx)),
        &flax("broadcast_input"),
        "broadcast_input",
    );
}

/// The scanned module held in a field (a `setup` attribute): named after the field.
#[derive(Tabulate)]
struct SetupScan {
    steps: nn::Scan<Cell>,
}

impl SetupScan {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let c = Tensor::zeros(DType::F32, [x.dim(0)?, 4])?;
        self.steps.call(&c, x, Cell::forward)
    }
}

#[test]
fn scan_as_a_setup_attribute() {
    let model = SetupScan {
        steps: nn::scan(Cell)
            .variable_broadcast("params")
            .split_rngs([("params", false)])
            .in_axes(1)
            .out_axes(1),
    };
    let x = seq();
    assert_same(
        &ours(|t| t, &model, |m| m.forward(&x)),
        &flax("setup_attribute"),
        "setup_attribute",
    );
}

/// A residual block holding an `RNN`: a scan inside the scan over layers.
#[derive(Tabulate)]
struct RnnBlock;

impl RnnBlock {
    #[forward]
    fn forward(&self, x: &Tensor, _none: &()) -> Result<(Tensor, ())> {
        let y = RNN::new(SimpleCell::new(x.dim(-1)?)).forward(x)?;
        Ok((x.add(&y)?, ()))
    }
}

/// Three `RnnBlock`s scanned, their parameters stacked or shared.
#[derive(Tabulate)]
struct LayersOfRnn {
    #[tabulate(skip)]
    stacked: bool,
}

impl LayersOfRnn {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let scan = nn::scan(RnnBlock).length(3);
        let scan = if self.stacked {
            scan.variable_axes([("params", 0)])
                .split_rngs([("params", true)])
        } else {
            scan.variable_broadcast("params")
                .split_rngs([("params", false)])
        };
        Ok(scan.call(x, &(), RnnBlock::forward)?.0)
    }
}

/// Nested loops: the `RNN` broadcasts its cell's parameters, so the scan around it decides
/// (stacked per layer, or shared).
#[test]
fn a_scan_inside_a_scan() {
    let x = seq();
    for (stacked, name) in [(true, "nested_stacked"), (false, "nested_shared")] {
        assert_same(
            &ours(|t| t, &LayersOfRnn { stacked }, |m| m.forward(&x)),
            &flax(name),
            name,
        );
    }
}

/// `rnn(x, seq_lengths=lengths)`: shown as Flax shows the keyword; without `reverse` or
/// `return_carry` Flax's `RNN` does not use it.
#[derive(Tabulate)]
struct WithLengths;

impl WithLengths {
    #[forward]
    fn forward(&self, x: &Tensor, lengths: &Tensor) -> Result<Tensor> {
        let out = RNN::new(SimpleCell::new(4))
            .forward_with(x, &RnnArgs::new().seq_lengths(lengths.clone()))?;
        Ok(out.outputs().clone())
    }
}

#[test]
fn rnn_with_seq_lengths() {
    let x = seq();
    let lengths = Tensor::new(DType::I32, [2]);
    assert_same(
        &ours(|t| t, &WithLengths, |m| m.forward(&x, &lengths)),
        &flax("seq_lengths"),
        "seq_lengths",
    );
}

/// A cell whose kernel is a `Param` field (declared when its call opens) or a `param`
/// call: `tanh(x · w + c)`.
#[derive(Tabulate)]
#[tabulate(rename = "WCell")]
struct FieldCell {
    w: tabulate::Param,
}

impl FieldCell {
    #[forward]
    fn forward(&self, c: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = x.matmul(&self.w.get()?)?.add(c)?.tanh()?;
        Ok((h.clone(), h))
    }
}

#[derive(Tabulate)]
#[tabulate(rename = "WCell")]
struct CallCell;

impl CallCell {
    #[forward]
    fn forward(&self, c: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let w = tabulate::param("w", DType::F32, [3, 4])?;
        let h = x.matmul(&w)?.add(c)?.tanh()?;
        Ok((h.clone(), h))
    }
}

/// Scans either cell, its parameters broadcast or stacked.
#[derive(Tabulate)]
struct ScanW {
    #[tabulate(skip)]
    field: bool,
    #[tabulate(skip)]
    stacked: bool,
}

impl ScanW {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        fn lift<M: Tabulate>(scan: nn::Scan<M>, stacked: bool) -> nn::Scan<M> {
            let scan = scan.in_axes(1).out_axes(1);
            if stacked {
                scan.variable_axes([("params", 0)])
            } else {
                scan.variable_broadcast("params")
            }
        }
        let c = Tensor::zeros(DType::F32, [x.dim(0)?, 4])?;
        if self.field {
            let cell = FieldCell {
                w: tabulate::Param::new(DType::F32, [3, 4]),
            };
            lift(nn::scan(cell), self.stacked).call(&c, x, FieldCell::forward)
        } else {
            lift(nn::scan(CallCell), self.stacked).call(&c, x, CallCell::forward)
        }
    }
}

/// A `Param` field inside a scan broadcasting its collection is the `param` call's
/// variable (the same table); stacking it is not modelled: a clear error, not a wrong
/// number.
#[test]
fn param_fields_inside_a_scan() {
    let x = seq();
    let table = |field: bool| {
        ours(
            |t| t,
            &ScanW {
                field,
                stacked: false,
            },
            |m| m.forward(&x),
        )
    };
    assert_same(&table(true), &table(false), "Param field vs param call");
    assert!(
        tabulate(&ScanW {
            field: false,
            stacked: true
        })
        .run(|m| m.forward(&x))
        .is_ok()
    );
    let error = tabulate(&ScanW {
        field: true,
        stacked: true,
    })
    .run(|m| m.forward(&x))
    .expect_err("a stacked Param field");
    assert_eq!(
        error.to_string(),
        "ScanWCell_0 (WCell): scan: the `Param` field `w` of collection `params` inside a \
         scan that stacks `params` (variable_axes) is not modelled; declare it with `param` \
         in the forward method"
    );
}
