//! Values, gradients and second derivatives at the edges — zeros, kinks, ties, clamp bounds,
//! zero variance, NaN, ±40 saturation — against PyTorch.
//!
//! Every expected number comes from PyTorch 2.15 (CPU, float64): for an op `f`, input `x`
//! and weights `w1`, `w2` (ones unless given),
//!
//! ```python
//! y = f(x)
//! g, = torch.autograd.grad((w1 * y).sum(), x, create_graph=True)
//! gg, = torch.autograd.grad((w2 * g).sum(), x, materialize_grads=True)  # 0 if g is constant
//! ```
//!
//! Where ferrograd deliberately differs from PyTorch the test says so and why.

use ferrograd_autograd::{Graph, Tensor, Var};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

type Op = for<'g> fn(Var<'g, f64>) -> Var<'g, f64>;

/// `(y, g, gg)` of `f` at `x`, computed as in the module doc.
fn derivatives(
    f: Op,
    x: &[f64],
    w1: Option<&[f64]>,
    w2: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let graph = Graph::<f64>::new();
    let xv = graph.var(Tensor::from_vec(x.to_vec(), &[x.len()]));
    let y = f(xv);
    let seed = |w: Option<&[f64]>, v: Var<'_, f64>| match w {
        Some(w) => Tensor::from_vec(w.to_vec(), &v.shape()),
        None => Tensor::ones(&v.shape()),
    };
    let g = graph.grad_with(&[y], &[seed(w1, y)], &[xv], true)[0].expect("y depends on x");
    let gg = if g.requires_grad() {
        graph.grad_with(&[g], &[seed(w2, g)], &[xv], false)[0]
            .map_or_else(|| vec![0.0; x.len()], |gg| gg.value().to_vec())
    } else {
        vec![0.0; x.len()] // the gradient is constant in x
    };
    (y.value().to_vec(), g.value().to_vec(), gg)
}

