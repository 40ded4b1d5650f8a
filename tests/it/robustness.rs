//! Regression tests for the failure classes the fuzz suite (`tests/it/fuzz.rs`) and issue 9
//! found: each input once panicked, aborted, hung, overflowed or printed a wrong number,
//! and now gives a result or a located error with this exact text.

use tabulate::nn::{
    AttentionOptions, Conv, ConvTranspose, Dense, DenseGeneral, Embed, Padding, PoolPadding,
    dot_product_attention, max_pool,
};
use tabulate::prelude::*;
use tabulate::{Metric, MetricValue, Optimizer};

fn f32s(shape: &[usize]) -> Tensor {
    Tensor::new(DType::F32, shape)
}

/// A module that applies `op` to its input, so that errors are located in it.
#[derive(Tabulate)]
struct Probe {
    #[tabulate(skip)]
    op: fn(&Tensor) -> Result<Tensor>,
}

impl Probe {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        (self.op)(x)
    }
}

/// The error of a summary with both FLOP columns of `op` on `x`.
fn error(op: fn(&Tensor) -> Result<Tensor>, x: &Tensor) -> String {
    tabulate(&Probe { op })
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|p| p.forward(x))
        .expect_err("the run fails")
        .to_string()
}

#[test]
fn attention_on_rank_0_inputs_is_an_error() {
    let x = f32s(&[]);
    let msg = dot_product_attention(&x, &x, &x, &AttentionOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "dot_product_attention: query, key and value must have rank 3 or more ([batch…, length, heads, depth]): query float32[], key float32[], value float32[]"
    );
}

#[test]
fn circular_conv_transpose_on_an_empty_dimension_is_an_error() {
    let msg = error(
        |x| {
            ConvTranspose::new(2, [3])
                .padding(Padding::Circular)
                .forward(x)
        },
        &f32s(&[1, 0, 3]),
    );
    assert_eq!(
        msg,
        "ConvTranspose_0 (ConvTranspose): ConvTranspose: CIRCULAR padding needs spatial dimensions that are neither empty nor too large (times the strides [1]), got float32[1,0,3]"
    );
}

#[test]
fn split_into_huge_counts_is_an_error_not_an_abort() {
    let msg = error(|x| Ok(x.split(1 << 40, 1)?.remove(0)), &f32s(&[2, 1 << 40]));
    assert_eq!(
        msg,
        "Probe: Tensor::split: float32[2,1099511627776] split into 1099511627776 parts along axis 1: at most 65536 parts are supported"
    );
    let msg = error(|x| Ok(x.split(1 << 40, 0)?.remove(0)), &f32s(&[0]));
    assert_eq!(
        msg,
        "Probe: Tensor::split: float32[0] split into 1099511627776 parts along axis 0: at most 65536 parts are supported"
    );
    // Like numpy, an empty axis splits into empty parts.
    let parts = f32s(&[0, 2]).split(3, 0).unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2].to_string(), "float32[0,2]");
}

#[test]
fn wrap_padding_by_huge_widths_is_an_error_not_an_abort() {
    let msg = error(|x| x.pad_wrap(&[(1 << 32, 0)]), &f32s(&[1]));
    assert_eq!(
        msg,
        "Probe: Tensor::pad_wrap: pad: wrap padding (4294967296, 0) repeats axis 0 of float32[1] 4294967297 times; at most 65536 are supported"
    );
}

#[test]
fn conv_on_a_length_2_40_input_is_costed_at_once() {
    let conv = Conv::new(1, [3]).padding(Padding::Same).use_bias(false);
    let x = f32s(&[1, 1 << 40, 1]);
    let summary = tabulate(&conv)
        .compute_flops(true)
        .run(|c| c.forward(&x))
        .unwrap();
    // 3 taps per position, minus one padding tap at each end; 2 flops per tap. As
    // XLA sums in float32: 6·2^40 − 4 rounds to 6·2^40.
    assert_eq!(summary.rows[0].flops(), Some(6 * (1 << 40)));
}

#[test]
fn reshape_of_an_overflowing_shape_is_an_error() {
    let msg = error(|x| x.reshape([-1]), &f32s(&[1 << 32, 1 << 32]));
    assert_eq!(
        msg,
        "Probe: Tensor::reshape: float32[4294967296,4294967296] is too large: its size in bytes does not fit in 64 bits"
    );
    let msg = error(
        |x| x.reshape(tabulate::Shape::new([1, 1 << 32, 1 << 32])),
        &f32s(&[1 << 32, 1 << 32]),
    );
    assert_eq!(
        msg,
        "Probe: Tensor::reshape: float32[4294967296,4294967296] is too large: its size in bytes does not fit in 64 bits"
    );
}

