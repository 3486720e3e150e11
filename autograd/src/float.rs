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
/// use ferrograd::autograd::Float;
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
    /// use ferrograd::autograd::Float;
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

    /// [`Float::sigmoid`] of every element, in place. For `f32` a branch-free kernel the
    /// compiler vectorises (its own `exp`, within 4 ulp of the correctly rounded logistic
    /// for `x ≥ −80`, below `1e-34` beyond and 0 below −88; tested); for `f64`, `sigmoid` per element.
    ///
    /// ```
    /// use ferrograd::autograd::Float;
    /// let mut xs = [0.0f32, 2.0, -2.0];
    /// f32::sigmoid_in_place(&mut xs);
    /// assert!((xs[1] - 2.0f32.sigmoid()).abs() < 1e-6 && xs[0] == 0.5);
    /// ```
    fn sigmoid_in_place(xs: &mut [Self]) {
        xs.iter_mut().for_each(|x| *x = x.sigmoid());
    }

    /// `tanh` of every element, in place. For `f32` a branch-free kernel the compiler
    /// vectorises (within 4 ulp of the correctly rounded value; tested); for `f64`, `tanh`
    /// per element.
    ///
    /// ```
    /// use ferrograd::autograd::Float;
    /// let mut xs = [0.0f32, 0.5, -3.0];
    /// f32::tanh_in_place(&mut xs);
    /// assert!((xs[1] - 0.5f32.tanh()).abs() < 1e-6 && xs[0] == 0.0);
    /// ```
    fn tanh_in_place(xs: &mut [Self]) {
        xs.iter_mut().for_each(|x| *x = x.tanh());
    }

    /// Draws one sample from the standard normal distribution.
    fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;

    /// Draws one sample uniformly from `[low, high)`.
    fn sample_uniform<R: Rng + ?Sized>(rng: &mut R, low: Self, high: Self) -> Self;
}

/// `eˣ` for the f32 kernels below, without a libm call and without branches, so a loop of
/// it vectorises: `x = n·ln 2 + r`, Cephes' degree-6 polynomial for `e^r`, and `2ⁿ` built
/// from its bits. `x` is clamped to `[−87, 88]`, which keeps `2ⁿ` a normal number: the
/// result is exact to about 1 ulp there and saturates beyond, which the logistic and `tanh`
/// built on it absorb. NaN stays NaN.
#[inline(always)]
fn exp_kernel(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round x·log2(e) to the nearest integer n by adding 1.5·2²³: the sum's low mantissa
    // bits are n itself. (`round` is not an SSE2 instruction, and `as i32` checks each lane
    // for NaN and overflow, which keeps the loop from vectorising.)
    const MAGIC: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + MAGIC;
    let nf = shifted - MAGIC;
    let n = shifted.to_bits().wrapping_sub(MAGIC.to_bits());
    // ln 2 in two parts, so that n·ln2_hi is exact.
    let r = x - nf * 0.693_359_4 - nf * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4f32 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(n.wrapping_add(127) << 23)
}

/// The logistic function through [`exp_kernel`]; 0 below −88, where the exact value is
/// under 1e-38 (a subnormal, slow in later arithmetic) and [`exp_kernel`] saturates.
#[inline(always)]
fn sigmoid_kernel(x: f32) -> f32 {
    let y = 1.0 / (1.0 + exp_kernel(-x));
    if x < -88.0 { 0.0 } else { y }
}

/// `tanh` through [`exp_kernel`]: `(1 − e^(−2|x|)) / (1 + e^(−2|x|))` with `x`'s sign for
/// `|x| ≥ 1/8`, where the subtraction loses at most two bits, and the odd Taylor polynomial
/// to `x⁹` below (next term under 1e-11 relative); both computed, one selected.
#[inline(always)]
fn tanh_kernel(x: f32) -> f32 {
    let ax = x.abs();
    let x2 = x * x;
    let small = x
        * (1.0
            + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0)))));
    let e = exp_kernel(-2.0 * ax);
    let large = ((1.0 - e) / (1.0 + e)).copysign(x);
    if ax < 0.125 { small } else { large }
}

macro_rules! impl_float {
    ($t:ty, $name:literal, $erf:path $(, $extra:item)*) => {
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

            $($extra)*
        }
    };
}

impl_float!(
    f32,
    "f32",
    libm::erff,
    fn sigmoid_in_place(xs: &mut [f32]) {
        xs.iter_mut().for_each(|x| *x = sigmoid_kernel(*x));
    },
    fn tanh_in_place(xs: &mut [f32]) {
        xs.iter_mut().for_each(|x| *x = tanh_kernel(*x));
    }
);
impl_float!(f64, "f64", libm::erf);

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between `a` and the correctly rounded `exact`.
    fn ulps(a: f32, exact: f64) -> f64 {
        let rounded = exact as f32;
        let unit = f64::from(f32::EPSILON) * f64::from(rounded.abs().max(f32::MIN_POSITIVE));
        (f64::from(a) - f64::from(rounded)).abs() / unit
    }

    fn grid() -> impl Iterator<Item = f32> {
        // [-100, 100], dense near 0 and around tanh's switch at 1/8, plus edge values.
        (-2_000_000..=2_000_000)
            .map(|k| k as f32 * 5e-5)
            .chain((-1000..=1000).map(|k| k as f32 * 0.1))
            .chain([
                1e-30,
                -1e-30,
                1e-8,
                0.124_999_99,
                0.125,
                87.5,
                88.5,
                1e30,
                -1e30,
            ])
    }

    #[test]
    fn sigmoid_kernel_is_within_4_ulp_or_below_1e_34() {
        let mut worst = 0.0f64;
        for x in grid() {
            let mut v = [x];
            f32::sigmoid_in_place(&mut v);
            let exact = 1.0 / (1.0 + (-f64::from(x)).exp());
            if x >= -80.0 {
                worst = worst.max(ulps(v[0], exact));
            } else {
                assert!(v[0] >= 0.0 && v[0] < 1e-34, "sigmoid({x}) = {}", v[0]);
            }
        }
        assert!(worst <= 4.0, "worst: {worst} ulp");
    }

    #[test]
    fn tanh_kernel_is_within_4_ulp() {
        let mut worst = 0.0f64;
        for x in grid() {
            let mut v = [x];
            f32::tanh_in_place(&mut v);
            worst = worst.max(ulps(v[0], f64::from(x).tanh()));
        }
        assert!(worst <= 4.0, "worst: {worst} ulp");
    }

    #[test]
    fn the_kernels_keep_nan_and_infinities() {
        let mut v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0];
        f32::tanh_in_place(&mut v);
        assert!(v[0].is_nan());
        assert_eq!(v[1..], [1.0, -1.0, -0.0]);
        let mut v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        f32::sigmoid_in_place(&mut v);
        assert!(v[0].is_nan());
        assert_eq!(v[1..], [1.0, 0.0]);
    }
}
