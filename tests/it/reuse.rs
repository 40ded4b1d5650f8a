//! A row's `flops` composed from its child calls' programs (`cost/compose.rs`) against the
//! same row costed from its own program, bit for bit: random nested models (repeated
//! blocks, residuals, two-output children, `BatchNorm` state, dropout keys, constants
//! passed as arguments, leaked values, unused outputs, `remat`, `vmap`), and the models of
//! the zoo. [`Reuse::Check`] computes both and fails the run on any difference; the
//! counts say which rows were composed and which fell back.

use std::cell::RefCell;

use tabulate::__private::{Reuse, ReuseStats, reuse_stats, set_reuse};
use tabulate::nn::{
    BatchNorm, Dense, Dropout, LayerNorm, Remat, gelu, relu, remat, selu, sigmoid, vmap,
};
use tabulate::prelude::*;
use tabulate::{Tabulate, Visitor, module_call};

use crate::golden::gpt2_small;
use crate::zoo::{llama2_7b, resnet18};

/// The features every block keeps.
const WIDTH: usize = 8;

/// One step of a block's body on its running tensor `x`.
#[derive(Clone, Copy, Debug)]
enum Step {
    Dense,
    Relu,
    Gelu,
    Sigmoid,
    LayerNorm,
    BatchNorm,
    Dropout,
    /// `x * 1`: folds away in the row's glue.
    TimesOne,
    /// `x = child(x)`.
    Child(usize),
    /// `x = x + child(x)`.
    Residual(usize),
    /// `(a, b) = child.pair(x)`; `x = a + b`, or `x = a` with `b` unused.
    Pair(usize, bool),
    /// `x = child.with(x, ones)`: a constant passed as an argument.
    Constant(usize),
    /// `x = child.halves(concat([x, x]))`: the child slices a `concatenate`.
    Concat(usize),
    /// `x = child.leaky(x) + stash`: a value from inside the child read outside it.
    Leak(usize),
    /// `x = vmap(Dense)(x)`.
    Vmap,
    /// `x = selu(x)`: a nested `jit` (an HLO `call`).
    Selu,
    /// `x = child(stop_gradient(x))`: a child input without a tangent.
    Frozen(usize),
}

/// A child: a block, or a block behind `remat`.
enum Child {
    Plain(Block),
    Checkpointed(Remat<Block>),
}

impl Child {
    fn block(&self) -> &Block {
        match self {
            Child::Plain(b) => b,
            Child::Checkpointed(r) => r.module(),
        }
    }

    fn call<R>(&self, f: impl FnOnce(&Block) -> R) -> R {
        match self {
            Child::Plain(b) => f(b),
            Child::Checkpointed(r) => r.call(f),
        }
    }
}

/// A module whose body is a list of steps over its children.
struct Block {
    steps: Vec<Step>,
    children: Vec<Child>,
    stash: RefCell<Option<Tensor>>,
}

impl Tabulate for Block {
    fn type_name(&self) -> &'static str {
        "Block"
    }

    fn visit_submodules(&self, visitor: &mut dyn Visitor) {
        for (i, child) in self.children.iter().enumerate() {
            let name = format!("b{i}");
            match child {
                Child::Plain(b) => visitor.visit(&name, b),
                Child::Checkpointed(r) => visitor.visit(&name, r),
            }
        }
    }
}

impl Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(self, "forward", |a| a.positional(x), || self.body(x))
    }

    fn pair(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        module_call(
            self,
            "pair",
            |a| a.positional(x),
            || {
                let y = self.body(x)?;
                let z = y.mul(2.0)?;
                Ok((y, z))
            },
        )
    }

    fn with(&self, x: &Tensor, c: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "with",
            |a| {
                a.positional(x);
                a.positional(c);
            },
            || self.body(&x.add(c)?),
        )
    }

    fn halves(&self, x: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "halves",
            |a| a.positional(x),
            || self.body(&x.slice(-1, 0, WIDTH)?),
        )
    }

    fn leaky(&self, x: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "leaky",
            |a| a.positional(x),
            || {
                let h = x.mul(3.0)?;
                *self.stash.borrow_mut() = Some(h.clone());
                self.body(&h)
            },
        )
    }

    fn body(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for step in &self.steps {
            x = match *step {
                Step::Dense => Dense::new(WIDTH).forward(&x)?,
                Step::Relu => relu(&x)?,
                Step::Gelu => gelu(&x)?,
                Step::Sigmoid => sigmoid(&x)?,
                Step::LayerNorm => LayerNorm::new().forward(&x)?,
                Step::BatchNorm => BatchNorm::new(false).forward(&x)?,
                Step::Dropout => Dropout::new(0.25).forward(&x, false)?,
                Step::TimesOne => x.mul(1.0)?,
                Step::Child(i) => self.children[i].call(|b| b.forward(&x))?,
                Step::Residual(i) => x.add(&self.children[i].call(|b| b.forward(&x))?)?,
                Step::Pair(i, both) => {
                    let (a, b) = self.children[i].call(|b| b.pair(&x))?;
                    if both { a.add(&b)? } else { a }
                }
                Step::Constant(i) => {
                    let c = Tensor::ones(DType::F32, [x.dim(0)?, WIDTH])?;
                    self.children[i].call(|b| b.with(&x, &c))?
                }
                Step::Concat(i) => {
                    let both = Tensor::concatenate(&[&x, &x], -1)?;
                    self.children[i].call(|b| b.halves(&both))?
                }
                Step::Leak(i) => {
                    let child = self.children[i].block();
                    let y = self.children[i].call(|b| b.leaky(&x))?;
                    let stash = child.stash.borrow().clone().expect("stashed");
                    y.add(&stash)?
                }
                Step::Vmap => vmap(Dense::new(WIDTH)).forward(&x)?,
                Step::Selu => selu(&x)?,
                Step::Frozen(i) => {
                    let frozen = x.stop_gradient()?;
                    self.children[i].call(|b| b.forward(&frozen))?
                }
            };
        }
        Ok(x)
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33;
        usize::try_from(r).unwrap() % n
    }
}