#[test]
fn concatenate_that_overflows_is_an_error() {
    let msg = error(
        |x| Tensor::concatenate(&[x, x], 0),
        &f32s(&[usize::MAX / 2 + 1]),
    );
    assert_eq!(
        msg,
        "Probe: Tensor::concatenate: float32[9223372036854775808] is too large: its size in bytes does not fit in 64 bits"
    );
    let msg = error(
        |x| Tensor::concatenate(&[x, x, x], 0),
        &Tensor::new(DType::Bool, [usize::MAX / 2]),
    );
    assert_eq!(
        msg,
        "Probe: Tensor::concatenate: the result is too large along axis 0: bool[9223372036854775807] and bool[9223372036854775807]"
    );
}

#[test]
fn a_window_of_zero_is_an_error() {
    let msg = error(
        |x| max_pool(x, &[0], None, &PoolPadding::Valid),
        &f32s(&[1, 4, 2]),
    );
    assert_eq!(
        msg,
        "Probe: a pool's window must be at least 1 in every dimension, got [0]"
    );
    let msg = error(|x| Conv::new(2, [0]).forward(x), &f32s(&[1, 4, 2]));
    assert_eq!(
        msg,
        "Conv_0 (Conv): Conv: kernel_size must be at least 1, got [0]"
    );
    let msg = error(
        |x| Conv::new(2, [3]).strides([0]).forward(x),
        &f32s(&[1, 4, 2]),
    );
    assert_eq!(
        msg,
        "Conv_0 (Conv): Conv: strides must be at least 1, got [0]"
    );
    let msg = error(
        |x| Conv::new(2, [3]).kernel_dilation([0]).forward(x),
        &f32s(&[1, 4, 2]),
    );
    assert_eq!(
        msg,
        "Conv_0 (Conv): Conv: kernel_dilation must be at least 1, got [0]"
    );
}

#[test]
fn same_padding_of_an_empty_dimension_adds_nothing() {
    // lax.padtype_to_pads: max(0, (0 − 1)·1 + 1 − 0) = 0, so the output stays empty.
    let y = max_pool(&f32s(&[3, 1, 0, 2]), &[1, 1], None, &PoolPadding::Same).unwrap();
    assert_eq!(y.to_string(), "float32[3,1,0,2]");
}

#[test]
fn overlapping_dense_general_axes_are_an_error() {
    let msg = error(
        |x| DenseGeneral::new([4]).axis([0]).batch_dims([0]).forward(x),
        &f32s(&[2, 3]),
    );
    assert_eq!(
        msg,
        "DenseGeneral_0 (DenseGeneral): DenseGeneral: axis [0] and batch_dims [0] overlap (both contain dimension 0 of float32[2,3])"
    );
}

#[test]
fn embed_without_entries_is_an_error() {
    let msg = error(
        |x| Embed::new(0, 4).forward(&x.astype(DType::I32)?),
        &f32s(&[2]),
    );
    assert_eq!(
        msg,
        "Embed_0 (Embed): Embed: num_embeddings must be at least 1, got 0"
    );
}

#[test]
fn dropout_rates_outside_the_unit_interval_are_errors() {
    for rate in [-0.5, 1.5, f64::NAN] {
        let dropout = tabulate::nn::Dropout::new(rate);
        let msg = tabulate(&dropout)
            .run(|d| d.forward(&f32s(&[2]), true))
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            format!("Dropout: Dropout: the rate must be in [0, 1], got {rate}")
        );
    }
}

#[test]
fn parameter_counts_are_exact_or_an_overflow_error() {
    // 2^32 features on 2^32 inputs: 2^64 kernel elements do not fit.
    let msg = error(|x| Dense::new(1 << 32).forward(x), &f32s(&[1, 1 << 32]));
    assert_eq!(
        msg,
        "Dense_0 (Dense): variable `kernel` in collection `params`: float32[4294967296,4294967296] is too large: its size in bytes does not fit in 64 bits"
    );
    // 2^32 features on 2^28 inputs fit one by one; their bytes are exact.
    let dense = Dense::new(1 << 32).use_bias(false);
    let x = Tensor::new(DType::BF16, [1, 1 << 28]);
    let summary = tabulate(&dense).run(|d| d.forward(&x)).unwrap();
    assert_eq!(summary.total().count, 1 << 60);
    assert_eq!(summary.total().bytes, 1 << 62);
    assert!(
        summary
            .to_string()
            .contains("Total Parameters: 1,152,921,504,606,846,976 (4,611,686,018.4 GB)"),
        "{summary}"
    );
}

