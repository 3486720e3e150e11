//! Gradient checking: analytic gradients against central finite differences.

use std::fmt;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::float::Float;
use crate::graph::{BackwardOptions, Graph, Var};
use crate::tensor::Tensor;

/// Tolerances for [`gradcheck`]: a gradient passes where
/// `|analytic − numeric| ≤ atol + rtol · |numeric|`.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// Step of the central difference `(f(x + eps) − f(x − eps)) / 2eps`.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Seed of the random weights that scalarise the output.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    /// PyTorch's `gradcheck` defaults, meant for `f64`: eps 1e-6, atol 1e-5, rtol 1e-3.
    fn default() -> Self {
        Self {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            seed: 0,
        }
    }
}

impl GradcheckOptions {
    /// A coarse profile for `f32`, which cannot resolve small differences: eps 1e-2,
    /// atol 1e-2, rtol 1e-2. It catches a wrong rule, not a slightly inaccurate one.
    pub fn f32_smoke() -> Self {
        Self {
            eps: 1e-2,
            atol: 1e-2,
            rtol: 1e-2,
            seed: 0,
        }
    }

    /// Whether an analytic gradient element agrees with its finite-difference estimate:
    /// `|analytic − numeric| ≤ atol + rtol·|numeric|`, as `torch.allclose`. A NaN on
    /// either side disagrees. The test behind [`gradcheck`] and `ferrograd-nn`'s module
    /// checks.
    ///
    /// ```
    /// use ferrograd::autograd::GradcheckOptions;
    /// let opts = GradcheckOptions::default();
    /// assert!(opts.agrees(2.0, 2.0 + 1e-6));
    /// assert!(!opts.agrees(2.0, 2.1));
    /// assert!(!opts.agrees(f64::NAN, 2.0));
    /// ```
    pub fn agrees(&self, analytic: f64, numeric: f64) -> bool {
        (analytic - numeric).abs() <= self.atol + self.rtol * numeric.abs()
    }
}

/// A gradient that disagrees with finite differences: which input, which element, and both
/// values.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckError {
    /// What was checked: `"gradcheck"` or `"gradgradcheck"`.
    pub check: &'static str,
    /// The position of the input in the argument list.
    pub input: usize,
    /// The multi-dimensional index of the element.
    pub index: Vec<usize>,
    /// The gradient computed by backward.
    pub analytic: f64,
    /// The gradient estimated by central differences.
    pub numeric: f64,
    /// The absolute tolerance used.
    pub atol: f64,
    /// The relative tolerance used.
    pub rtol: f64,
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: input {} element {:?}: analytic {:e} vs numeric {:e} (|diff| {:e} > atol {:e} + rtol {:e} * |numeric|)",
            self.check,
            self.input,
            self.index,
            self.analytic,
            self.numeric,
            (self.analytic - self.numeric).abs(),
            self.atol,
            self.rtol
        )
    }
}

impl std::error::Error for GradcheckError {}

/// Checks the gradients of `f` at `inputs` against central finite differences.
///
/// The output `y` is scalarised as `Σ wᵢ·yᵢ` with random weights `w` (a plain sum would be
/// blind to errors that cancel, e.g. in softmax), every input element is perturbed by
/// `±eps`, and the first element whose analytic and numeric derivatives disagree is
/// reported.
///
/// # Errors
/// A [`GradcheckError`] naming the input, the element and both values.
///
/// ```
/// use ferrograd::autograd::{GradcheckOptions, Tensor, gradcheck};
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3]);
/// gradcheck(|v| v[0].tanh() * v[0], &[x], &GradcheckOptions::default()).unwrap();
/// ```
pub fn gradcheck<T, F>(
    f: F,
    inputs: &[Tensor<T>],
    options: &GradcheckOptions,
) -> Result<(), GradcheckError>
where
    T: Float,
    F: for<'g> Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    check(&f, inputs, options, "gradcheck")
}

