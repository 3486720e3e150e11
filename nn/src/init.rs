//! Weight initialisers, as `torch.nn.init` and Keras' initializers. All randomness comes from
//! the RNG the caller passes: the same seed gives the same model.
//!
//! ```
//! use ferrograd::nn::init::{self, Init};
//! let mut rng = init::rng(42);
//! let w = Init::glorot_uniform().tensor::<f32, _>(&[64, 32], &mut rng);
//! let bound = (6.0f32 / (64.0 + 32.0)).sqrt();
//! assert!(w.to_vec().iter().all(|v| v.abs() <= bound));
//! ```

use ferrograd_autograd::{Float, Param, Tensor};
use rand::{Rng, SeedableRng};

/// The generator [`rng`] returns and the layers' constructors take (`rand`'s `StdRng`),
/// named here so a model's constructor can take one without depending on `rand`.
pub use rand::rngs::StdRng;

/// A seeded random number generator for building models reproducibly.
///
/// ```
/// use ferrograd::nn::{Linear, init::{self, StdRng}};
/// fn two_layers(rng: &mut StdRng) -> (Linear, Linear) {
///     (Linear::new(4, 8, rng), Linear::new(8, 2, rng))
/// }
/// let (a, b) = two_layers(&mut init::rng(0));
/// assert_eq!(a.weight().shape(), [8, 4]);
/// # let _ = b;
/// ```
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Which fan the Kaiming initialisers scale by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// Inputs per output unit: preserves the forward variance (PyTorch's default).
    FanIn,
    /// Outputs per input unit: preserves the backward variance.
    FanOut,
}

/// The nonlinearity a layer feeds, for [`calculate_gain`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// Identity, convolution, sigmoid: gain 1.
    Linear,
    /// Gain 5/3.
    Tanh,
    /// Gain √2.
    Relu,
    /// Gain √(2 / (1 + slope²)).
    LeakyRelu(f64),
    /// Gain 3/4.
    Selu,
}

/// The recommended gain for a nonlinearity, as `torch.nn.init.calculate_gain`.
///
/// ```
/// use ferrograd::nn::init::{Nonlinearity, calculate_gain};
/// assert_eq!(calculate_gain(Nonlinearity::Relu), 2f64.sqrt());
/// ```
pub fn calculate_gain(nonlinearity: Nonlinearity) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// `(fan_in, fan_out)` of a weight, as PyTorch computes them: dimension 1 and dimension 0
/// times the receptive field (the product of the dimensions after the second).
///
/// # Panics
/// If the shape has fewer than 2 dimensions.
#[track_caller]
pub fn fans(shape: &[usize]) -> (usize, usize) {
    check_fan_shape(shape);
    let receptive: usize = shape[2..].iter().product();
    (shape[1] * receptive, shape[0] * receptive)
}

/// An initialisation rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Every element `value`.
    Constant(f64),
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Xavier/Glorot uniform: `U(±gain·√(6 / (fan_in + fan_out)))`.
    XavierUniform {
        /// Scale, see [`calculate_gain`].
        gain: f64,
    },
    /// Xavier/Glorot normal: `N(0, gain²·2 / (fan_in + fan_out))`.
    XavierNormal {
        /// Scale, see [`calculate_gain`].
        gain: f64,
    },
    /// Kaiming/He uniform: `U(±gain·√(3 / fan))`.
    KaimingUniform {
        /// Scale, see [`calculate_gain`].
        gain: f64,
        /// Which fan.
        mode: FanMode,
    },
    /// Kaiming/He normal: `N(0, gain² / fan)`.
    KaimingNormal {
        /// Scale, see [`calculate_gain`].
        gain: f64,
        /// Which fan.
        mode: FanMode,
    },
}

impl Init {
    /// Keras' default `glorot_uniform` (Xavier uniform, gain 1).
    pub fn glorot_uniform() -> Self {
        Init::XavierUniform { gain: 1.0 }
    }

    /// He uniform for ReLU layers (Kaiming uniform, gain √2, fan in).
    pub fn he_uniform() -> Self {
        Init::KaimingUniform {
            gain: calculate_gain(Nonlinearity::Relu),
            mode: FanMode::FanIn,
        }
    }

    /// He normal for ReLU layers (Kaiming normal, gain √2, fan in).
    pub fn he_normal() -> Self {
        Init::KaimingNormal {
            gain: calculate_gain(Nonlinearity::Relu),
            mode: FanMode::FanIn,
        }
    }