/// Equal as IEEE values (NaN matches NaN, ±0 match), or within a relative 1e-10.
#[track_caller]
fn assert_matches(what: &str, got: &[f64], want: &[f64]) {
    let same = |a: f64, b: f64| {
        (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-10 * a.abs().max(b.abs())
    };
    assert!(
        got.len() == want.len() && got.iter().zip(want).all(|(&a, &b)| same(a, b)),
        "{what}: got {got:?}, PyTorch gives {want:?}"
    );
}

/// Checks `f` at `x` against PyTorch's `y`, `g` and `gg`.
#[track_caller]
fn check(name: &str, f: Op, x: &[f64], want: [&[f64]; 3]) {
    check_weighted(name, f, x, None, None, want);
}

#[track_caller]
fn check_weighted(
    name: &str,
    f: Op,
    x: &[f64],
    w1: Option<&[f64]>,
    w2: Option<&[f64]>,
    [y, g, gg]: [&[f64]; 3],
) {
    let (gy, gg1, gg2) = derivatives(f, x, w1, w2);
    assert_matches(&format!("{name} value"), &gy, y);
    assert_matches(&format!("{name} gradient"), &gg1, g);
    assert_matches(&format!("{name} second derivative"), &gg2, gg);
}

#[test]
fn relu_propagates_nan_and_selects_zero_in_its_flat_region() {
    check(
        "relu",
        |x| x.relu(),
        &[NAN, -1.0, 0.0, 1.0],
        [&[NAN, 0.0, 0.0, 1.0], &[1.0, 0.0, 0.0, 1.0], &[0.0; 4]],
    );
    // sqrt'(0) = ∞ arrives where relu is flat: the gradient is 0, not ∞·0 = NaN.
    check(
        "relu().sqrt()",
        |x| x.relu().sqrt(),
        &[-1.0, 0.0, 1.0],
        [&[0.0, 0.0, 1.0], &[0.0, 0.0, 0.5], &[0.0, 0.0, -0.25]],
    );
    // The second derivative of relu(x)^1.5 at -1 passes 0·∞ = NaN through relu's rule.
    check(
        "relu().powf(1.5)",
        |x| x.relu().powf(1.5),
        &[-1.0, 0.0, 1.0],
        [&[0.0, 0.0, 1.0], &[0.0, 0.0, 1.5], &[0.0, 0.0, 0.75]],
    );
}

#[test]
fn leaky_relu_and_elu_follow_pytorch_at_zero_and_nan() {
    check(
        "leaky_relu(0.1)",
        |x| x.leaky_relu(0.1),
        &[NAN, -1.0, 0.0, 1.0],
        [&[NAN, -0.1, 0.0, 1.0], &[0.1, 0.1, 0.1, 1.0], &[0.0; 4]],
    );
    // elu'(0) = α, but PyTorch's second derivative at 0 is 0 (the x < 0 branch only).
    check(
        "elu(1.3)",
        |x| x.elu(1.3),
        &[NAN, -1.0, 0.0, 1.0],
        [
            &[NAN, -0.8217567264771249, 0.0, 1.0],
            &[1.0, 0.47824327352287505, 1.3, 1.0],
            &[0.0, 0.47824327352287505, 0.0, 0.0],
        ],
    );
}

#[test]
fn leaky_relu_with_zero_slope_selects_zero_like_relu() {
    // Deliberate difference: PyTorch multiplies by the slope, so ∞·0 gives NaN here.
    let (_, g, _) = derivatives(|x| x.leaky_relu(0.0).sqrt(), &[-1.0, 0.0, 1.0], None, None);
    assert_matches("leaky_relu(0).sqrt() gradient", &g, &[0.0, 0.0, 0.5]);
}

#[test]
fn clamp_propagates_nan_and_stops_the_gradient_at_its_bounds() {
    check(
        "clamp(-1, 1)",
        |x| x.clamp(-1.0, 1.0),
        &[NAN, -2.0, -1.0, 0.0, 1.0, 2.0],
        [
            &[NAN, -1.0, -1.0, 0.0, 1.0, 1.0],
            &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
            &[0.0; 6],
        ],
    );
    check(
        "(clamp(-1, 1) + 1).sqrt()",
        |x| (x.clamp(-1.0, 1.0) + 1.0).sqrt(),
        &[-2.0, -1.0, 0.0],
        [&[0.0, 0.0, 1.0], &[0.0, 0.0, 0.5], &[0.0, 0.0, -0.25]],
    );
}

#[test]
fn one_sided_clamp_passes_the_gradient_at_infinity() {
    let (y, g, _) = derivatives(
        |x| x.clamp(f64::NEG_INFINITY, 1.0),
        &[-INF, 0.0, 1.0],
        None,
        None,
    );
    assert_matches("clamp(-inf, 1) value", &y, &[-INF, 0.0, 1.0]);
    assert_matches("clamp(-inf, 1) gradient", &g, &[1.0, 1.0, 0.0]);
}

#[test]
fn abs_has_zero_gradient_at_zero_and_nan() {
    check(
        "abs",
        |x| x.abs(),
        &[NAN, -1.0, 0.0, 1.0],
        [&[NAN, 1.0, 0.0, 1.0], &[0.0, -1.0, 0.0, 1.0], &[0.0; 4]],
    );
    // Deliberate difference: PyTorch multiplies by sgn(0) = 0 and gives ∞·0 = NaN.
    let (_, g, _) = derivatives(|x| x.abs().sqrt(), &[0.0, 1.0], None, None);
    assert_matches("abs().sqrt() gradient", &g, &[0.0, 0.5]);
}

#[test]
fn sqrt_keeps_ieee_infinities_at_zero() {
    check(
        "sqrt",
        |x| x.sqrt(),
        &[0.0, 1.0],
        [&[0.0, 1.0], &[INF, 0.5], &[-INF, -0.25]],
    );
}

#[test]
fn smooth_activations_are_finite_and_right_at_plus_minus_40() {
    let x = [-40.0, 0.0, 40.0];
    let cases: [(&str, Op, [&[f64]; 3]); 8] = [
        (
            "sigmoid",
            |x| x.sigmoid(),
            [
                &[4.248354255291589e-18, 0.5, 1.0],
                &[4.248354255291589e-18, 0.25, 0.0],
                &[4.248354255291589e-18, 0.0, 0.0],
            ],
        ),
        (
            "tanh",
            |x| x.tanh(),
            [&[-1.0, 0.0, 1.0], &[0.0, 1.0, 0.0], &[0.0, 0.0, 0.0]],
        ),
        (
            "softplus",
            |x| x.softplus(),
            [
                &[4.248354255291589e-18, std::f64::consts::LN_2, 40.0],
                &[4.248354255291589e-18, 0.5, 1.0],
                &[4.248354255291589e-18, 0.25, 0.0],
            ],
        ),
        (
            "silu",
            |x| x.silu(),
            [
                &[-1.6993417021166355e-16, 0.0, 40.0],
                &[-1.6568581595637197e-16, 0.5, 1.0],
                &[-1.6143746170108038e-16, 0.5, 0.0],
            ],
        ),
        (
            "gelu",
            |x| x.gelu(),
            [
                &[0.0, 0.0, 40.0],
                &[0.0, 0.5, 1.0],
                &[0.0, 0.7978845608028654, 0.0],
            ],
        ),
        (
            "gelu_tanh",
            |x| x.gelu_tanh(),
            [
                &[0.0, 0.0, 40.0],
                &[0.0, 0.5, 1.0],
                &[0.0, 0.7978845608028654, 0.0],
            ],
        ),
        (
            "elu(1.3)",
            |x| x.elu(1.3),
            [
                &[-1.3, 0.0, 40.0],
                &[5.522860531879066e-18, 1.3, 1.0],
                &[5.522860531879066e-18, 0.0, 0.0],
            ],
        ),
        (
            "softsign",
            |x| x.softsign(),
            [
                &[-0.975609756097561, 0.0, 0.975609756097561],
                &[0.0005948839976204663, 1.0, 0.0005948839976204663],
                &[2.9018731591242243e-05, 0.0, -2.9018731591242243e-05],
            ],
        ),
    ];
    for (name, f, want) in cases {
        check(name, f, &x, want);
    }
}

#[test]
fn softmax_family_is_finite_and_right_at_plus_minus_40() {
    let (x, w1, w2) = ([-40.0, 0.0, 40.0], [0.3, -1.2, 0.7], [1.1, 0.4, -0.6]);
    check_weighted(
        "softmax",
        |x| x.softmax(0),
        &x,
        Some(&w1),
        Some(&w2),
        [
            &[1.804851387845415e-35, 4.248354255291589e-18, 1.0],
            &[-7.21940555138166e-36, -8.071873085054019e-18, 0.0],
            &[-1.2272989437348822e-35, -8.071873085054019e-18, 0.0],
        ],
    );
    check_weighted(
        "log_softmax",
        |x| x.log_softmax(0),
        &x,
        Some(&w1),
        Some(&w2),
        [
            &[-80.0, -40.0, 0.0],
            &[0.3, -1.2, 0.8999999999999999],
            &[6.136494718674411e-36, 8.496708510583176e-19, 0.0],
        ],
    );
    check_weighted(
        "logsumexp",
        |x| x.logsumexp(),
        &x,
        None,
        Some(&w2),
        [
            &[40.0],
            &[1.8048513878454153e-35, 4.248354255291589e-18, 1.0],
            &[3.068247359337206e-35, 4.248354255291589e-18, 0.0],
        ],
    );
}

#[test]
fn softmax_of_a_lane_with_nan_inf_or_only_neg_inf_is_nan() {
    let g = Graph::<f64>::new();
    for lane in [[NAN, 1.0], [INF, 1.0], [-INF, -INF]] {
        let x = g.var(Tensor::from_vec(lane.to_vec(), &[2]));
        for (name, y) in [("softmax", x.softmax(0)), ("log_softmax", x.log_softmax(0))] {
            assert!(
                y.value().to_vec().iter().all(|v| v.is_nan()),
                "{name} of {lane:?} gives {:?}; PyTorch gives [nan, nan]",
                y.value().to_vec()
            );
        }
    }
    let x = g.var(Tensor::from_vec(vec![NAN, 1.0], &[2]));
    assert!(x.logsumexp().item().is_nan());
}

#[test]
fn max_and_min_split_ties_and_propagate_nan() {
    check(
        "max()",
        |x| x.max(),
        &[1.0, 3.0, 3.0],
        [&[3.0], &[0.0, 0.5, 0.5], &[0.0; 3]],
    );
    check(
        "max_axes([0]) (torch.amax)",
        |x| x.max_axes(&[0], false),
        &[1.0, 3.0, 3.0],
        [&[3.0], &[0.0, 0.5, 0.5], &[0.0; 3]],
    );
    check(
        "min()",
        |x| x.min(),
        &[2.0, 1.0, 1.0, 1.0],
        [&[1.0], &[0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0], &[0.0; 4]],
    );
    check(
        "max() with NaN",
        |x| x.max(),
        &[1.0, NAN, 3.0],
        [&[NAN], &[0.0, 1.0, 0.0], &[0.0; 3]],
    );
    check(
        "min() with NaN",
        |x| x.min(),
        &[1.0, NAN, 3.0],
        [&[NAN], &[0.0, 1.0, 0.0], &[0.0; 3]],
    );
    // An infinite gradient reaching the elements that are not the maximum selects 0 there.
    check(
        "max().sqrt()",
        |x| x.max().sqrt(),
        &[0.0, -1.0, -2.0],
        [&[0.0], &[INF, 0.0, 0.0], &[-INF, 0.0, 0.0]],
    );
}

#[test]
fn max_and_min_per_axis_propagate_nan() {
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::from_vec(
        vec![NAN, 1.0, 2.0, 5.0, 3.0, NAN],
        &[2, 3],
    ));
    for m in [x.max_axes(&[1], false), x.min_axes(&[1], false)] {
        assert!(m.value().to_vec().iter().all(|v| v.is_nan()), "{m:?}");
    }
    let m = x.max_axes(&[0], false).value().to_vec();
    assert!(m[0].is_nan() && m[1] == 3.0 && m[2].is_nan(), "{m:?}");
}