/// Checks second derivatives: [`gradcheck`] applied to the gradient of `f`, computed with
/// `create_graph`.
///
/// The gradient `∂(Σ wᵢ·yᵢ)/∂x` is scalarised with a second set of random weights, so every
/// entry of the Hessian-vector products is exercised.
///
/// # Errors
/// A [`GradcheckError`] naming the input and element whose second derivative is wrong.
///
/// ```
/// use ferrograd::autograd::{GradcheckOptions, Tensor, gradgradcheck};
/// let x = Tensor::from_vec(vec![0.3, -1.2], &[2]);
/// gradgradcheck(|v| v[0].exp() * v[0].tanh(), &[x], &GradcheckOptions::default()).unwrap();
/// ```
pub fn gradgradcheck<T, F>(
    f: F,
    inputs: &[Tensor<T>],
    options: &GradcheckOptions,
) -> Result<(), GradcheckError>
where
    T: Float,
    F: for<'g> Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    let out_shape = {
        let g = Graph::new();
        let xs: Vec<_> = inputs.iter().map(|x| g.constant(x.clone())).collect();
        f(&xs).shape()
    };
    let mut rng = StdRng::seed_from_u64(options.seed.wrapping_add(1));
    let w = Tensor::<T>::rand_uniform(&out_shape, -T::one(), T::one(), &mut rng);
    let vs: Vec<Tensor<T>> = inputs
        .iter()
        .map(|x| Tensor::rand_uniform(x.shape(), -T::one(), T::one(), &mut rng))
        .collect();
    let grad_of_f = higher_ranked(|xs| {
        let g = xs[0].graph();
        let y = f(xs);
        let s = (y * g.constant(w.clone())).sum();
        let grads = g.grad(&[s], xs, true);
        grads
            .into_iter()
            .zip(&vs)
            .filter_map(|(gx, v)| gx.map(|gx| (gx * g.constant(v.clone())).sum()))
            .reduce(|a, b| a + b)
            .unwrap_or_else(|| g.scalar(T::zero()))
    });
    check(&grad_of_f, inputs, options, "gradgradcheck")
}

/// Pins a closure to the higher-ranked signature the checks take.
fn higher_ranked<T: Float, F>(f: F) -> F
where
    F: for<'g> Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    f
}