/// A random block of at most `depth` levels, built from `seed` alone, so that one seed
/// gives blocks with equal programs (GPT-2's repeated blocks).
fn block(seed: u64, depth: usize, safe_only: bool) -> Block {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut steps = Vec::new();
    let mut children = Vec::new();
    let n = 1 + rng.below(4);
    for _ in 0..n {
        let leaf = [
            Step::Dense,
            Step::Relu,
            Step::Gelu,
            Step::Sigmoid,
            Step::LayerNorm,
            Step::BatchNorm,
            Step::Dropout,
            Step::TimesOne,
            Step::Vmap,
            Step::Selu,
        ];
        if depth == 0 || rng.below(3) == 0 {
            steps.push(leaf[rng.below(leaf.len())]);
            continue;
        }
        // Repeated blocks: a few seeds per level, often the same.
        let child_seed = seed.wrapping_mul(31).wrapping_add(rng.below(3) as u64);
        let child = block(child_seed, depth - 1, safe_only);
        let i = children.len();
        children.push(if rng.below(5) == 0 {
            Child::Checkpointed(remat(child))
        } else {
            Child::Plain(child)
        });
        let kinds = if safe_only { 3 } else { 8 };
        steps.push(match rng.below(kinds) {
            0 => Step::Child(i),
            1 => Step::Residual(i),
            2 => Step::Pair(i, true),
            3 => Step::Pair(i, false),
            4 => Step::Constant(i),
            5 => Step::Concat(i),
            6 => Step::Frozen(i),
            _ => Step::Leak(i),
        });
    }
    Block {
        steps,
        children,
        stash: RefCell::new(None),
    }
}

/// Fallback reasons met: (column, reason, rows).
type Reasons = Vec<(&'static str, &'static str, u64)>;

thread_local! {
    static REASONS: RefCell<Reasons> = const { RefCell::new(Vec::new()) };
}

/// Adds `new` to the reasons met so far, one entry per (column, reason).
fn add_reasons(all: &mut Reasons, new: Reasons) {
    for (column, why, n) in new {
        match all.iter_mut().find(|r| r.0 == column && r.1 == why) {
            Some(r) => r.2 += n,
            None => all.push((column, why, n)),
        }
    }
}

fn add_stats(total: &mut ReuseStats, stats: ReuseStats) {
    total.composed += stats.composed;
    total.fallbacks += stats.fallbacks;
    total.vjp_composed += stats.vjp_composed;
    total.vjp_fallbacks += stats.vjp_fallbacks;
}

/// Runs `model` with both FLOP columns, each row with children costed both ways.
fn check_both_ways(model: &Block, seed: u64) -> ReuseStats {
    set_reuse(Reuse::Check);
    let x = Tensor::new(DType::F32, [4, WIDTH]);
    let summary = tabulate(model)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .rngs(["dropout"])
        .run(|m| m.forward(&x));
    let stats = reuse_stats();
    REASONS.with_borrow_mut(|all| add_reasons(all, tabulate::__private::fallback_reasons()));
    set_reuse(Reuse::On);
    if let Err(e) = summary {
        panic!("seed {seed}: {e}");
    }
    stats
}