/// Two layers whose parameters each fit but together do not.
#[derive(Tabulate)]
struct Twice;

impl Twice {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let a = Dense::new(1 << 31).use_bias(false).forward(x)?;
        let b = Dense::new(1 << 31).use_bias(false).forward(x)?;
        a.add(&b)
    }
}

#[test]
fn parameter_totals_that_overflow_are_an_error() {
    // Two float32 kernels of 2^61 elements: 2^63 bytes each, 2^64 together.
    let x = Tensor::new(DType::BF16, [1, 1 << 30]);
    let msg = tabulate(&Twice)
        .run(|t| t.forward(&x))
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "Twice: the variables' total size does not fit in 64 bits (2^64 or more parameters or bytes)"
    );
}

#[test]
fn flop_counts_that_overflow_are_an_error() {
    // 2·2^31·2^31·2^31 flops: each array fits, the count does not.
    let msg = error(
        |x| x.matmul(&Tensor::new(DType::BF16, [1 << 31, 1 << 31])),
        &Tensor::new(DType::BF16, [1 << 31, 1 << 31]),
    );
    assert_eq!(
        msg,
        "Probe: flops: the call's flop count does not fit in 64 bits (2^64 or more); its largest part is `Tensor::matmul` (dot_general)"
    );
}

#[test]
fn integer_pow_of_the_smallest_exponent_is_an_error() {
    let msg = error(|x| x.powi(i32::MIN), &f32s(&[2]));
    assert_eq!(
        msg,
        "Probe: Tensor::powi: integer_pow: the exponent -2147483648 is out of range (its derivative's exponent does not fit in 32 bits)"
    );
}

#[test]
fn concatenate_promotes_dtypes_like_jnp() {
    let y = Tensor::concatenate(&[&f32s(&[2, 3]), &Tensor::new(DType::BF16, [1, 3])], 0).unwrap();
    assert_eq!(y.to_string(), "float32[3,3]");
}

#[test]
fn softplus_promotes_integers_like_logaddexp() {
    let y = tabulate::nn::softplus(&Tensor::new(DType::I32, [2, 3])).unwrap();
    assert_eq!(y.to_string(), "float32[2,3]");
}

#[test]
fn conv_on_an_empty_batch_keeps_it_empty() {
    // Flax reshapes to (prod(batch),) + rest: an empty batch is a batch of 0.
    let y = Conv::new(4, [3]).forward(&f32s(&[0, 2, 7, 3])).unwrap();
    assert_eq!(y.to_string(), "float32[0,2,7,4]");
}

#[test]
fn pools_with_huge_or_empty_windows_do_not_overflow() {
    let x = f32s(&[1, 3, 5, 1, 5]);
    let y = tabulate::nn::avg_pool(
        &x,
        &[1 << 40, (1 << 40) + 3, 1],
        None,
        &PoolPadding::Same,
        true,
    )
    .unwrap();
    assert_eq!(y.to_string(), "float32[1,3,5,1,5]");
    // A 0-D window over a rank-1 input: no spatial dimension, features only.
    let y = tabulate::nn::avg_pool(&f32s(&[4]), &[], None, &PoolPadding::Same, false).unwrap();
    assert_eq!(y.to_string(), "float32[4]");
}

#[test]
fn wrap_padding_an_empty_axis_by_huge_widths_is_an_error() {
    let msg = error(|x| x.pad_wrap(&[(usize::MAX, 4)]), &f32s(&[0]));
    assert_eq!(
        msg,
        "Probe: Tensor::pad_wrap: pad: cannot wrap-pad the empty axis 0 of float32[0]"
    );
}

/// The error of a summary of `op` on `x` with the computed columns `metrics`.
fn metric_error(op: fn(&Tensor) -> Result<Tensor>, x: &Tensor, metrics: &[Metric]) -> String {
    tabulate(&Probe { op })
        .metrics(metrics.iter().copied())
        .run(|p| p.forward(x))
        .expect_err("the run fails")
        .to_string()
}