#[test]
fn global_max_pool2d_propagates_nan() {
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::from_vec(vec![1.0, NAN, 3.0, 2.0], &[1, 1, 2, 2]));
    assert!(x.global_max_pool2d().item().is_nan());
}

#[test]
fn argmax_and_argmin_return_the_first_nan() {
    // torch.tensor([1., nan, 3., nan]).argmax() and .argmin() are both 1.
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::from_vec(vec![1.0, NAN, 3.0, NAN], &[4]));
    assert_eq!(x.argmax(0).into_raw_vec_and_offset().0, vec![1]);
    assert_eq!(x.argmin(0).into_raw_vec_and_offset().0, vec![1]);
    let x = g.var(Tensor::from_vec(
        vec![3.0, 1.0, 2.0, NAN, 5.0, 0.0],
        &[2, 3],
    ));
    assert_eq!(x.argmax(1).into_raw_vec_and_offset().0, vec![0, 0]);
    assert_eq!(x.argmin(1).into_raw_vec_and_offset().0, vec![1, 0]);
}

#[test]
fn maximum_and_minimum_propagate_nan_and_split_ties() {
    let a = [NAN, 1.0, 2.0, 2.0, 1.0, NAN];
    let b = [1.0, NAN, 2.0, 1.0, 2.0, NAN];
    type Op2 = for<'g> fn(Var<'g, f64>, Var<'g, f64>) -> Var<'g, f64>;
    let cases: [(&str, Op2, [[f64; 6]; 3]); 2] = [
        (
            "maximum",
            |a, b| a.maximum(b),
            [
                [NAN, NAN, 2.0, 2.0, 2.0, NAN],
                [1.0, 1.0, 0.5, 1.0, 0.0, 1.0],
                [1.0, 1.0, 0.5, 0.0, 1.0, 1.0],
            ],
        ),
        (
            "minimum",
            |a, b| a.minimum(b),
            [
                [NAN, NAN, 2.0, 1.0, 1.0, NAN],
                [1.0, 1.0, 0.5, 0.0, 1.0, 1.0],
                [1.0, 1.0, 0.5, 1.0, 0.0, 1.0],
            ],
        ),
    ];
    for (name, f, [y, ga, gb]) in cases {
        let g = Graph::<f64>::new();
        let (av, bv) = (
            g.var(Tensor::from_vec(a.to_vec(), &[6])),
            g.var(Tensor::from_vec(b.to_vec(), &[6])),
        );
        let out = f(av, bv);
        out.sum().backward();
        assert_matches(&format!("{name} value"), &out.value().to_vec(), &y);
        assert_matches(
            &format!("{name} lhs gradient"),
            &av.grad().unwrap().to_vec(),
            &ga,
        );
        assert_matches(
            &format!("{name} rhs gradient"),
            &bv.grad().unwrap().to_vec(),
            &gb,
        );
    }
    // A tie takes half of an infinite gradient; the losing side gets 0, not ∞·0.
    let g = Graph::<f64>::new();
    let (a, b) = (
        g.var(Tensor::from_vec(vec![0.0, 1.0], &[2])),
        g.var(Tensor::from_vec(vec![0.0, 0.0], &[2])),
    );
    a.maximum(b).sqrt().sum().backward();
    assert_matches(
        "maximum().sqrt() lhs",
        &a.grad().unwrap().to_vec(),
        &[INF, 0.5],
    );
    assert_matches(
        "maximum().sqrt() rhs",
        &b.grad().unwrap().to_vec(),
        &[INF, 0.0],
    );
}

