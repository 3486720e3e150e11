//! Activation functions: relu, leaky_relu, elu, gelu (erf and tanh forms), sigmoid, tanh,
//! softplus (and `softplus_with` beta and threshold), softsign, silu, hardtanh, relu6, selu,
//! celu, mish, hardswish, logsigmoid, glu.
//!
//! Ops with a kink follow PyTorch at the kink: `relu'(0) = 0`, `leaky_relu'(0) = slope`,
//! `elu'(0) = 1` (the `x ≤ 0` branch), hardtanh and relu6 pass the gradient only strictly
//! inside their bounds, `hardswish'(−3) = 0` and `hardswish'(3) = 1` (the outer pieces').
//! gelu, softsign, silu, hardtanh, relu6, selu, celu, mish, logsigmoid and glu are composed
//! from other ops and need no backward code of their own.

use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::par_map2;
use crate::tensor::Tensor;

impl<'g, T: Float> Var<'g, T> {
    /// `max(x, 0)`; NaN stays NaN. Backward: `grad` where the output is positive or NaN,
    /// exactly 0 elsewhere (so `relu'(0) = 0`), selected rather than multiplied by a mask,
    /// as PyTorch's `threshold_backward`: an infinite gradient arriving at `x ≤ 0`
    /// (`x.relu().sqrt()` at −1) gives 0, not NaN. Saves the output.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::from_vec(vec![-1.0, 0.0, 2.0], &[3]));
    /// let y = x.relu();
    /// y.sum().backward();
    /// assert_eq!(y.value().to_vec(), vec![0.0, 0.0, 2.0]);
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn relu(self) -> Var<'g, T> {
        self.unary(
            "relu",
            |a| if a <= T::zero() { T::zero() } else { a },
            |ctx, g| {
                let y = ctx.output();
                if !ctx.is_recording() {
                    // First order: one pass over output and gradient, instead of a mask
                    // constant and a select (which branched on random signs).
                    let dx = relu_backward(&y.value(), &g.value());
                    return grads![Some(ctx.graph().constant_named("relu_backward", dx))];
                }
                let live = y.derive_mask("relu_mask", |y| y > T::zero() || y.is_nan());
                grads![Some(g.keep_where(live))]
            },
        )
    }

    /// `x` for `x > 0`, `slope · x` otherwise (PyTorch's `negative_slope`, default 0.01).
    /// Backward: `grad` or `slope · grad` (`slope · grad` at 0 and at NaN, as PyTorch).
    ///
    /// With `slope = 0` it is `relu`, and as there an infinite gradient arriving at `x ≤ 0`
    /// gives 0 (PyTorch multiplies by the slope and gives NaN there).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::from_vec(vec![-2.0, 3.0], &[2])).leaky_relu(0.1);
    /// assert_eq!(y.value().to_vec(), vec![-0.2, 3.0]);
    /// ```
    #[track_caller]
    pub fn leaky_relu(self, slope: T) -> Var<'g, T> {
        let f = move |a: T| if a > T::zero() { T::one() } else { slope };
        self.unary(
            "leaky_relu",
            move |a| a * f(a),
            move |ctx, g| {
                grads![Some(g.scale_or_zero(
                    ctx.input(0).derive_const("leaky_relu_slope", f)
                ))]
            },
        )
    }

    /// `x` for `x > 0`, `α(eˣ − 1)` otherwise. Backward: `grad` for `x > 0` (and NaN),
    /// `grad · α·eˣ` otherwise, so `elu'(0) = α`; the two branches are selected, not blended
    /// with masks. Saves the input.
    ///
    /// As PyTorch, the slope is `α·eˣ` from the input (exact at −40, where `out + α` would
    /// round to 0), and the second derivative at 0 is 0 (`α·eˣ` is differentiated only where
    /// `x < 0`).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::from_vec(vec![0.0, 1.0], &[2])).elu(1.0);
    /// assert_eq!(y.value().to_vec(), vec![0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn elu(self, alpha: T) -> Var<'g, T> {
        let f = move |a: T| if a > T::zero() { a } else { alpha * a.exp_m1() };
        self.unary("elu", f, move |ctx, g| {
            let x = ctx.input(0);
            let pos = x.derive_mask("elu_mask", |a| a > T::zero() || a.is_nan());
            let neg = x.derive_mask("elu_mask", |a| a < T::zero());
            // α·e^min(x, 0): α at and above 0, and eˣ never overflows in the branch not taken.
            let slope = x.keep_where(neg).exp().mul_scalar(alpha);
            grads![Some(g.where_(pos, g * slope))]
        })
    }

    /// The Gaussian error linear unit, exact form: `x · Φ(x) = x/2 · (1 + erf(x/√2))`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::from_vec(vec![0.0, 1.0], &[2])).gelu();
    /// assert!((y.value().to_vec()[1] - 0.841_344_746_068_543).abs() < 1e-12);
    /// ```
    #[track_caller]
    pub fn gelu(self) -> Var<'g, T> {
        let half = T::from_f64(0.5);
        self * (self
            .mul_scalar(T::from_f64(std::f64::consts::FRAC_1_SQRT_2))
            .erf()
            + T::one())
        .mul_scalar(half)
    }

    /// GELU, tanh approximation (PyTorch's `approximate="tanh"`):
    /// `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::scalar(1.0)).gelu_tanh();
    /// assert!((y.item() - 0.841_191_990_607_477).abs() < 1e-12);
    /// ```
    #[track_caller]
    pub fn gelu_tanh(self) -> Var<'g, T> {
        let c = T::from_f64((2.0 / std::f64::consts::PI).sqrt());
        let inner = (self
            + self
                .powf(T::from_f64(3.0))
                .mul_scalar(T::from_f64(0.044715)))
        .mul_scalar(c);
        self * (inner.tanh() + T::one()).mul_scalar(T::from_f64(0.5))
    }

    /// The logistic function `1 / (1 + e⁻ˣ)`, computed without overflow for large `|x|`
    /// ([`Float::sigmoid_in_place`](crate::Float::sigmoid_in_place): in f32 a vectorised
    /// kernel within 4 ulp, 0 below −88). Backward: `grad · out · (1 − out)` (saves the
    /// output).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![0.0, -1000.0], &[2]));
    /// let y = x.sigmoid();
    /// y.sum().backward();
    /// assert_eq!(y.value().to_vec(), vec![0.5, 0.0]);
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.25, 0.0]);
    /// ```
    #[track_caller]
    pub fn sigmoid(self) -> Var<'g, T> {
        let g = self.graph();
        g.custom_op(
            "sigmoid",
            &[self],
            |v| in_place(&v[0], T::sigmoid_in_place),
            |ctx, g| {
                let y = ctx.output();
                grads![Some(g * y * (-y).add_scalar(T::one()))]
            },
        )
    }

    /// Hyperbolic tangent ([`Float::tanh_in_place`](crate::Float::tanh_in_place): in f32 a
    /// vectorised kernel within 4 ulp). Backward: `grad · (1 − out²)` (saves the output).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(0.0));
    /// x.tanh().backward();
    /// assert_eq!(x.grad().unwrap().item(), 1.0);
    /// ```
    #[track_caller]
    pub fn tanh(self) -> Var<'g, T> {
        let g = self.graph();
        g.custom_op(
            "tanh",
            &[self],
            |v| in_place(&v[0], T::tanh_in_place),
            |ctx, g| grads![Some(tanh_backward(g, ctx.output()))],
        )
    }

    /// `ln(1 + eˣ)`, computed stably as `max(x, 0) + ln(1 + e^−|x|)`.
    /// Backward: `grad · sigmoid(x)`.
    ///
    /// (No threshold: the stable form needs none. PyTorch's `beta` and `threshold` are
    /// [`Var::softplus_with`]'s; above its threshold, 20, the two differ by less than e⁻²⁰.)
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::from_vec(vec![0.0, 1000.0], &[2])).softplus();
    /// assert_eq!(y.value().to_vec(), vec![2f64.ln(), 1000.0]);
    /// ```
    #[track_caller]
    pub fn softplus(self) -> Var<'g, T> {
        self.unary(
            "softplus",
            |a| a.max(T::zero()) + (-a.abs()).exp().ln_1p(),
            |ctx, g| grads![Some(g * ctx.input(0).sigmoid())],
        )
    }

    /// `x / (1 + |x|)`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// assert_eq!(g.var(Tensor::scalar(1.0)).softsign().item(), 0.5);
    /// ```
    #[track_caller]
    pub fn softsign(self) -> Var<'g, T> {
        self / (self.abs() + T::one())
    }

    /// `x` where `x > 0`, `weight·x` elsewhere, as `F.prelu(x, weight)`: `weight` is 1-D,
    /// one slope for every element or one per channel (axis 1, `[N, C, ...]`). The
    /// learnable layer is `nn::PReLU`.
    ///
    /// Backward: by composition (a select): `grad` where `x > 0`, `weight·grad` elsewhere
    /// (so the slope at 0, as PyTorch), and to each slope the sum of `x·grad` over its
    /// channel's elements `x ≤ 0`. The second derivative at `x = 0` in `x` and the slope is
    /// 1, the derivative of that first derivative; PyTorch's double backward gives 0 there.
    ///
    /// # Panics
    /// If `weight` is not 1-D with at least one slope, or has more than one and the input's
    /// axis 1 does not have that many channels.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![-4.0, 1.0, -2.0, 3.0], &[2, 2]));
    /// let w = g.var(Tensor::from_vec(vec![0.25, 0.5], &[2])); // one slope per channel
    /// let y = x.prelu(w);
    /// assert_eq!(y.value().to_vec(), vec![-1.0, 1.0, -0.5, 3.0]);
    /// y.sum().backward();
    /// assert_eq!(w.grad().unwrap().to_vec(), vec![-6.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn prelu(self, weight: Var<'g, T>) -> Var<'g, T> {
        let (shape, ws) = (self.shape_for("prelu"), weight.shape_for("prelu"));
        assert!(
            ws.len() == 1 && ws[0] > 0,
            "prelu: weight must be 1-D with at least one slope, got {:?}",
            ws.as_slice()
        );
        let n = ws[0];
        let w = if n == 1 {
            weight.reshape(&[])
        } else {
            assert!(
                shape.len() >= 2 && shape[1] == n,
                "prelu: input of shape {:?} must have {n} channels on axis 1 (weight {:?})",
                shape.as_slice(),
                ws.as_slice()
            );
            let mut s = vec![1isize; shape.len()];
            s[1] = n as isize;
            weight.reshape(&s)
        };
        let positive = self.gt(self.graph().scalar(T::zero()));
        self.where_(positive, w * self)
    }

    /// The sigmoid linear unit (swish): `x · sigmoid(x)`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// assert_eq!(g.var(Tensor::scalar(0.0)).silu().item(), 0.0);
    /// ```
    #[track_caller]
    pub fn silu(self) -> Var<'g, T> {
        self * self.sigmoid()
    }

    /// `ln(1 + e^(βx)) / β`, and `x` itself where `βx > threshold`, as PyTorch's
    /// `F.softplus(x, beta, threshold)` (defaults 1 and 20). Backward: `grad · sigmoid(βx)`
    /// where `βx ≤ threshold`, `grad` in the linear region (selected). The second
    /// derivative, `grad · β·s(1 − s)` with `s = sigmoid(βx)`, is 0 from `βx = threshold`
    /// on, as PyTorch's double backward. Saves the input.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![0.0, 30.0], &[2]));
    /// let y = x.softplus_with(2.0, 20.0);
    /// y.sum().backward();
    /// assert_eq!(y.value().to_vec(), vec![2f64.ln() / 2.0, 30.0]);
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.5, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If `beta` is 0 or not finite, or `threshold` is NaN (PyTorch returns NaN or ∞
    /// everywhere for `beta = 0`).
    #[track_caller]
    pub fn softplus_with(self, beta: T, threshold: T) -> Var<'g, T> {
        assert!(
            beta != T::zero() && beta.is_finite() && !threshold.is_nan(),
            "softplus_with: beta must be finite and nonzero and threshold a number, got beta {beta:?} and threshold {threshold:?}"
        );
        self.unary(
            "softplus_with",
            move |a| {
                let b = a * beta;
                if b > threshold {
                    a
                } else {
                    b.exp().ln_1p() / beta
                }
            },
            move |ctx, g| {
                let x = ctx.input(0);
                let linear = x.derive_mask("softplus_linear", move |a| a * beta > threshold);
                // The clamp changes no value that is selected, but stops the derivative of
                // sigmoid(βx) at the threshold itself, where PyTorch's stops.
                let bx = x.mul_scalar(beta).clamp(T::neg_infinity(), threshold);
                grads![Some(g.where_(linear, g * bx.sigmoid()))]
            },
        )
    }

    /// `min(max(x, min), max)`, as `F.hardtanh(x, min_val, max_val)` (PyTorch's defaults
    /// −1 and 1). Backward: `grad` strictly inside `(min, max)`, exactly 0 at and beyond the
    /// bounds (as PyTorch's `hardtanh_backward`) and at NaN ([`Var::clamp`], whose rule it is;
    /// PyTorch passes the gradient at NaN). Saves the input.
    ///
    /// # Panics
    /// If `min > max` or either bound is NaN.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![-2.0, -1.0, 0.5, 3.0], &[4]));
    /// let y = x.hardtanh(-1.0, 1.0);
    /// y.sum().backward();
    /// assert_eq!(y.value().to_vec(), vec![-1.0, -1.0, 0.5, 1.0]);
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn hardtanh(self, min: T, max: T) -> Var<'g, T> {
        assert!(
            min <= max,
            "hardtanh: min {min} is greater than max {max} (or one is NaN)"
        );
        self.clamp(min, max)
    }

    /// `min(max(x, 0), 6)`, as `F.relu6`: [`Var::hardtanh`]`(0, 6)`, so the gradient is
    /// exactly 0 at 0 and at 6 (as PyTorch).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::from_vec(vec![-1.0, 3.0, 8.0], &[3])).relu6();
    /// assert_eq!(y.value().to_vec(), vec![0.0, 3.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn relu6(self) -> Var<'g, T> {
        self.hardtanh(T::zero(), T::from_f64(6.0))
    }

    /// The scaled ELU, `λ · elu(x, α)` with PyTorch's constants `α ≈ 1.6733`,
    /// `λ ≈ 1.0507`, as `F.selu`. Backward: that of [`Var::elu`] scaled by `λ`, so
    /// `selu'(0) = λα` (the `x ≤ 0` branch, as PyTorch).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::from_vec(vec![0.0, 1.0], &[2])).selu();
    /// assert_eq!(y.value().to_vec(), vec![0.0, 1.050_700_987_355_480_5]);
    /// ```
    #[track_caller]
    pub fn selu(self) -> Var<'g, T> {
        let alpha = T::from_f64(1.673_263_242_354_377_3);
        let scale = T::from_f64(1.050_700_987_355_480_5);
        self.elu(alpha).mul_scalar(scale)
    }

    /// `max(0, x) + min(0, α(e^(x/α) − 1))`, as `F.celu(x, alpha)` (PyTorch's default
    /// `α = 1`), computed as `α · elu(x/α, 1)`. Backward: `1` for `x > 0`, `e^(x/α)`
    /// otherwise, so `celu'(0) = 1` (as PyTorch).
    ///
    /// # Panics
    /// If `alpha` is 0 (as PyTorch).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::from_vec(vec![0.0, 2.0], &[2])).celu(2.0);
    /// assert_eq!(y.value().to_vec(), vec![0.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn celu(self, alpha: T) -> Var<'g, T> {
        assert!(alpha != T::zero(), "celu: alpha must not be 0");
        self.mul_scalar(T::one() / alpha)
            .elu(T::one())
            .mul_scalar(alpha)
    }

    /// `x · tanh(softplus(x))`, as `F.mish`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::scalar(1.0)).mish();
    /// assert!((y.item() - 0.865_098_388_267_310_3).abs() < 1e-12);
    /// ```
    #[track_caller]
    pub fn mish(self) -> Var<'g, T> {
        self * self.softplus().tanh()
    }

    /// `x · min(max(x + 3, 0), 6) / 6`, as `F.hardswish`. Backward as PyTorch's: 0 at and
    /// below −3, `grad · (x/3 + 1/2)` strictly inside (−3, 3), `grad` at and above 3 (so
    /// `hardswish'(−3) = 0`, `hardswish'(3) = 1`), the three pieces selected; the second
    /// derivative is `grad/3` strictly inside, 0 elsewhere. Saves the input.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![-4.0, -3.0, 0.0, 3.0, 4.0], &[5]));
    /// let y = x.hardswish();
    /// y.sum().backward();
    /// assert_eq!(y.value().to_vec(), vec![0.0, 0.0, 0.0, 3.0, 4.0]);
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0, 0.5, 1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn hardswish(self) -> Var<'g, T> {
        let three = T::from_f64(3.0);
        let six = T::from_f64(6.0);
        self.unary(
            "hardswish",
            move |a| a * (a + three).max(T::zero()).min(six) / six,
            move |ctx, g| {
                let x = ctx.input(0);
                let mid = x.derive_mask("hardswish_mask", move |a| -three < a && a < three);
                let high = x.derive_mask("hardswish_mask", move |a| a >= three || a.is_nan());
                let slope = (x / three).add_scalar(T::from_f64(0.5));
                grads![Some((g * slope).keep_where(mid) + g.keep_where(high))]
            },
        )
    }

    /// `ln(sigmoid(x)) = −softplus(−x)`, computed stably, as `F.logsigmoid`.
    /// Backward: `grad · sigmoid(−x)`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::from_vec(vec![0.0, -1000.0], &[2])).logsigmoid();
    /// assert_eq!(y.value().to_vec(), vec![-(2f64.ln()), -1000.0]);
    /// ```
    #[track_caller]
    pub fn logsigmoid(self) -> Var<'g, T> {
        -(-self).softplus()
    }

    /// The gated linear unit along `axis` (negative counts from the end), as
    /// `F.glu(x, dim)`: the first half `a` times the sigmoid of the second half `b`,
    /// `a · sigmoid(b)`; the axis halves in size.
    ///
    /// # Panics
    /// If `axis` is out of range or its size is odd.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::from_vec(vec![2.0, 4.0, 0.0, 0.0], &[1, 4])).glu(-1);
    /// assert_eq!(y.shape(), vec![1, 2]);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn glu(self, axis: isize) -> Var<'g, T> {
        let shape = self.shape();
        let rank = shape.len() as isize;
        assert!(
            (-rank..rank).contains(&axis),
            "glu: axis {axis} is out of range for shape {shape:?}"
        );
        let ax = axis.rem_euclid(rank.max(1)) as usize;
        let n = shape[ax];
        assert!(
            n.is_multiple_of(2),
            "glu: axis {axis} of shape {shape:?} has odd size {n} (it must halve)"
        );
        let a = self.narrow(axis, 0, n / 2);
        let b = self.narrow(axis, n / 2, n / 2);
        a * b.sigmoid()
    }
}