#[test]
fn mac_counts_that_overflow_are_an_error() {
    // 2^31·2^31·2^31 multiply-accumulates: each array fits, the count does not.
    let msg = metric_error(
        |x| x.matmul(&Tensor::new(DType::BF16, [1 << 31, 1 << 31])),
        &Tensor::new(DType::BF16, [1 << 31, 1 << 31]),
        &[Metric::Macs],
    );
    assert_eq!(
        msg,
        "Probe: macs: the call's count does not fit in 64 bits (2^64 or more); its largest part is `Tensor::matmul` (dot_general)"
    );
}

#[test]
fn per_operator_sums_that_overflow_are_an_error() {
    // Two matmuls of 2^63 flops each: each fits, their sum under `dot_general` does not.
    let msg = metric_error(
        |x| {
            let w = Tensor::new(DType::BF16, [1 << 20, 1 << 21]);
            let a = x.matmul(&w)?;
            let b = x.matmul(&w)?;
            a.add(&b)
        },
        &Tensor::new(DType::BF16, [1 << 21, 1 << 20]),
        &[Metric::ByOperator],
    );
    assert_eq!(
        msg,
        "Probe: by_operator: the call's count does not fit in 64 bits (2^64 or more); its largest part is `Tensor::matmul` (dot_general)"
    );
}

/// A `Dense` with 2^31 features on 2^30 inputs: a float32 kernel of 2^63 bytes.
fn huge_dense(x: &Tensor) -> Result<Tensor> {
    tabulate::nn::Dense::new(1 << 31).use_bias(false).forward(x)
}

#[test]
fn optimizer_state_that_overflows_is_an_error() {
    // Adam keeps two arrays per parameter: 2^64 bytes.
    let msg = metric_error(
        huge_dense,
        &Tensor::new(DType::BF16, [1, 1 << 30]),
        &[Metric::OptimizerState],
    );
    assert_eq!(
        msg,
        "Dense_0 (Dense): optimizer_state_bytes: the call's byte count does not fit in 64 bits (2^64 or more)"
    );
}

#[test]
fn memory_estimates_that_overflow_are_an_error() {
    // The kernel's 2^63 bytes plus its gradient's 2^63 bytes.
    let msg = tabulate(&Probe { op: huge_dense })
        .optimizer(Optimizer::Sgd)
        .estimate_memory(true)
        .run(|p| p.forward(&Tensor::new(DType::BF16, [1, 1 << 30])))
        .expect_err("the run fails")
        .to_string();
    assert_eq!(
        msg,
        "Probe: memory: the model's byte count does not fit in 64 bits (2^64 or more)"
    );
}

#[test]
fn counts_that_fit_exactly_are_shown_exactly() {
    // Just below the limit: 2^63 bytes of kernel, its gradient with SGD's no state; the
    // per-operator MACs of one 2^62-MAC matmul.
    let summary = tabulate(&Probe { op: huge_dense })
        .metrics([Metric::Gradients, Metric::OptimizerState, Metric::Macs])
        .optimizer(Optimizer::Sgd)
        .run(|p| p.forward(&Tensor::new(DType::BF16, [1, 1 << 30])))
        .expect("the run succeeds");
    let dense = &summary.rows[1];
    assert_eq!(
        dense
            .metric(Metric::Gradients)
            .and_then(MetricValue::as_bytes),
        Some(1 << 63)
    );
    assert_eq!(
        dense
            .metric(Metric::OptimizerState)
            .and_then(MetricValue::as_bytes),
        Some(0)
    );
    assert_eq!(
        dense.metric(Metric::Macs).and_then(MetricValue::as_count),
        Some(1 << 61)
    );
}

#[test]
fn conv_padding_needs_one_pair_per_spatial_dimension() {
    // Found by the long fuzz run: the reference rule broadcast one pair; Flax's
    // `canonicalize_padding` (and this crate) reject it.
    let msg = error(
        |x| {
            Conv::new(1, vec![1, 1])
                .padding(Padding::Explicit(vec![(0, 0)]))
                .forward(x)
        },
        &f32s(&[0, 0, 0]),
    );
    assert_eq!(
        msg,
        "Conv_0 (Conv): padding [(0, 0)] needs one pair per spatial dimension (2)"
    );
}