    /// PyTorch's default for Linear and Conv weights: `kaiming_uniform_(a=√5)`, which is
    /// `U(±1/√fan_in)`.
    pub fn pytorch_default() -> Self {
        Init::KaimingUniform {
            gain: calculate_gain(Nonlinearity::LeakyRelu(5f64.sqrt())),
            mode: FanMode::FanIn,
        }
    }

    /// A tensor of `shape` drawn by this rule.
    ///
    /// A tensor with no elements (a dimension of 0) is returned empty without computing a
    /// scale, so a fan of 0 never produces `1/√0`; PyTorch's `kaiming_*_` does the same
    /// ("Initializing zero-element tensors is a no-op").
    ///
    /// # Panics
    /// For the Xavier and Kaiming rules, if `shape` has fewer than 2 dimensions; for any
    /// rule, if the tensor is too large to allocate (the message names the shape and size;
    /// [`Init::try_tensor`] returns the error instead).
    ///
    /// ```
    /// use ferrograd::nn::init::{self, Init};
    /// let empty = Init::he_uniform().tensor::<f32, _>(&[0, 5], &mut init::rng(0));
    /// assert_eq!(empty.shape(), &[0, 5]);
    /// ```
    #[track_caller]
    pub fn tensor<T: Float, R: Rng + ?Sized>(&self, shape: &[usize], rng: &mut R) -> Tensor<T> {
        match self.try_tensor(shape, rng) {
            Ok(t) => t,
            // "Init::tensor: shape [..] is too large: ..."
            Err(e) => panic!("Init::tensor: {e}"),
        }
    }

    /// A parameter of `shape` drawn by this rule, for a layer constructor: a tensor too
    /// large to allocate panics naming the layer (`op`, e.g. `Linear::new`), the
    /// parameter (`what`) and the shape, instead of aborting the process.
    #[track_caller]
    pub(crate) fn param<T: Float, R: Rng + ?Sized>(
        &self,
        op: &str,
        what: &str,
        shape: &[usize],
        rng: &mut R,
    ) -> Param<T> {
        match self.try_tensor(shape, rng) {
            Ok(t) => Param::new(t),
            // "Linear::new: weight of shape [..] is too large: ..."
            Err(e) => panic!("{op}: {what} of {e}"),
        }
    }

    /// [`Init::tensor`], returning an error if the tensor is too large to allocate.
    /// Elements are drawn in row-major order, as `Tensor::rand_uniform` /
    /// `Tensor::rand_normal` draw them.
    ///
    /// # Panics
    /// For the Xavier and Kaiming rules, if `shape` has fewer than 2 dimensions (a broken
    /// caller contract, not a size).
    ///
    /// # Errors
    /// [`InitError::Overflow`] if the shape's non-zero dimensions multiply past
    /// `isize::MAX`; [`InitError::Alloc`] if the allocator refuses the memory. Nothing is
    /// drawn from `rng` then.
    ///
    /// ```
    /// use ferrograd::nn::init::{self, Init, InitError};
    /// let err = Init::Zeros.try_tensor::<f32, _>(&[1 << 40, 1 << 40], &mut init::rng(0));
    /// assert_eq!(err, Err(InitError::Overflow { shape: vec![1 << 40, 1 << 40] }));
    /// assert_eq!(
    ///     err.unwrap_err().to_string(),
    ///     "shape [1099511627776, 1099511627776] is too large: its dimensions multiply past isize::MAX"
    /// );
    /// ```
    pub fn try_tensor<T: Float, R: Rng + ?Sized>(
        &self,
        shape: &[usize],
        rng: &mut R,
    ) -> Result<Tensor<T>, InitError> {
        let scaled = matches!(
            self,
            Init::XavierUniform { .. }
                | Init::XavierNormal { .. }
                | Init::KaimingUniform { .. }
                | Init::KaimingNormal { .. }
        );
        if scaled {
            check_fan_shape(shape);
        }
        let (mut data, n) = alloc::<T>(shape)?;
        if n == 0 {
            // No scale computed: a fan of 0 would give 1/√0.
            return Ok(Tensor::from_vec(data, shape));
        }
        let fan = |mode: FanMode| {
            let (fan_in, fan_out) = fans(shape);
            (match mode {
                FanMode::FanIn => fan_in,
                FanMode::FanOut => fan_out,
            }) as f64
        };
        let xavier = || {
            let (i, o) = fans(shape);
            (i + o) as f64
        };
        let uniform = |bound: f64| Init::Uniform {
            low: -bound,
            high: bound,
        };
        let normal = |std: f64| Init::Normal { mean: 0.0, std };
        // The scaled rules are uniform or normal rules once their scale is known.
        let rule = match *self {
            Init::XavierUniform { gain } => uniform(gain * (6.0 / xavier()).sqrt()),
            Init::XavierNormal { gain } => normal(gain * (2.0 / xavier()).sqrt()),
            Init::KaimingUniform { gain, mode } => uniform(gain * (3.0 / fan(mode)).sqrt()),
            Init::KaimingNormal { gain, mode } => normal(gain / fan(mode).sqrt()),
            other => other,
        };
        let f = T::from_f64;
        let values = (0..n).map(|_| match rule {
            Init::Zeros => T::zero(),
            Init::Ones => T::one(),
            Init::Constant(v) => f(v),
            Init::Uniform { low, high } => T::sample_uniform(rng, f(low), f(high)),
            Init::Normal { mean, std } => f(mean) + f(std) * T::sample_standard_normal(rng),
            _ => unreachable!("scaled rules were turned into uniform or normal ones"),
        });
        data.extend(values);
        Ok(Tensor::from_vec(data, shape))
    }
}