#[test]
fn std_of_identical_samples_has_zero_gradient_and_hessian() {
    check(
        "std",
        |x| x.std(),
        &[2.0, 2.0, 2.0],
        [&[0.0], &[0.0; 3], &[0.0; 3]],
    );
    check_weighted(
        "std_axes([1], 0) of [[2, 2], [1, 3]]",
        |x| x.reshape(&[2, 2]).std_axes(&[1], 0, false),
        &[2.0, 2.0, 1.0, 3.0],
        None,
        Some(&[1.0, 0.5, -1.0, 2.0]),
        [&[0.0, 1.0], &[0.0, 0.0, -0.5, 0.5], &[0.0; 4]],
    );
    // Away from the edge, std and var agree with PyTorch to second order.
    check_weighted(
        "std",
        |x| x.std(),
        &[1.0, 2.0, 4.0],
        None,
        Some(&[1.0, 0.5, -1.0]),
        [
            &[1.5275252316519465],
            &[
                -0.43643578047198484,
                -0.10910894511799625,
                0.5455447255899809,
            ],
            &[
                -0.023380488239570785,
                0.03507073235935587,
                -0.011690244119785198,
            ],
        ],
    );
    check_weighted(
        "var_axes([], 0)",
        |x| x.var_axes(&[], 0, false),
        &[1.0, 2.0, 4.0],
        None,
        Some(&[1.0, 0.5, -1.0]),
        [
            &[1.5555555555555554],
            &[-0.888888888888889, -0.22222222222222232, 1.111111111111111],
            &[0.5555555555555555, 0.2222222222222222, -0.7777777777777778],
        ],
    );
}