/// The fuzz suite's one hang (a `Conv` whose input, kernel and output lengths were all
/// 2^28 or more: the cost looped over the shortest of the three ranges, minutes at 2^32).
/// The count is now closed-form. Forward: 2 flops per (output, tap) pair on a real input
/// element, `n·k` pairs minus the taps over SAME's padding, `Σ_{j ≤ 2^27−1} j + Σ_{j ≤
/// 2^27} j = 2^54`. The VJP is the forward conv and its two transposes (as many pairs
/// each) plus one flop per kernel element, summed in float32 (the 2^28 is below
/// the rounding unit at 2^62); real Flax gives `3·flops + k` on small sizes (checked below).
#[test]
fn conv_with_a_huge_kernel_over_a_huge_input_is_costed_at_once() {
    let started = std::time::Instant::now();
    let conv = Conv::new(1, [1 << 28])
        .padding(Padding::Same)
        .use_bias(false);
    let summary = tabulate(&conv)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|c| c.forward(&f32s(&[1, 1 << 32, 1])))
        .unwrap();
    let pairs: u64 = (1 << 60) - (1 << 54);
    assert_eq!(summary.rows[0].flops(), Some(2 * pairs));
    assert_eq!(summary.rows[0].vjp_flops(), Some(3 * 2 * pairs));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // Small sizes against real Flax 0.12.8 (`nn.Conv(1, (k,), padding='SAME',
    // use_bias=False)` on `[1, n, 1]`): (n, k) → (flops, vjp_flops).
    for (n, k, flops, vjp_flops) in [
        (64, 8, 992, 2984),
        (100, 7, 1376, 4135),
        (37, 16, 1056, 3184),
    ] {
        let conv = Conv::new(1, [k]).padding(Padding::Same).use_bias(false);
        let summary = tabulate(&conv)
            .compute_flops(true)
            .compute_vjp_flops(true)
            .run(|c| c.forward(&f32s(&[1, n, 1])))
            .unwrap();
        assert_eq!(
            (summary.rows[0].flops(), summary.rows[0].vjp_flops()),
            (Some(flops), Some(vjp_flops)),
            "n = {n}, k = {k}"
        );
    }
}

/// Errors of the cost stage (building the VJP) carry the module path and name the
/// user-level operation whose derivative fails, then the primitive and what is wrong.
#[test]
fn cost_stage_errors_name_the_module_and_the_operation() {
    use tabulate::lax::{WindowReduction, reduce_window};
    let op: fn(&Tensor) -> Result<Tensor> = |x| {
        reduce_window(
            WindowReduction::Max,
            x,
            &[1, 2],
            &[1, 1],
            &[(0, 0), (0, 0)],
            &[1, 2],
        )
    };
    // The forward pass itself is fine: a summary without FLOP columns succeeds.
    let x = f32s(&[2, 8]);
    assert!(tabulate(&Probe { op }).run(|p| p.forward(&x)).is_ok());
    assert_eq!(
        error(op, &x),
        "Probe: lax::reduce_window: its derivative (for the VJP columns) cannot be built: the VJP of a max/min pool with window dilation is not defined (as in JAX)"
    );
}

/// Inside a built-in layer, a rule's error is named by the layer (`nn::Conv`); inside a
/// user's module, by the `Tensor` method called; a primitive's own name follows when it
/// differs from the operation's.
#[test]
fn rule_errors_name_the_user_level_operation() {
    let msg = error(|x| x.transpose(&[0, 3, 1, 2]), &f32s(&[2, 3, 4]));
    assert_eq!(
        msg,
        "Probe: Tensor::transpose: [0, 3, 1, 2] is not a permutation of the axes of float32[2,3,4]"
    );
    let msg = error(|x| x.matmul(&f32s(&[5, 6])), &f32s(&[2, 3, 4]));
    assert_eq!(
        msg,
        "Probe: Tensor::matmul: dot_general: contracting dimensions differ (4 vs 5): float32[2,3,4] × float32[5,6]"
    );
    // Inside a built-in layer, the layer is the operation (the user called `Conv`, not
    // the primitive): its output of 2^70 elements does not fit.
    let msg = error(
        |x| Conv::new(1 << 40, [1]).forward(x),
        &f32s(&[1, 1 << 30, 1]),
    );
    assert_eq!(
        msg,
        "Conv_0 (Conv): nn::Conv: conv_general_dilated: float32[1,1073741824,1099511627776] is too large: its size in bytes does not fit in 64 bits"
    );
}