fn check<T, F>(
    f: &F,
    inputs: &[Tensor<T>],
    options: &GradcheckOptions,
    name: &'static str,
) -> Result<(), GradcheckError>
where
    T: Float,
    F: for<'g> Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    // Analytic: backward of Σ w·y is backward of y seeded with w.
    let g = Graph::new();
    let xs: Vec<_> = inputs.iter().map(|x| g.var(x.clone())).collect();
    let y = f(&xs);
    let mut rng = StdRng::seed_from_u64(options.seed);
    let w = Tensor::<T>::rand_uniform(&y.shape(), -T::one(), T::one(), &mut rng);
    y.backward_with(BackwardOptions::new().seed(w.clone()));
    // Row-major copies, so each element is read in O(1) below.
    let analytic: Vec<Option<Vec<T>>> = xs.iter().map(|x| x.grad().map(|t| t.to_vec())).collect();
    g.clear();

    let weighted = |ins: &[Tensor<T>]| -> f64 {
        g.clear();
        let xs: Vec<_> = ins.iter().map(|x| g.var(x.clone())).collect();
        let y = f(&xs).value();
        y.view()
            .iter()
            .zip(w.view().iter())
            .map(|(&a, &b)| a.as_f64() * b.as_f64())
            .sum()
    };
    let mut perturbed: Vec<Tensor<T>> = inputs.to_vec();
    for (i, input) in inputs.iter().enumerate() {
        let original = input.to_vec();
        for (j, &x0) in original.iter().enumerate() {
            let at = |delta: f64| {
                let mut data = original.clone();
                data[j] = T::from_f64(x0.as_f64() + delta);
                Tensor::from_vec(data, input.shape())
            };
            perturbed[i] = at(options.eps);
            let plus = weighted(&perturbed);
            perturbed[i] = at(-options.eps);
            let minus = weighted(&perturbed);
            let numeric = (plus - minus) / (2.0 * options.eps);
            let a = analytic[i].as_ref().map_or(0.0, |t| t[j].as_f64());
            if !options.agrees(a, numeric) {
                return Err(GradcheckError {
                    check: name,
                    input: i,
                    index: unravel(j, input.shape()),
                    analytic: a,
                    numeric,
                    atol: options.atol,
                    rtol: options.rtol,
                });
            }
        }
        perturbed[i] = input.clone();
    }
    Ok(())
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &d) in index.iter_mut().zip(shape).rev() {
        *slot = flat % d;
        flat /= d;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grads;

    /// An op with a deliberately wrong backward (d/dx x² reported as x).
    fn bad_square<'g>(x: Var<'g, f64>) -> Var<'g, f64> {
        x.graph().custom_op(
            "bad_square",
            &[x],
            |v| v[0].map(|a| a * a),
            |ctx, g| grads![Some(g * ctx.input(0))],
        )
    }

    #[test]
    fn gradcheck_reports_the_wrong_element() {
        let x = Tensor::from_vec(vec![0.0, 2.0], &[2]);
        let err = gradcheck(|v| bad_square(v[0]), &[x], &GradcheckOptions::default()).unwrap_err();
        // Element 0 has x = 0, where x and 2x agree; element 1 is the first wrong one.
        assert_eq!((err.input, err.index.clone()), (0, vec![1]));
        assert!((err.analytic / err.numeric - 0.5).abs() < 1e-6);
        assert!(
            err.to_string()
                .starts_with("gradcheck: input 0 element [1]: analytic")
        );
    }

    #[test]
    fn gradcheck_catches_softmax_bug_a_plain_sum_would_miss() {
        // softmax with backward "grad * y" (missing the coupling term): Σ softmax is constant,
        // so a plain-sum check sees zero gradient either way; random weights do not.
        fn bad_softmax<'g>(x: Var<'g, f64>) -> Var<'g, f64> {
            let y = x.softmax(-1).value();
            x.graph().custom_op(
                "bad_softmax",
                &[x],
                move |_| y,
                |ctx, g| grads![Some(g * ctx.output())],
            )
        }
        let x = Tensor::from_vec(vec![0.1, -0.5, 0.7], &[3]);
        assert!(gradcheck(|v| bad_softmax(v[0]), &[x], &GradcheckOptions::default()).is_err());
    }

    #[test]
    fn gradgradcheck_catches_a_wrong_second_derivative() {
        // d/dx x³ = 3x² is right at first order, but written with a detached x its own
        // derivative is zero.
        fn cube<'g>(x: Var<'g, f64>) -> Var<'g, f64> {
            x.graph().custom_op(
                "cube",
                &[x],
                |v| v[0].map(|a| a * a * a),
                |ctx, g| grads![Some(g * ctx.input(0).detach().square() * 3.0)],
            )
        }
        let x = Tensor::from_vec(vec![0.5, -1.5], &[2]);
        gradcheck(
            |v| cube(v[0]),
            std::slice::from_ref(&x),
            &GradcheckOptions::default(),
        )
        .unwrap();
        let err = gradgradcheck(|v| cube(v[0]), &[x], &GradcheckOptions::default()).unwrap_err();
        assert_eq!(err.check, "gradgradcheck");
    }

    #[test]
    fn f32_smoke_profile_passes_a_correct_op() {
        let x = Tensor::from_vec(vec![0.3f32, -0.7, 1.1], &[3]);
        gradcheck(|v| v[0].exp() * v[0], &[x], &GradcheckOptions::f32_smoke()).unwrap();
    }

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(0, &[]), Vec::<usize>::new());
    }
}
