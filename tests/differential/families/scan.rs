//! Family `scan` (`scripts/diff_families/scan.py`): the lifted `nn::scan` of a user cell,
//! a built-in cell or a residual block; `RNN`'s options at construction or at the call;
//! `Bidirectional`.

use super::*;
use tabulate::nn::{Bidirectional, RNNCell, RnnArgs, RnnOutput, Scan, ScanAxis};

pub(crate) const FAMILY: Family = Family {
    build,
    apply_fn: |_, _| None,
};

fn act(name: &str, x: &Tensor) -> Result<Tensor> {
    match name {
        "tanh" => nn::tanh(x),
        "relu" => nn::relu(x),
        "sigmoid" => nn::sigmoid(x),
        "gelu" => nn::gelu(x),
        other => panic!("spec: activation {other}"),
    }
}

/// The script's `Cell`: `h = act(Dense(x) + Dense(c, no bias))`, `y = Dense(h)` or `h`.
#[derive(Tabulate)]
struct Cell {
    #[tabulate(skip)]
    op: Json,
}

impl Cell {
    #[forward]
    fn forward(&self, c: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let f = usize_of(&self.op, "features");
        let h = Dense::new(f)
            .forward(x)?
            .add(&Dense::new(f).use_bias(false).forward(c)?)?;
        let h = act(self.op["act"].as_str().expect("act"), &h)?;
        let y = if self.op["out"].is_null() {
            h.clone()
        } else {
            Dense::new(usize_of(&self.op, "out"))
                .use_bias(flag(&self.op, "out_bias"))
                .forward(&h)?
        };
        Ok((h, y))
    }
}

/// The script's `Block`: `(x + act(Dense(x)) [LayerNorm], None)`.
#[derive(Tabulate)]
struct Block {
    #[tabulate(skip)]
    op: Json,
}

impl Block {
    #[forward]
    fn forward(&self, x: &Tensor, _none: &()) -> Result<(Tensor, ())> {
        let h = act(
            self.op["act"].as_str().expect("act"),
            &Dense::new(x.dim(-1)?).forward(x)?,
        )?;
        let h = if flag(&self.op, "norm") {
            LayerNorm::new().forward(&h)?
        } else {
            h
        };
        Ok((x.add(&h)?, ()))
    }
}

fn axis(op: &Json, key: &str) -> isize {
    isize::try_from(op[key].as_i64().expect("spec: an axis")).expect("axis")
}

/// `nn.scan`'s options of op `op`.
fn options<M: Tabulate>(scan: Scan<M>, op: &Json, name: Option<&str>) -> Scan<M> {
    let scan = if op["mode"] == "broadcast" {
        scan.variable_broadcast("params")
            .split_rngs([("params", false)])
    } else {
        scan.variable_axes([("params", axis(op, "var_axis"))])
            .split_rngs([("params", true)])
    };
    let scan = if op["kind"] == "block" {
        scan.length(usize_of(op, "length"))
    } else {
        scan.in_axes(ScanAxis::Axis(axis(op, "in_axis")))
            .out_axes(ScanAxis::Axis(axis(op, "out_axis")))
    };
    let scan = scan.reverse(flag(op, "reverse"));
    match name {
        Some(name) => scan.name(name),
        None => scan,
    }
}

/// The zero carry of a scanned cell on `x`: the step's batch axes and `features`.
fn carry_shape(op: &Json, x: &Tensor) -> Vec<usize> {
    let rank = isize::try_from(x.rank()).expect("rank");
    let a = axis(op, "in_axis");
    let a = usize::try_from(if a < 0 { a + rank } else { a }).expect("axis");
    let mut dims = x.shape().dims().to_vec();
    dims.remove(a);
    *dims.last_mut().expect("a feature axis") = usize_of(op, "features");
    dims
}

struct ScanCell(Scan<Cell>);

impl FamilyLayer for ScanCell {
    fn module(&self) -> &dyn Tabulate {
        &self.0
    }

    fn call(&self, op: &Json, x: &Tensor) -> Result<Tensor> {
        let c = Tensor::zeros(x.dtype(), carry_shape(op, x))?;
        Ok(self.0.call(&c, x, Cell::forward)?.1)
    }
}

struct ScanBlock(Scan<Block>);

impl FamilyLayer for ScanBlock {
    fn module(&self) -> &dyn Tabulate {
        &self.0
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        Ok(self.0.call(x, &(), Block::forward)?.0)
    }
}

/// `nn.scan` of a built-in cell.
struct ScanBuiltin<C: RNNCell>(Scan<C>);

impl<C: RNNCell> FamilyLayer for ScanBuiltin<C> {
    fn module(&self) -> &dyn Tabulate {
        &self.0
    }

    fn call(&self, op: &Json, x: &Tensor) -> Result<Tensor> {
        // The script's zeros: two arrays for an LSTM, as `initialize_carry` makes them.
        let mut step = carry_shape(op, x);
        *step.last_mut().expect("a feature axis") = x.dim(-1)?;
        let c = self.0.module.initialize_carry(&step)?;
        Ok(self.0.call(&c, x, C::step)?.1)
    }
}

/// `nn.RNN` with the op's options at construction or at the call.
struct Rnn<C: RNNCell>(RNN<C>);