/// A tensor that [`Init::try_tensor`] cannot create. Each variant names the shape, and its
/// message starts `shape [..] is too large: `, followed by the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A shape whose non-zero dimensions multiply past `isize::MAX` (its element count
    /// overflows, or ndarray cannot represent it even with no elements).
    #[error("shape {shape:?} is too large: its dimensions multiply past isize::MAX")]
    Overflow {
        /// The shape requested.
        shape: Vec<usize>,
    },
    /// A shape whose memory the allocator refused (reported instead of aborting the
    /// process).
    #[error(
        "shape {shape:?} is too large: {elements} elements of {dtype} ({bytes} bytes) cannot be allocated"
    )]
    Alloc {
        /// The shape requested.
        shape: Vec<usize>,
        /// Its element count.
        elements: usize,
        /// The element type, `"f32"` or `"f64"`.
        dtype: &'static str,
        /// The bytes requested (`elements` times the element size; a `u128`, as it may
        /// not fit a `usize`).
        bytes: u128,
    },
}

/// Room for the elements of `shape` and their count, or why there is none: the element
/// count overflows (or, as ndarray counts, the product of the non-zero dimensions
/// exceeds `isize::MAX`), or the allocator refuses the memory (reported instead of aborting the
/// process).
fn alloc<T: Float>(shape: &[usize]) -> Result<(Vec<T>, usize), InitError> {
    // ndarray also refuses a shape whose non-zero dimensions multiply past isize::MAX,
    // even with no elements.
    shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&p| p <= isize::MAX as usize)
        .ok_or_else(|| InitError::Overflow {
            shape: shape.to_vec(),
        })?;
    let n = shape.iter().product();
    let mut data = Vec::new();
    data.try_reserve_exact(n).map_err(|_| InitError::Alloc {
        shape: shape.to_vec(),
        elements: n,
        dtype: T::DTYPE,
        bytes: n as u128 * std::mem::size_of::<T>() as u128,
    })?;
    Ok((data, n))
}

/// A parameter of `shape` with every element `value`, for a layer constructor: a tensor
/// too large to allocate panics naming the layer (`op`), the parameter and the shape.
#[track_caller]
pub(crate) fn constant_param<T: Float>(
    op: &str,
    what: &str,
    shape: &[usize],
    value: f64,
) -> Param<T> {
    match alloc::<T>(shape) {
        Ok((mut data, n)) => {
            data.resize(n, T::from_f64(value));
            Param::new(Tensor::from_vec(data, shape))
        }
        // "BatchNorm2d::new: weight of shape [..] is too large: ..."
        Err(e) => panic!("{op}: {what} of {e}"),
    }
}

/// Panics unless `shape` has the 2 dimensions that fan in and fan out need.
#[track_caller]
fn check_fan_shape(shape: &[usize]) {
    assert!(
        shape.len() >= 2,
        "init: fan in and fan out need at least 2 dimensions, got shape {shape:?}"
    );
}