/// relu's first-order input gradient from its output `y`: `grad` where `y > 0` or `y` is
/// NaN, exactly 0 elsewhere (an infinite or NaN `grad` there gives 0, as the recorded
/// select does).
fn relu_backward<T: Float>(y: &Tensor<T>, grad: &Tensor<T>) -> Tensor<T> {
    let keep = |y: T, g: T| {
        if y > T::zero() || y.is_nan() {
            g
        } else {
            T::zero()
        }
    };
    Tensor::from_array(par_map2(&y.view(), &grad.view(), y.shape(), keep))
}

/// `grad · (1 − y²)` as one op rather than four: tanh sits in every recurrent cell, and this
/// halves its backward cost. Its own rule keeps tanh twice differentiable.
fn tanh_backward<'g, T: Float>(grad: Var<'g, T>, y: Var<'g, T>) -> Var<'g, T> {
    grad.binary(
        y,
        "tanh_backward",
        |g, y| g * (T::one() - y * y),
        |ctx, gg| {
            let (g, y) = (ctx.input(0), ctx.input(1));
            grads![
                ctx.needs_grad(0)
                    .then(|| gg * (-y.square()).add_scalar(T::one())),
                ctx.needs_grad(1)
                    .then(|| (gg * g * y).mul_scalar(T::from_f64(-2.0))),
            ]
        },
    )
}

