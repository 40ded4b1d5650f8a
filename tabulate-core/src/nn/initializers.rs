//! Flax's initialisers (`flax.linen.initializers`, `jax.nn.initializers`), by name.
//!
//! A summary never draws values, so an initialiser only names itself; what the table
//! shows depends on it only through partitioning ([`with_partitioning`](super::with_partitioning)).
//! They exist so that a Flax model ports literally:
//! `Dense::new(16).kernel_init(with_partitioning(lecun_normal(), ["embed", "mlp"]))`.
//!
//! ```
//! use tabulate::nn::initializers::{lecun_normal, normal, zeros};
//!
//! assert_eq!(lecun_normal().name(), "lecun_normal");
//! assert_eq!(normal(0.02).name(), "normal");
//! assert_eq!(zeros().name(), "zeros");
//! ```

pub use crate::variable::Initializer;

macro_rules! initializers {
    ($($(#[$doc:meta])* $name:ident $(($($arg:ident: $t:ty),*))?;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name($($($arg: $t),*)?) -> Initializer {
            // Values are never drawn: the arguments only make a port read like Flax.
            $($(let _ = $arg;)*)?
            Initializer::new(stringify!($name))
        }
    )*};
}

initializers! {
    /// `zeros`: every element 0 (Flax's default bias initialiser).
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::zeros().name(), "zeros");
    /// ```
    zeros;
    /// `zeros_init()`: the same as [`zeros`].
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::zeros_init().name(), "zeros_init");
    /// ```
    zeros_init;
    /// `ones`: every element 1 (Flax's default scale initialiser).
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::ones().name(), "ones");
    /// ```
    ones;
    /// `ones_init()`: the same as [`ones`].
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::ones_init().name(), "ones_init");
    /// ```
    ones_init;
    /// `constant(value)`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::constant(0.5).name(), "constant");
    /// ```
    constant(value: f64);
    /// `lecun_normal()` (Flax's default kernel initialiser).
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::lecun_normal().name(), "lecun_normal");
    /// ```
    lecun_normal;
    /// `lecun_uniform()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::lecun_uniform().name(), "lecun_uniform");
    /// ```
    lecun_uniform;
    /// `glorot_normal()` / `xavier_normal()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::glorot_normal().name(), "glorot_normal");
    /// ```
    glorot_normal;
    /// `glorot_uniform()` / `xavier_uniform()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::glorot_uniform().name(), "glorot_uniform");
    /// ```
    glorot_uniform;
    /// `xavier_normal()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::xavier_normal().name(), "xavier_normal");
    /// ```
    xavier_normal;
    /// `xavier_uniform()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::xavier_uniform().name(), "xavier_uniform");
    /// ```
    xavier_uniform;
    /// `he_normal()` / `kaiming_normal()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::he_normal().name(), "he_normal");
    /// ```
    he_normal;
    /// `he_uniform()` / `kaiming_uniform()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::he_uniform().name(), "he_uniform");
    /// ```
    he_uniform;
    /// `kaiming_normal()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::kaiming_normal().name(), "kaiming_normal");
    /// ```
    kaiming_normal;
    /// `kaiming_uniform()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::kaiming_uniform().name(), "kaiming_uniform");
    /// ```
    kaiming_uniform;
    /// `normal(stddev)` (Flax's default embedding initialiser is `variance_scaling(1.0,
    /// 'fan_in', 'normal', out_axis=0)`; [`Embed`](super::Embed) names it `variance_scaling`).
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::normal(0.02).name(), "normal");
    /// ```
    normal(stddev: f64);
    /// `truncated_normal(stddev)`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::truncated_normal(0.02).name(), "truncated_normal");
    /// ```
    truncated_normal(stddev: f64);
    /// `uniform(scale)`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::uniform(0.01).name(), "uniform");
    /// ```
    uniform(scale: f64);
    /// `variance_scaling(scale, mode, distribution)`.
    ///
    /// ```
    /// let init = tabulate::nn::initializers::variance_scaling(1.0, "fan_in", "normal");
    /// assert_eq!(init.name(), "variance_scaling");
    /// ```
    variance_scaling(scale: f64, mode: &str, distribution: &str);
    /// `orthogonal()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::orthogonal().name(), "orthogonal");
    /// ```
    orthogonal;
    /// `delta_orthogonal()`.
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::delta_orthogonal().name(), "delta_orthogonal");
    /// ```
    delta_orthogonal;
}
