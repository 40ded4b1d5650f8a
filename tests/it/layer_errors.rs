//! Bad input to a built-in layer is an `Error` that says what is wrong, never a panic.

use tabulate::nn::{
    AttentionOptions, BatchNorm, Conv, Dropout, Embed, GroupNorm, MultiHeadDotProductAttention,
    dot_product_attention,
};
use tabulate::prelude::*;
use tabulate::{Error, Mutable};

fn f32s(shape: &[usize]) -> Tensor {
    Tensor::new(DType::F32, shape)
}

/// The message of the error a one-layer summary fails with.
fn message<M: Tabulate, R: tabulate::ForwardOutput>(
    model: &M,
    forward: impl FnOnce(&M) -> R,
) -> String {
    let error: Error = tabulate(model)
        .compute_flops(true)
        .run(forward)
        .expect_err("the run fails");
    error.to_string()
}

#[test]
fn conv_rejects_an_input_of_the_wrong_rank() {
    let conv = Conv::new(8, [3, 3]);
    let msg = message(&conv, |c| c.forward(&f32s(&[5])));
    assert!(
        msg.contains("needs an input of rank 3 or more") && msg.contains("float32[5]"),
        "{msg}"
    );
}

#[test]
fn attention_rejects_mismatched_query_and_key() {
    let (q, k, v) = (
        f32s(&[2, 7, 3, 4]),
        f32s(&[2, 7, 3, 5]),
        f32s(&[2, 7, 3, 5]),
    );
    let error =
        dot_product_attention(&q, &k, &v, &AttentionOptions::default()).expect_err("depths differ");
    let msg = error.to_string();
    assert!(
        msg.contains("depths differ")
            && msg.contains("float32[2,7,3,4]")
            && msg.contains("float32[2,7,3,5]"),
        "{msg}"
    );
}

#[test]
fn attention_rejects_features_not_divisible_by_heads() {
    let mha = MultiHeadDotProductAttention::new(3).qkv_features(8);
    let msg = message(&mha, |m| m.forward(&f32s(&[2, 4, 6]), true));
    assert!(
        msg.contains("(8) must be divisible by the number of heads (3)"),
        "{msg}"
    );
}

#[test]
fn embed_rejects_float_indices() {
    let embed = Embed::new(10, 3);
    let msg = message(&embed, |e| e.forward(&f32s(&[2, 5])));
    assert!(
        msg.contains("Embed needs integer indices, got float32[2,5]"),
        "{msg}"
    );
}

#[test]
fn group_norm_rejects_channels_not_divisible_by_groups() {
    let norm = GroupNorm::new(3);
    let msg = message(&norm, |n| n.forward(&f32s(&[2, 8, 8, 8])));
    assert!(
        msg.contains("the number of groups (3) does not divide the number of channels (8)"),
        "{msg}"
    );
}

#[test]
fn conv_rejects_features_not_divisible_by_groups() {
    let conv = Conv::new(6, [3, 3]).feature_group_count(4);
    let msg = message(&conv, |c| c.forward(&f32s(&[1, 8, 8, 8])));
    assert!(
        msg.contains(
            "feature_group_count 4 must divide the input features (8) and the output features (6)"
        ),
        "{msg}"
    );
}

#[test]
fn training_batch_norm_needs_a_mutable_batch_stats_collection() {
    let bn = BatchNorm::new(false);
    let error = tabulate(&bn)
        .mutable(Mutable::only(["params"]))
        .run(|b| b.forward(&f32s(&[4, 8])))
        .expect_err("batch_stats is not mutable");
    let msg = error.to_string();
    assert!(
        msg.starts_with("BatchNorm: cannot declare variable `mean` in collection `batch_stats`"),
        "{msg}"
    );
    // Evaluation mode only reads the statistics (declaring them is what needs `mutable`).
    let eval = BatchNorm::new(true);
    assert!(tabulate(&eval).run(|b| b.forward(&f32s(&[4, 8]))).is_ok());
}

#[test]
fn stochastic_dropout_needs_the_dropout_stream() {
    let dropout = Dropout::new(0.5);
    let msg = message(&dropout, |d| d.forward(&f32s(&[4, 8]), false));
    assert!(msg.contains("random stream `dropout`"), "{msg}");
    let ok = tabulate(&dropout)
        .rngs(["dropout"])
        .compute_flops(true)
        .run(|d| d.forward(&f32s(&[4, 8]), false));
    assert_eq!(ok.expect("with the stream").rows[0].flops(), Some(1360));
}

/// Flax's `merge_param`: a hyperparameter accepted at construction or at the call must be
/// given exactly once (messages from `flax/linen/module.py`).
#[test]
fn construction_or_call_hyperparameters_are_given_exactly_once() {
    let x = f32s(&[4, 8]);
    let neither = "must be passed to the constructor or at call time.";
    let both = "was passed to the constructor and at call time. Should be passed just once.";

    let msg = message(&Dropout::new(0.5), |d| d.forward(&x, None));
    assert_eq!(
        msg,
        format!("Dropout: Parameter \"deterministic\" {neither}"),
    );
    let configured = Dropout::new(0.5).deterministic(true);
    let msg = message(&configured, |d| d.forward(&x, true));
    assert!(
        msg.ends_with(&format!("Parameter \"deterministic\" {both}")),
        "{msg}"
    );
    assert!(tabulate(&configured).run(|d| d.forward(&x, None)).is_ok());

    let msg = message(&BatchNorm::new(None), |b| b.forward(&x));
    assert!(
        msg.ends_with(&format!("Parameter \"use_running_average\" {neither}")),
        "{msg}"
    );
    let msg = message(&BatchNorm::new(true), |b| b.forward_with(&x, false));
    assert!(
        msg.ends_with(&format!("Parameter \"use_running_average\" {both}")),
        "{msg}"
    );

    // Attention asks for `deterministic` only when it uses dropout, as Flax does.
    let x = f32s(&[2, 5, 8]);
    let mha = MultiHeadDotProductAttention::new(2).dropout_rate(0.1);
    let msg = message(&mha, |m| m.forward(&x, None));
    assert!(
        msg.ends_with(&format!("Parameter \"deterministic\" {neither}")),
        "{msg}"
    );
    let msg = message(&mha.clone().deterministic(true), |m| m.forward(&x, true));
    assert!(
        msg.ends_with(&format!("Parameter \"deterministic\" {both}")),
        "{msg}"
    );
    let no_dropout = MultiHeadDotProductAttention::new(2).deterministic(true);
    assert!(tabulate(&no_dropout).run(|m| m.forward(&x, false)).is_ok());
}