/// The logistic function, evaluated on the side where `e^(−|x|)` cannot overflow.
/// A copy of `t` in standard layout with `kernel` applied to its elements in place: the
/// slice kernels of [`Float`] ([`Float::sigmoid_in_place`]) vectorise where a per-element
/// libm call cannot.
fn in_place<T: Float>(t: &Tensor<T>, kernel: fn(&mut [T])) -> Tensor<T> {
    let mut a = t.view().as_standard_layout().into_owned();
    kernel(a.as_slice_mut().expect("standard layout"));
    Tensor::from_array(a)
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, shape, tensor_away_from};
    use crate::{Graph, Tensor, Var};
    use proptest::prelude::*;

    /// The kinks of the ops below (hardtanh's ±1, hardswish's ±3, softplus_with(2, 3)'s
    /// 1.5), which the finite differences must stay away from.
    const KINKS: [f64; 6] = [0.0, -1.0, 1.0, -3.0, 3.0, 1.5];

    const SMOOTH: [(&str, testing::OpFn); 12] = [
        ("gelu", |v| v[0].gelu()),
        ("gelu_tanh", |v| v[0].gelu_tanh()),
        ("sigmoid", |v| v[0].sigmoid()),
        ("tanh", |v| v[0].tanh()),
        ("softplus", |v| v[0].softplus()),
        ("silu", |v| v[0].silu()),
        ("elu", |v| v[0].elu(1.3)),
        ("selu", |v| v[0].selu()),
        ("celu", |v| v[0].celu(0.7)),
        ("mish", |v| v[0].mish()),
        ("logsigmoid", |v| v[0].logsigmoid()),
        ("softplus_with", |v| v[0].softplus_with(2.0, 3.0)),
    ];

    /// The ops with a kink, times `x` so that their second derivative is not just 0.
    const KINKED: [(&str, testing::OpFn); 3] = [
        ("hardtanh", |v| v[0].hardtanh(-1.0, 1.0) * v[0]),
        ("relu6", |v| v[0].relu6() * v[0]),
        ("hardswish", |v| v[0].hardswish() * v[0]),
    ];

    /// glu of the input (as a row) beside a function of it, so both halves vary.
    fn glu_of<'g>(v: &[Var<'g, f64>]) -> Var<'g, f64> {
        let x = v[0].reshape(&[1, -1]);
        x.graph().concat(&[x, x.sin()], 1).glu(-1)
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn activation_grads_match_finite_diff(x in tensor_away_from(shape(), -4.0..4.0, &KINKS, 1e-3)) {
            for (_, f) in SMOOTH.iter().chain(&KINKED) {
                check_grads(f, std::slice::from_ref(&x))?;
            }
            check_grads(|v| v[0].relu(), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].leaky_relu(0.1), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].softsign(), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].hardtanh(-1.0, 1.0), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].relu6(), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].hardswish(), std::slice::from_ref(&x))?;
            check_grads(glu_of, std::slice::from_ref(&x))?;
        }

        #[test]
        fn activation_gradgrads_match_finite_diff(x in tensor_away_from(testing::shape_of_rank(2), -4.0..4.0, &KINKS, 1e-3)) {
            for (_, f) in SMOOTH.iter().chain(&KINKED) {
                check_gradgrads(f, std::slice::from_ref(&x))?;
            }
            check_gradgrads(|v| v[0].softsign(), std::slice::from_ref(&x))?;
            check_gradgrads(glu_of, std::slice::from_ref(&x))?;
            // The selecting rules are differentiable again (x·relu(x) has f'' = 2 for x > 0).
            check_gradgrads(|v| v[0].relu() * v[0], std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].leaky_relu(0.1) * v[0], &[x])?;
        }
    }

    #[test]
    fn relu_fused_first_order_backward_matches_the_recorded_one() {
        // create_graph false takes the fused pass, true the recorded select: same values,
        // at kinks, NaN inputs and infinite gradients included, on a strided input too.
        let x = Tensor::from_vec(
            vec![-1.0, 0.0, 2.0, f64::NAN, -0.0, 3.0, -4.0, 0.5],
            &[2, 4],
        );
        let seed = Tensor::from_vec(
            vec![
                f64::INFINITY,
                1.0,
                -2.0,
                3.0,
                f64::NAN,
                f64::NEG_INFINITY,
                5.0,
                0.25,
            ],
            &[4, 2],
        );
        let grads: Vec<Vec<f64>> = [false, true]
            .map(|create_graph| {
                let g = Graph::<f64>::new();
                let x = g.var(x.clone());
                let y = x.transpose(0, 1).relu();
                let dx =
                    g.grad_with(&[y], std::slice::from_ref(&seed), &[x], create_graph)[0].unwrap();
                dx.value().to_vec()
            })
            .into();
        let bits = |v: &[f64]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&grads[0]), bits(&grads[1]));
        // The infinite gradient at -1 gives 0; at 2 a NaN gradient and at NaN a 5 pass.
        let want = [0.0, 0.0, f64::NAN, 5.0, 0.0, 3.0, 0.0, 0.25];
        assert_eq!(bits(&grads[0]), bits(&want));
    }

    #[test]
    fn kinks_follow_pytorch() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![0.0], &[1]));
        let grad = |y: Var<'_, f64>| {
            y.sum().backward();
            x.grad().unwrap().item()
        };
        assert_eq!(grad(x.relu()), 0.0);
        assert_eq!(grad(x.leaky_relu(0.2)), 0.2);
        assert_eq!(grad(x.elu(1.0)), 1.0);
        assert_eq!(grad(x.softsign()), 1.0);
        assert_eq!(grad(x.relu6()), 0.0);
        assert_eq!(grad(x.celu(0.5)), 1.0);
        assert_eq!(
            grad(x.selu()),
            1.050_700_987_355_480_5 * 1.673_263_242_354_377_3
        );
    }

    #[test]
    fn bounded_activations_stop_the_gradient_at_their_kinks_as_pytorch() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![-3.0, -1.0, 0.0, 1.0, 3.0, 6.0], &[6]));
        let grad = |y: Var<'_, f64>| {
            y.sum().backward();
            x.grad().unwrap().to_vec()
        };
        assert_eq!(grad(x.hardtanh(-1.0, 1.0)), [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(grad(x.relu6()), [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
        assert_eq!(
            grad(x.hardswish()),
            [0.0, -1.0 / 3.0 + 0.5, 0.5, 1.0 / 3.0 + 0.5, 1.0, 1.0]
        );
    }

    #[test]
    fn softplus_with_is_linear_above_the_threshold() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![10.5, 9.5, -1e4], &[3]));
        let y = x.softplus_with(2.0, 20.0);
        y.sum().backward();
        let v = y.value().to_vec();
        assert_eq!(v[0], 10.5);
        assert!((v[1] - (19f64.exp().ln_1p() / 2.0)).abs() < 1e-15);
        assert_eq!(v[2], 0.0);
        assert_eq!(x.grad().unwrap().to_vec()[0], 1.0);
    }

    #[test]
    #[should_panic(expected = "glu: axis 1 of shape [2, 3] has odd size 3 (it must halve)")]
    fn glu_panics_on_an_odd_axis() {
        let g = Graph::<f64>::new();
        g.var(Tensor::zeros(&[2, 3])).glu(1);
    }

    #[test]
    #[should_panic(expected = "glu: axis 2 is out of range for shape [2, 4]")]
    fn glu_panics_on_an_axis_out_of_range() {
        let g = Graph::<f64>::new();
        g.var(Tensor::zeros(&[2, 4])).glu(2);
    }

    #[test]
    #[should_panic(expected = "hardtanh: min 1 is greater than max -1")]
    fn hardtanh_panics_on_inverted_bounds() {
        let g = Graph::<f64>::new();
        g.var(Tensor::zeros(&[2])).hardtanh(1.0, -1.0);
    }

    #[test]
    #[should_panic(expected = "celu: alpha must not be 0")]
    fn celu_panics_on_zero_alpha() {
        let g = Graph::<f64>::new();
        g.var(Tensor::zeros(&[2])).celu(0.0);
    }

    #[test]
    fn sigmoid_and_softplus_are_finite_for_extreme_inputs() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::from_vec(vec![-1e4, 1e4], &[2]));
        let y = (x.sigmoid() + x.softplus()).sum();
        y.backward();
        assert!(y.value().to_vec().iter().all(|v| v.is_finite()));
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0]);
    }

    #[test]
    #[should_panic(expected = "softplus_with: beta must be finite and nonzero")]
    fn softplus_with_refuses_a_zero_beta() {
        let g = Graph::<f64>::new();
        g.var(Tensor::zeros(&[2])).softplus_with(0.0, 20.0);
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn prelu_grads_match_finite_diff(
            x in tensor_away_from(Just(vec![2, 3, 2]), -3.0..3.0, &[0.0], 1e-3),
            w in testing::tensor(Just(vec![3]), -1.0..1.0),
            one in testing::tensor(Just(vec![1]), -1.0..1.0),
        ) {
            for slopes in [w, one] {
                let inputs = [x.clone(), slopes];
                check_grads(|v| v[0].prelu(v[1]), &inputs)?;
                check_gradgrads(|v| v[0].prelu(v[1]), &inputs)?;
            }
        }
    }

    #[test]
    #[should_panic(
        expected = "prelu: input of shape [2, 4] must have 3 channels on axis 1 (weight [3])"
    )]
    fn prelu_panics_on_a_channel_mismatch() {
        let g = Graph::<f64>::new();
        g.var(Tensor::zeros(&[2, 4]))
            .prelu(g.var(Tensor::zeros(&[3])));
    }
}