/// A flop count that does not fit names the operation that counts most.
#[test]
fn overflowing_counts_name_their_largest_operation() {
    let msg = error(
        |x| {
            let y = x.exp()?;
            Conv::new(1 << 20, [1 << 20]).use_bias(false).forward(&y)
        },
        &Tensor::new(DType::BF16, [1, 1 << 30, 1 << 10]),
    );
    assert_eq!(
        msg,
        "Probe: flops: the call's flop count does not fit in 64 bits (2^64 or more); its largest part is `nn::Conv` (conv_general_dilated)"
    );
}

#[test]
fn the_derivative_of_a_conv_transpose_on_a_2_63_input_is_an_error_not_an_overflow() {
    // Found by the 1,000,000-case fuzz run in a debug build: the transposed convolution's
    // paddings were computed in `i64` from dilated sizes near 2^63.
    let msg = error(
        |x| ConvTranspose::new(1, [1, 1]).use_bias(false).forward(x),
        &Tensor::new(DType::BF16, [0, 1 << 63, 0]),
    );
    assert_eq!(
        msg,
        "Probe: nn::ConvTranspose: its derivative (for the VJP columns) cannot be built: lax.conv_general_dilated: a size of 9223372036854775808 dilated by 1 does not fit in 64 bits"
    );
}

/// A `vmap` of a `vmap` of a layer (the fuzz suite's `Op::Wrapped`).
#[derive(Tabulate)]
struct Nested {
    inner: tabulate::nn::Vmap<tabulate::nn::Vmap<Dense>>,
}

/// An empty array may have dimensions whose product overflows: `[2^32, 2^32, 0]` has no
/// elements. Found by the million-case debug fuzz run of 2026-12-02 (a `vmap` of a `vmap`
/// of `Dense` on `[0, 2^32, 2^32, 1, 0]`, whose derivative reshapes such a value): counting
/// elements stopped at the overflow before reaching the 0.
#[test]
fn empty_arrays_with_huge_dimensions_have_no_elements() {
    let huge = 1usize << 32;
    assert_eq!(
        f32s(&[huge, huge, 0])
            .reshape([huge, huge, 1, 0])
            .unwrap()
            .to_string(),
        "float32[4294967296,4294967296,1,0]"
    );
    assert_eq!(
        f32s(&[huge, huge, 0])
            .reshape([-1isize, 0])
            .unwrap_err()
            .to_string(),
        "Tensor::reshape: cannot reshape float32[4294967296,4294967296,0] to [-1, 0]"
    );
    assert_eq!(
        f32s(&[huge, huge, 0, 3])
            .mean(&[0, 1, 2], false)
            .unwrap()
            .to_string(),
        "float32[3]"
    );
    // Conv flattens its batch dimensions to their product, 0 here.
    let y = Conv::new(4, [3])
        .forward(&f32s(&[huge, huge, 0, 7, 3]))
        .unwrap();
    assert_eq!(y.to_string(), "float32[4294967296,4294967296,0,7,4]");

    let model = Nested {
        inner: tabulate::nn::vmap(tabulate::nn::vmap(Dense::new(0))),
    };
    let x = f32s(&[0, huge, huge, 1, 0]);
    let summary = tabulate(&model)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.inner.forward(&x))
        .unwrap();
    let root = &summary.rows[0];
    assert_eq!(
        (root.flops(), root.vjp_flops()),
        (Some(0), Some(0)),
        "no element, no flop"
    );
}

/// Inside `nn::vmap`, the batched replay of a call keeps the operations that made each
/// node, so the cost stage names them as it would outside (the debug fuzz run of
/// 2026-12-02 met an error there named only by its primitive).
#[test]
fn the_cost_stage_inside_vmap_names_the_operation() {
    use tabulate::nn::{Sequential, vmap};
    fn square(x: &Tensor) -> Result<Tensor> {
        x.matmul(&Tensor::new(DType::BF16, [1 << 31, 1 << 31]))
    }
    let outside = error(
        |x| Sequential::new().then(square).forward(x),
        &Tensor::new(DType::BF16, [1 << 31, 1 << 31]),
    );
    let inside = error(
        |x| vmap(Sequential::new().then(square)).forward(x),
        &Tensor::new(DType::BF16, [1, 1 << 31, 1 << 31]),
    );
    let want = "Probe: flops: the call's flop count does not fit in 64 bits (2^64 or more); its largest part is `nn::Sequential` (dot_general)";
    assert_eq!((outside.as_str(), inside.as_str()), (want, want));
}