impl<C: RNNCell> FamilyLayer for Rnn<C> {
    fn module(&self) -> &dyn Tabulate {
        &self.0
    }

    fn call(&self, op: &Json, x: &Tensor) -> Result<Tensor> {
        let opts = &op["opts"];
        if op["at"] == "init" {
            return if opts["return_carry"] == true {
                Ok(self.0.forward_with(x, &RnnArgs::new())?.outputs().clone())
            } else {
                self.0.forward(x)
            };
        }
        let mut args = RnnArgs::new();
        for (key, value) in opts.as_object().expect("spec: opts") {
            let value = value.as_bool().expect("spec: a flag");
            args = match key.as_str() {
                "return_carry" => args.return_carry(value),
                "time_major" => args.time_major(value),
                "reverse" => args.reverse(value),
                "keep_order" => args.keep_order(value),
                other => panic!("spec: RNN option {other}"),
            };
        }
        Ok(match self.0.forward_with(x, &args)? {
            RnnOutput::Outputs(y) | RnnOutput::WithCarry(_, y) => y,
        })
    }
}

fn rnn<C: RNNCell + 'static>(cell: C, op: &Json, name: Option<&str>) -> BoxedLayer {
    let mut rnn = RNN::new(cell);
    if op["at"] == "init" {
        let opts = &op["opts"];
        let get = |key: &str| opts[key].as_bool();
        if let Some(v) = get("return_carry") {
            rnn = rnn.return_carry(v);
        }
        if let Some(v) = get("time_major") {
            rnn = rnn.time_major(v);
        }
        if let Some(v) = get("reverse") {
            rnn = rnn.reverse(v);
        }
        if let Some(v) = get("keep_order") {
            rnn = rnn.keep_order(v);
        }
    }
    Box::new(Rnn(match name {
        Some(name) => rnn.name(name),
        None => rnn,
    }))
}

struct Bidir<F: RNNCell, B: RNNCell>(Bidirectional<F, B>);

impl<F: RNNCell, B: RNNCell> FamilyLayer for Bidir<F, B> {
    fn module(&self) -> &dyn Tabulate {
        &self.0
    }

    fn call(&self, _op: &Json, x: &Tensor) -> Result<Tensor> {
        if self.0.return_carry {
            Ok(self.0.forward_with(x, &RnnArgs::new())?.outputs().clone())
        } else {
            self.0.forward(x)
        }
    }
}

/// The cells in the order Python builds them: the forward RNN's cell, the forward RNN,
/// then the backward ones.
fn bidir<F: RNNCell + 'static, B: RNNCell + 'static>(
    cell_f: impl FnOnce() -> F,
    cell_b: impl FnOnce() -> B,
    op: &Json,
    name: Option<&str>,
) -> BoxedLayer {
    let forward = RNN::new(cell_f());
    let backward = RNN::new(cell_b());
    let layer = Bidirectional::new(forward, backward)
        .time_major(flag(op, "time_major"))
        .return_carry(flag(op, "return_carry"));
    Box::new(Bidir(match name {
        Some(name) => layer.name(name),
        None => layer,
    }))
}

fn with_backward<F: RNNCell + 'static>(
    cell_f: impl FnOnce() -> F,
    op: &Json,
    name: Option<&str>,
) -> BoxedLayer {
    let fb = usize_of(op, "features_b");
    match op["cell_b"].as_str() {
        Some("lstm") => bidir(cell_f, || LSTMCell::new(fb), op, name),
        Some("gru") => bidir(cell_f, || GRUCell::new(fb), op, name),
        _ => bidir(cell_f, || SimpleCell::new(fb), op, name),
    }
}

fn build(op: &Json, name: Option<&str>) -> Option<BoxedLayer> {
    match kind(op) {
        "Scan" => {
            let f = || usize_of(op, "features");
            Some(match op["kind"].as_str() {
                Some("cell") => Box::new(ScanCell(options(
                    nn::scan(Cell { op: op.clone() }),
                    op,
                    name,
                ))),
                Some("block") => Box::new(ScanBlock(options(
                    nn::scan(Block { op: op.clone() }),
                    op,
                    name,
                ))),
                Some("lstm") => {
                    Box::new(ScanBuiltin(options(nn::scan(LSTMCell::new(f())), op, name)))
                }
                Some("gru") => {
                    Box::new(ScanBuiltin(options(nn::scan(GRUCell::new(f())), op, name)))
                }
                _ => Box::new(ScanBuiltin(options(
                    nn::scan(SimpleCell::new(f())),
                    op,
                    name,
                ))),
            })
        }
        "RNNx" => {
            let f = usize_of(op, "features");
            Some(match op["cell"].as_str() {
                Some("lstm") => rnn(LSTMCell::new(f), op, name),
                Some("gru") => rnn(GRUCell::new(f), op, name),
                _ => rnn(SimpleCell::new(f), op, name),
            })
        }
        "Bidir" => {
            let ff = usize_of(op, "features_f");
            Some(match op["cell_f"].as_str() {
                Some("lstm") => with_backward(|| LSTMCell::new(ff), op, name),
                Some("gru") => with_backward(|| GRUCell::new(ff), op, name),
                _ => with_backward(|| SimpleCell::new(ff), op, name),
            })
        }
        _ => None,
    }
}