#[test]
fn random_nested_models_compose_to_the_same_bits() {
    // Two workers, each with its own thread-local mode, counts and reasons (the longest
    // test of the suite: a cold `cargo test` would otherwise wait for it on one core).
    let workers: Vec<(ReuseStats, Reasons)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2u64)
            .map(|worker| {
                scope.spawn(move || {
                    let mut total = ReuseStats::default();
                    for seed in (worker..300).step_by(2) {
                        let stats = check_both_ways(&block(seed, 3, seed % 2 == 0), seed);
                        add_stats(&mut total, stats);
                    }
                    (total, REASONS.with_borrow(Clone::clone))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .expect("a worker panicked (its seed is printed above)")
            })
            .collect()
    });
    let mut total = ReuseStats::default();
    let mut all: Reasons = Vec::new();
    for (stats, reasons) in workers {
        add_stats(&mut total, stats);
        add_reasons(&mut all, reasons);
    }
    // Both ways are exercised: most rows compose, the cases the rules exclude fall back.
    println!("{total:?}");
    for r in &all {
        println!("{r:?}");
    }
    assert!(total.composed > 300, "{total:?}");
    assert!(total.fallbacks > 30, "{total:?}");
    assert!(total.vjp_composed > 600, "{total:?}");
    // Every reason a row's VJP falls back for is met (each one's own model is in
    // `each_broken_precondition_falls_back`), and no other.
    let mut vjp: Vec<&str> = all
        .iter()
        .filter(|r| r.0 == "vjp_flops")
        .map(|r| r.1)
        .collect();
    vjp.sort_unstable();
    assert_eq!(
        vjp,
        [
            "a child is checkpointed",
            "a child reads a constant or a concatenate",
            "a child's input has no tangent in the row",
            "a child's part reads one of several results of a nested call",
            "a region of the row holds a child",
            "a value a child computes is read outside it",
            "the row is checkpointed",
            "the row reads values from outside and holds regions",
            "the row's VJP needs only some of a child's part",
        ]
    );
}

#[test]
fn models_with_only_safe_boundaries_always_compose() {
    for seed in 0..100 {
        let stats = check_both_ways(&block(seed * 2, 3, true), seed * 2);
        assert_eq!(stats.fallbacks, 0, "seed {}: {stats:?}", seed * 2);
    }
}

/// A block of two dense layers (no operations of its own: `relu` would be a nested
/// `jit` among them).
fn dense_block() -> Block {
    Block {
        steps: vec![Step::Dense, Step::Dense],
        children: Vec::new(),
        stash: RefCell::new(None),
    }
}

/// A root calling one child through `step`.
fn root_with(step: Step) -> Block {
    Block {
        steps: vec![Step::Dense, step, Step::Dense],
        children: vec![Child::Plain(dense_block())],
        stash: RefCell::new(None),
    }
}

/// Whether the root of `model` (whose only other row with children is its block,
/// measured after it) was composed for `flops` and for `vjp_flops`, or why not.
fn outcomes(model: &Block) -> (Result<(), &'static str>, Result<(), &'static str>) {
    let stats = check_both_ways(model, 0);
    assert_eq!(stats.composed + stats.fallbacks, 2, "{stats:?}");
    assert_eq!(stats.vjp_composed + stats.vjp_fallbacks, 2, "{stats:?}");
    (
        stats.last_fallback.map_or(Ok(()), Err),
        stats.last_vjp_fallback.map_or(Ok(()), Err),
    )
}

/// [`outcomes`] of `root_with(step)`.
fn root_outcome(step: Step) -> (Result<(), &'static str>, Result<(), &'static str>) {
    outcomes(&root_with(step))
}

#[test]
fn each_broken_precondition_falls_back() {
    assert_eq!(root_outcome(Step::Child(0)), (Ok(()), Ok(())));
    // `x` is read by the child and by the residual `add`: the child's part of the VJP
    // takes the cotangent the `add` gives `x` and adds its own to it, as the row does.
    assert_eq!(root_outcome(Step::Residual(0)), (Ok(()), Ok(())));
    assert_eq!(root_outcome(Step::Pair(0, true)), (Ok(()), Ok(())));
    // The VJP's DFS never enters the unused result: a part without nested computations
    // is replayed from the results it is entered through.
    assert_eq!(
        root_outcome(Step::Pair(0, false)),
        (Err("the row needs only some of a child's outputs"), Ok(()))
    );
    // A constant argument would fold inside the child in the root's program only.
    let constant = Err("a child reads a constant or a concatenate");
    assert_eq!(root_outcome(Step::Constant(0)), (constant, constant));
    // A slice of a `concatenate` folds across the boundary.
    assert_eq!(root_outcome(Step::Concat(0)), (constant, constant));
    let leak = Err("a value a child computes is read outside it");
    assert_eq!(root_outcome(Step::Leak(0)), (leak, leak));
    // Differentiated on its own, the child would differentiate its input.
    assert_eq!(
        root_outcome(Step::Frozen(0)),
        (Ok(()), Err("a child's input has no tangent in the row"))
    );
    // A nested `jit` among the row's own operations: its call's one result is read by
    // the child's part only.
    let with_selu = Block {
        steps: vec![Step::Dense, Step::Child(0), Step::Selu],
        children: vec![Child::Plain(dense_block())],
        stash: RefCell::new(None),
    };
    assert_eq!(outcomes(&with_selu), (Ok(()), Ok(())));
    // A child holding a nested `jit` whose second result the row does not use: its
    // part's `call` would have other results than in the row's program.
    let selu_block = Block {
        steps: vec![Step::Dense, Step::Selu],
        children: Vec::new(),
        stash: RefCell::new(None),
    };
    let unused = Block {
        steps: vec![Step::Pair(0, false)],
        children: vec![Child::Plain(selu_block)],
        stash: RefCell::new(None),
    };
    assert_eq!(
        vjp_reasons(&unused),
        [(
            "vjp_flops",
            "the row's VJP needs only some of a child's part"
        )]
    );
}

