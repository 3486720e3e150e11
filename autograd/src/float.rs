//! The element types a tensor can hold.

use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use ndarray::{LinalgScalar, ScalarOperand};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};

/// A floating-point element type: implemented for `f32` and `f64`.
///
/// Models usually train in `f32`; gradient checks run in `f64`, where finite differences are
/// accurate enough to compare against analytic gradients.
///
/// ```
/// use ferrograd_autograd::Float;
/// assert_eq!(<f64 as Float>::DTYPE, "f64");
/// assert_eq!(f32::from_f64(0.5), 0.5f32);
/// assert!((1.0f64.erf() - 0.842_700_792_949_715).abs() < 1e-12);
/// ```
pub trait Float:
    num_traits::Float
    + LinalgScalar
    + ScalarOperand
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Default
    + Debug
    + Display
    + LowerExp
    + Send
    + Sync
    + 'static
{
    /// The name of the type, as PyTorch spells it (`"f32"`, `"f64"`).
    const DTYPE: &'static str;

    /// Converts from `f64`, rounding to the nearest representable value.
    fn from_f64(x: f64) -> Self;

    /// Converts to `f64` (exact for both implementations).
    fn as_f64(self) -> f64;

    /// Converts from `usize` (used for counts, e.g. the divisor of `mean`).
    fn from_usize(n: usize) -> Self {
        Self::from_f64(n as f64)
    }

    /// The error function, `erf(x) = 2/√π ∫₀ˣ e^(−t²) dt`.
    fn erf(self) -> Self;

    /// The logistic function `1 / (1 + e⁻ˣ)`, computed without overflow for either sign
    /// (what [`Var::sigmoid`](crate::Var::sigmoid) applies to each element).
    ///
    /// ```
    /// use ferrograd_autograd::Float;
    /// assert_eq!(0.0f64.sigmoid(), 0.5);
    /// assert_eq!((-1000.0f32).sigmoid(), 0.0);
    /// ```
    fn sigmoid(self) -> Self {
        if self >= Self::zero() {
            Self::one() / (Self::one() + (-self).exp())
        } else {
            let e = self.exp();
            e / (Self::one() + e)
        }
    }

    /// Draws one sample from the standard normal distribution.
    fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;

    /// Draws one sample uniformly from `[low, high)`.
    fn sample_uniform<R: Rng + ?Sized>(rng: &mut R, low: Self, high: Self) -> Self;
}

macro_rules! impl_float {
    ($t:ty, $name:literal, $erf:path) => {
        impl Float for $t {
            const DTYPE: &'static str = $name;

            #[inline]
            fn from_f64(x: f64) -> Self {
                x as $t
            }

            #[inline]
            fn as_f64(self) -> f64 {
                self as f64
            }

            #[inline]
            fn erf(self) -> Self {
                $erf(self)
            }

            #[inline]
            fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
                StandardNormal.sample(rng)
            }

            #[inline]
            fn sample_uniform<R: Rng + ?Sized>(rng: &mut R, low: Self, high: Self) -> Self {
                low + (high - low) * rng.random::<$t>()
            }
        }
    };
}

impl_float!(f32, "f32", libm::erff);
impl_float!(f64, "f64", libm::erf);