#[test]
fn std_of_a_constant_lane_is_exactly_zero_even_when_its_mean_rounds() {
    // 0.1 + 0.1 + 0.1 = 0.30000000000000004, so a centring by the mean alone leaves a
    // residue (PyTorch's full-reduction std gives 1.4e-17 and a gradient of -1/3 here).
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::full(&[3], 0.1));
    let s = x.std();
    assert_eq!(s.item(), 0.0);
    s.backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; 3]);
}

#[test]
fn var_follows_pytorch_for_empty_input_and_too_large_correction() {
    // torch: tensor([]).var() = nan, tensor([1., 2.]).var(correction=2) = inf,
    // tensor([1., 1.]).var(correction=2) = nan, tensor([1., 2.]).var(correction=3) = inf,
    // tensor([5.]).var() = nan.
    let g = Graph::<f64>::new();
    let var = |v: Vec<f64>, correction: usize| {
        let n = v.len();
        g.var(Tensor::from_vec(v, &[n]))
            .var_axes(&[], correction, false)
            .item()
    };
    assert!(var(vec![], 1).is_nan());
    assert!(var(vec![], 0).is_nan());
    assert_eq!(var(vec![1.0, 2.0], 2), INF);
    assert!(var(vec![1.0, 1.0], 2).is_nan());
    assert_eq!(var(vec![1.0, 2.0], 3), INF);
    assert!(var(vec![5.0], 1).is_nan());
    // An empty lane along the reduced axis: nan per row, as torch.zeros(2, 0).var(1).
    let rows = g.var(Tensor::zeros(&[2, 0])).var_axes(&[1], 1, false);
    assert_eq!(rows.shape(), vec![2]);
    assert!(rows.value().to_vec().iter().all(|v| v.is_nan()));
}