/// Why the rows of `model` fell back, in the order they were measured (each once).
fn vjp_reasons(model: &Block) -> Vec<(&'static str, &'static str)> {
    set_reuse(Reuse::Check);
    let x = Tensor::new(DType::F32, [4, WIDTH]);
    let summary = tabulate(model)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x));
    let reasons = tabulate::__private::fallback_reasons();
    set_reuse(Reuse::On);
    summary.expect("runs, both ways equal");
    reasons.into_iter().map(|(c, why, _)| (c, why)).collect()
}

/// A checkpointed child is a `remat` in its parent's VJP, not its own VJP program; a
/// checkpointed row's VJP is costed on the module it wraps.
#[test]
fn checkpoints_fall_back_for_the_vjp() {
    let middle = Block {
        steps: vec![Step::Child(0)],
        children: vec![Child::Plain(dense_block())],
        stash: RefCell::new(None),
    };
    let root = Block {
        steps: vec![Step::Child(0)],
        children: vec![Child::Checkpointed(remat(middle))],
        stash: RefCell::new(None),
    };
    assert_eq!(
        vjp_reasons(&root),
        [
            ("vjp_flops", "a child is checkpointed"),
            ("vjp_flops", "the row is checkpointed"),
        ]
    );
}

/// Runs a zoo model in check mode and returns the counts.
fn zoo_stats<M: Tabulate>(model: &M, run: impl FnOnce(&M) -> Result<Tensor>) -> ReuseStats {
    set_reuse(Reuse::Check);
    let summary = tabulate(model)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(run);
    let stats = reuse_stats();
    set_reuse(Reuse::On);
    summary.expect("runs, both ways equal");
    stats
}

#[test]
fn gpt2_small_rows_compose() {
    let tokens = Tensor::new(DType::I32, [1, 1024]);
    let stats = zoo_stats(&gpt2_small::GPT2::default(), |m| m.forward(&tokens));
    // The root, `h_0`, its attention and MLP: composed (`h_1`..`h_11` and theirs are
    // the memo's: the same programs as `h_0`'s).
    assert_eq!((stats.composed, stats.fallbacks), (4, 0), "{stats:?}");
    // Their VJP too, but the attention's: `c_attn`'s part would read the cotangent of
    // its result as the `concatenate` that transposes the row's `split` into q, k, v.
    assert_eq!(
        (stats.vjp_composed, stats.vjp_fallbacks),
        (3, 1),
        "{stats:?}"
    );
    assert_eq!(
        stats.last_vjp_fallback,
        Some("a child's part of the VJP reads a constant or a concatenate")
    );
}

#[test]
fn llama_and_resnet_rows_compose() {
    let [tokens, cos, sin] = llama2_7b::inputs(64);
    let llama = zoo_stats(&llama2_7b::LlamaForCausalLM::llama2_7b(), |m| {
        m.forward(&tokens, &cos, &sin)
    });
    assert_eq!(llama.fallbacks, 0, "{llama:?}");
    assert_eq!(
        (llama.vjp_composed, llama.vjp_fallbacks),
        (4, 0),
        "{llama:?}"
    );
    let image = Tensor::new(DType::F32, [1, 224, 224, 3]);
    let resnet = zoo_stats(&resnet18::ResNet::resnet18(), |m| m.forward(&image));
    assert_eq!(resnet.fallbacks, 0, "{resnet:?}");
    // Every row with children, `relu` (a nested `jit`) between them included.
    assert_eq!(
        (resnet.vjp_composed, resnet.vjp_fallbacks),
        (11, 0),
        "{resnet:?}"
    );
}