/// PyTorch's default bias for a layer with `fan_in` inputs: `U(±1/√fan_in)`, and zeros
/// when `fan_in` is 0 (PyTorch's `Linear` takes the bound as 0 there rather than `1/√0`).
#[track_caller]
pub(crate) fn default_bias<T: Float, R: Rng + ?Sized>(
    op: &str,
    len: usize,
    fan_in: usize,
    rng: &mut R,
) -> Param<T> {
    if fan_in == 0 {
        return Init::Zeros.param(op, "bias", &[len], rng);
    }
    let bound = 1.0 / (fan_in as f64).sqrt();
    Init::Uniform {
        low: -bound,
        high: bound,
    }
    .param(op, "bias", &[len], rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(t: &Tensor<f64>) -> (f64, f64) {
        let v = t.to_vec();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        (mean, var.sqrt())
    }

    #[test]
    fn fans_follow_pytorch() {
        assert_eq!(fans(&[64, 32, 3, 3]), (288, 576));
        assert_eq!(fans(&[10, 784]), (784, 10));
    }

    #[test]
    fn initialisers_have_their_stated_scale() {
        let mut r = rng(7);
        let shape = [256, 128, 3, 3];
        let (fan_in, fan_out): (f64, f64) = (128.0 * 9.0, 256.0 * 9.0);
        let he = Init::he_normal().tensor::<f64, _>(&shape, &mut r);
        assert!((moments(&he).1 - (2.0 / fan_in).sqrt()).abs() < 0.01 * (2.0 / fan_in).sqrt());
        let glorot = Init::XavierNormal { gain: 1.0 }.tensor::<f64, _>(&shape, &mut r);
        let want = (2.0 / (fan_in + fan_out)).sqrt();
        assert!((moments(&glorot).1 - want).abs() < 0.01 * want);
        let default = Init::pytorch_default().tensor::<f64, _>(&shape, &mut r);
        let bound = 1.0 / fan_in.sqrt();
        assert!(default.to_vec().iter().all(|v| v.abs() <= bound));
        // Uniform(±b) has std b/√3.
        assert!((moments(&default).1 - bound / 3f64.sqrt()).abs() < 0.01 * bound);
    }

    #[test]
    fn draws_are_the_tensor_constructors_draws_so_seeded_models_are_unchanged() {
        let bound = (6.0f64 / (3.0 + 4.0)).sqrt();
        assert_eq!(
            Init::glorot_uniform().tensor::<f32, _>(&[4, 3], &mut rng(5)),
            Tensor::rand_uniform(&[4, 3], -bound as f32, bound as f32, &mut rng(5))
        );
        assert_eq!(
            Init::he_normal().tensor::<f64, _>(&[4, 3], &mut rng(5)),
            Tensor::rand_normal(&[4, 3], 0.0, 2f64.sqrt() / 3f64.sqrt(), &mut rng(5))
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_tensor() {
        let a = Init::he_uniform().tensor::<f32, _>(&[4, 4], &mut rng(3));
        let b = Init::he_uniform().tensor::<f32, _>(&[4, 4], &mut rng(3));
        assert_eq!(a, b);
    }

    #[test]
    fn try_tensor_reports_an_overflowing_shape_by_name() {
        // No elements, but the non-zero dimensions multiply past isize::MAX.
        let shape = [0, 1 << 40, 1 << 40];
        let err = Init::he_uniform()
            .try_tensor::<f32, _>(&shape, &mut rng(0))
            .unwrap_err();
        assert_eq!(
            err,
            InitError::Overflow {
                shape: shape.to_vec()
            }
        );
        assert_eq!(
            err.to_string(),
            "shape [0, 1099511627776, 1099511627776] is too large: its dimensions multiply past isize::MAX"
        );
    }

    #[test]
    fn try_tensor_reports_a_refused_allocation_with_its_size_and_leaves_the_rng_alone() {
        // 2^60 elements of f64 are 2^63 bytes, past isize::MAX: refused on every host.
        let mut r = rng(3);
        let err = Init::glorot_uniform()
            .try_tensor::<f64, _>(&[1 << 50, 1024], &mut r)
            .unwrap_err();
        match &err {
            InitError::Alloc {
                shape,
                elements,
                dtype,
                bytes,
            } => {
                assert_eq!(shape, &[1 << 50, 1024]);
                assert_eq!((*elements, *dtype, *bytes), (1 << 60, "f64", 1 << 63));
            }
            other => panic!("expected InitError::Alloc, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "shape [1125899906842624, 1024] is too large: 1152921504606846976 elements of f64 (9223372036854775808 bytes) cannot be allocated"
        );
        assert_eq!(
            Init::he_uniform().tensor::<f64, _>(&[2, 2], &mut r),
            Init::he_uniform().tensor::<f64, _>(&[2, 2], &mut rng(3))
        );
    }

    #[test]
    fn try_tensor_and_tensor_draw_the_same_values() {
        assert_eq!(
            Init::he_normal().try_tensor::<f32, _>(&[3, 4], &mut rng(9)),
            Ok(Init::he_normal().tensor::<f32, _>(&[3, 4], &mut rng(9)))
        );
    }

    #[test]
    #[should_panic(expected = "init: fan in and fan out need at least 2 dimensions, got shape [5]")]
    fn fans_panic_on_vectors() {
        Init::glorot_uniform().tensor::<f32, _>(&[5], &mut rng(0));
    }
}
