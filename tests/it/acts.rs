//! What the differential family `acts` cannot reach: typed PRNG keys in the `inputs` and
//! `outputs` cells (`key<fry>[]`) and their cost, `random::normal`/`uniform_with` in a
//! module at sizes past 2^24, and grouped-query attention's errors. Expected tables and
//! numbers are real Flax 0.12.8 / jax 0.10.2 output (`nn.tabulate(...,
//! compute_flops=True, compute_vjp_flops=True, console_kwargs={'force_terminal': False,
//! 'width': 200})`, rngs `jax.random.key(0)`, `jax.random.key(1)`).

use tabulate::nn::{self, AttentionOptions};
use tabulate::prelude::*;
use tabulate::{ErrorKind, RenderOptions, random};

/// `x + jax.random.normal(key, x.shape)` with the key passed in.
#[derive(Tabulate)]
struct Sub;

impl Sub {
    #[forward]
    fn forward(&self, x: &Tensor, key: &Tensor) -> Result<Tensor> {
        x.add(&random::normal(key, x.shape().dims())?)
    }
}

/// `Sub()(x, self.make_rng('dropout'))`.
#[derive(Tabulate)]
struct Top;

impl Top {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let key = random::make_rng("dropout")?;
        Sub.forward(x, &key)
    }
}

fn table(summary: &Summary) -> String {
    summary.render(&RenderOptions::new())
}

#[test]
fn make_rng_key_passed_to_a_submodule_is_a_typed_key() {
    let x = Tensor::new(DType::F32, [4, 6]);
    let summary = tabulate(&Top)
        .rngs(["dropout"])
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .unwrap();
    let flax = "
                             Top Summary                              
┏━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━━┓
┃ path  ┃ module ┃ inputs         ┃ outputs      ┃ flops ┃ vjp_flops ┃
┡━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━┩
│       │ Top    │ float32[4,6]   │ float32[4,6] │ 1896  │ 1896      │
├───────┼────────┼────────────────┼──────────────┼───────┼───────────┤
│ Sub_0 │ Sub    │ - float32[4,6] │ float32[4,6] │ 1859  │ 1859      │
│       │        │ - key<fry>[]   │              │       │           │
├───────┼────────┼────────────────┼──────────────┼───────┼───────────┤
│       │        │                │              │       │     Total │
└───────┴────────┴────────────────┴──────────────┴───────┴───────────┘
                                                                      
                          Total Parameters:                           
";
    assert_eq!(table(&summary).trim_end(), flax.trim_end());
}

#[test]
fn typed_and_old_style_keys_as_inputs() {
    let x = Tensor::new(DType::F32, [4, 6]);
    let run = |key: &Tensor| {
        tabulate(&Sub)
            .compute_flops(true)
            .compute_vjp_flops(true)
            .run(|m| m.forward(&x, key))
            .unwrap()
    };
    // `Sub()(x, jax.random.key(0))`: the key's `Sharding` custom call counts -1.
    let typed = run(&random::key());
    assert!(table(&typed).contains("│      │ Sub    │ - float32[4,6] │ float32[4,6] │ 1859  │ 1859      │\n│      │        │ - key<fry>[]   │"), "{}", table(&typed));
    // `Sub()(x, jax.random.PRNGKey(0))`: a plain `uint32[2]`.
    let old = run(&Tensor::new(DType::U32, [2]));
    assert!(table(&old).contains("│      │ Sub    │ - float32[4,6] │ float32[4,6] │ 1860  │ 1860      │\n│      │        │ - uint32[2]    │"));
}

/// `return x, self.make_rng('dropout')`.
#[derive(Tabulate)]
struct Draw;

impl Draw {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((x.clone(), random::make_rng("dropout")?))
    }
}

#[test]
fn a_typed_key_as_an_output() {
    let x = Tensor::new(DType::F32, [4, 6]);
    let summary = tabulate(&Draw)
        .rngs(["dropout"])
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .unwrap();
    // Flax: flops 35 (fold-in 37, typed key input -1, its output -1).
    assert!(table(&summary).contains("│      │ Draw   │ float32[4,6] │ - float32[4,6] │ 35    │ 0         │\n│      │        │              │ - key<fry>[]   │       │           │"), "{}", table(&summary));
}

/// `x * jax.random.uniform(self.make_rng('dropout'), x.shape, minval=-2.0, maxval=3.0)`.
#[derive(Tabulate)]
struct Uni;

impl Uni {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let key = random::make_rng("dropout")?;
        x.mul(&random::uniform_with(&key, x.shape().dims(), -2.0, 3.0)?)
    }
}

#[test]
fn uniform_with_bounds_past_two_to_the_24() {
    let x = Tensor::new(DType::F32, [64, 1024, 1024]);
    let summary = tabulate(&Uni)
        .rngs(["dropout"])
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .unwrap();
    assert_eq!(summary.rows[0].flops(), Some(2_751_463_424));
    assert_eq!(summary.rows[0].vjp_flops(), Some(2_818_572_288));
}

#[test]
fn grouped_query_attention_refuses_what_it_cannot_cost() {
    let q = Tensor::new(DType::F32, [2, 5, 8, 4]);
    let kv = Tensor::new(DType::F32, [2, 5, 3, 4]);
    let err = nn::dot_product_attention(&q, &kv, &kv, &AttentionOptions::default()).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
    assert!(
        err.to_string().contains(
            "dot_product_attention: grouped-query attention (fewer key/value heads than query heads) needs the key/value heads to divide the query heads: query float32[2,5,8,4]"
        ),
        "{err}"
    );
    let kv = Tensor::new(DType::F32, [2, 5, 2, 4]);
    let mask = Tensor::new(DType::Bool, [2, 8, 5, 5]);
    let options = AttentionOptions {
        mask: Some(&mask),
        ..AttentionOptions::default()
    };
    let err = nn::dot_product_attention(&q, &kv, &kv, &options).unwrap_err();
    assert!(
        err.to_string().contains(
            "takes a boolean mask of shape [2, 1, 5, 5] (one for all heads), got bool[2,8,5,5]"
        ),
        "{err}"
    );
    let bias = Tensor::new(DType::F32, [2, 8, 5, 5]);
    let options = AttentionOptions {
        bias: Some(&bias),
        ..AttentionOptions::default()
    };
    let err = nn::dot_product_attention(&q, &kv, &kv, &options).unwrap_err();
    assert!(
        err.to_string().contains("takes no bias or dropout"),
        "{err}"
    );
    let half = Tensor::new(DType::BF16, [2, 5, 8, 4]);
    let err = nn::dot_product_attention(&half, &kv, &kv, &AttentionOptions::default()).unwrap_err();
    assert!(err.to_string().contains("float32 only"), "{err}");
}