#[test]
fn pow_follows_pytorch_at_a_zero_base() {
    // (x, e) -> (x^e, d/dx, d/de) from torch.pow with both inputs requiring grad.
    let cases = [
        (0.0, 0.0, [1.0, 0.0, 0.0]),
        (0.0, 1.0, [0.0, 1.0, 0.0]),
        (0.0, 2.0, [0.0, 0.0, 0.0]),
        (0.0, -1.0, [INF, -INF, -INF]),
        (0.0, 0.5, [0.0, INF, 0.0]),
        (2.0, 0.0, [1.0, 0.0, 2f64.ln()]),
    ];
    for (x0, e0, want) in cases {
        let g = Graph::<f64>::new();
        let (x, e) = (g.var(Tensor::scalar(x0)), g.var(Tensor::scalar(e0)));
        let y = x.pow(e);
        let grads = g.grad(&[y], &[x, e], false);
        let got = [y.item(), grads[0].unwrap().item(), grads[1].unwrap().item()];
        assert_matches(&format!("pow({x0}, {e0})"), &got, &want);
    }
}

#[test]
fn pow_second_derivatives_match_pytorch_where_it_is_finite() {
    // Rows of the Hessian of x^e, [d²/dx², d²/dxde] and [d²/dedx, d²/de²], from PyTorch.
    // At a zero base PyTorch's second row is NaN (0·ln 0); ferrograd's is finite there.
    let cases = [
        (0.0, 1.0, [0.0, 1.0], None),
        (0.0, 2.0, [2.0, 0.0], None),
        (2.0, 0.0, [0.0, 0.5], Some([0.5, 0.4804530139182014])),
    ];
    for (x0, e0, dx, de) in cases {
        let g = Graph::<f64>::new();
        let (x, e) = (g.var(Tensor::scalar(x0)), g.var(Tensor::scalar(e0)));
        let first = g.grad(&[x.pow(e)], &[x, e], true);
        let row = |i: usize| {
            g.grad(&[first[i].unwrap()], &[x, e], false)
                .iter()
                .map(|d| d.map_or(0.0, |d| d.item()))
                .collect::<Vec<_>>()
        };
        assert_matches(&format!("pow({x0}, {e0}) Hessian row 0"), &row(0), &dx);
        match de {
            Some(de) => assert_matches(&format!("pow({x0}, {e0}) Hessian row 1"), &row(1), &de),
            None => assert!(row(1).iter().all(|v| v.is_finite()), "{:?}", row(1)),
        }
    }
}

#[test]
#[should_panic(
    expected = "avg_pool2d: padding Size2(2, 2) must be at most half the kernel Size2(3, 3)"
)]
fn avg_pool2d_panics_on_padding_over_half_the_kernel() {
    // torch: "pad should be at most half of effective kernel size, but got pad=2,
    // kernel_size=3 and dilation=1".
    Graph::<f32>::new()
        .var(Tensor::zeros(&[1, 1, 4, 4]))
        .avg_pool2d(3, 1, 2);
}
