//! Optimizer trajectories against their formulas, written out here element by element in
//! plain f64 (the formulas of the PyTorch documentation for each `torch.optim` class), plus
//! convergence, regularisation, groups, state and hyperparameter checks.

use ferrograd_autograd::{Graph, Param, Tensor};
use ferrograd_optim::*;

/// A fixed gradient sequence for a two-element parameter.
const GRADS: [[f64; 2]; 4] = [[0.5, -1.0], [0.2, 0.3], [-0.4, 0.1], [1.0, -2.0]];
const W0: [f64; 2] = [1.0, -0.5];

/// Runs `rule` on a parameter starting at `W0` with the gradients `GRADS`.
fn run<R: Rule<f64>>(rule: R, penalty: Penalty) -> Vec<[f64; 2]> {
    let p = Param::new(Tensor::from_vec(W0.to_vec(), &[2]));
    let mut opt = Optimizer::new(vec![p.clone()], rule).penalty(penalty);
    GRADS
        .iter()
        .map(|g| {
            p.set_grad(Some(Tensor::from_vec(g.to_vec(), &[2])));
            opt.step();
            let v = p.value().to_vec();
            [v[0], v[1]]
        })
        .collect()
}

/// The reference: `update(t, w, g, state)` per element, written from the formula.
fn reference(mut update: impl FnMut(usize, usize, f64, f64) -> f64) -> Vec<[f64; 2]> {
    let mut w = W0;
    GRADS
        .iter()
        .enumerate()
        .map(|(t, g)| {
            for i in 0..2 {
                w[i] = update(t + 1, i, w[i], g[i]);
            }
            w
        })
        .collect()
}

fn assert_close(got: &[[f64; 2]], want: &[[f64; 2]]) {
    for (step, (a, b)) in got.iter().zip(want).enumerate() {
        for i in 0..2 {
            assert!(
                (a[i] - b[i]).abs() < 1e-12,
                "step {} element {i}: {} vs {}",
                step + 1,
                a[i],
                b[i]
            );
        }
    }
}

#[test]
fn sgd_with_momentum_dampening_and_nesterov_follows_its_formula() {
    for (momentum, dampening, nesterov) in [
        (0.0, 0.0, false),
        (0.9, 0.0, false),
        (0.9, 0.3, false),
        (0.8, 0.0, true),
    ] {
        let mut rule = Sgd::new(0.1);
        if momentum > 0.0 {
            rule = rule
                .momentum(momentum)
                .dampening(dampening)
                .nesterov(nesterov);
        }
        let mut b = [0.0; 2];
        let want = reference(|t, i, w, g| {
            if momentum == 0.0 {
                return w - 0.1 * g;
            }
            // torch.optim.SGD: b = g at t = 1, else momentum·b + (1 − dampening)·g.
            b[i] = if t == 1 {
                g
            } else {
                momentum * b[i] + (1.0 - dampening) * g
            };
            let d = if nesterov { g + momentum * b[i] } else { b[i] };
            w - 0.1 * d
        });
        assert_close(&run(rule, Penalty::none()), &want);
    }
    // Two steps by hand: momentum 0.9, lr 0.1, g = 0.5 then 0.2:
    // b₁ = 0.5, w₁ = 1 − 0.05 = 0.95; b₂ = 0.45 + 0.2 = 0.65, w₂ = 0.95 − 0.065 = 0.885.
    let w = run(Sgd::new(0.1).momentum(0.9), Penalty::none());
    assert!((w[1][0] - 0.885).abs() < 1e-12);
}

#[test]
fn adagrad_follows_its_formula() {
    let mut s = [0.0; 2];
    let want = reference(|t, i, w, g| {
        // torch.optim.Adagrad: clr = lr / (1 + (t − 1)·lr_decay); s += g²; w −= clr·g / (√s + eps)
        let clr = 0.5 / (1.0 + (t - 1) as f64 * 0.1);
        s[i] += g * g;
        w - clr * g / (s[i].sqrt() + 1e-10)
    });
    assert_close(
        &run(Adagrad::new(0.5).lr_decay(0.1), Penalty::none()),
        &want,
    );
}

#[test]
fn rmsprop_plain_centered_and_momentum_follow_their_formula() {
    for (centered, momentum) in [(false, 0.0), (true, 0.0), (true, 0.5)] {
        let (mut v, mut gbar, mut b) = ([0.0; 2], [0.0; 2], [0.0; 2]);
        let want = reference(|_, i, w, g| {
            // torch.optim.RMSprop with alpha 0.9, eps 1e-8.
            v[i] = 0.9 * v[i] + 0.1 * g * g;
            let d = if centered {
                gbar[i] = 0.9 * gbar[i] + 0.1 * g;
                (v[i] - gbar[i] * gbar[i]).sqrt() + 1e-8
            } else {
                v[i].sqrt() + 1e-8
            };
            if momentum > 0.0 {
                b[i] = momentum * b[i] + g / d;
                w - 0.01 * b[i]
            } else {
                w - 0.01 * g / d
            }
        });
        let mut rule = RmsProp::new(0.01).alpha(0.9).centered(centered);
        if momentum > 0.0 {
            rule = rule.momentum(momentum);
        }
        assert_close(&run(rule, Penalty::none()), &want);
    }
}

/// torch.optim.Adam's update for one element.
fn adam_reference(amsgrad: bool, decoupled_l2: f64) -> Vec<[f64; 2]> {
    let (mut m, mut v, mut vmax) = ([0.0f64; 2], [0.0f64; 2], [0.0f64; 2]);
    let (lr, b1, b2, eps) = (0.01, 0.8, 0.99, 1e-8);
    reference(|t, i, w, g| {
        let w = w - lr * decoupled_l2 * w; // AdamW: w·(1 − lr·wd) first
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        vmax[i] = vmax[i].max(v[i]);
        let second = if amsgrad { vmax[i] } else { v[i] };
        let (bc1, bc2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
        w - lr / bc1 * m[i] / (second.sqrt() / bc2.sqrt() + eps)
    })
}

#[test]
fn adam_amsgrad_and_adamw_follow_their_formulas() {
    assert_close(
        &run(Adam::new(0.01).betas(0.8, 0.99), Penalty::none()),
        &adam_reference(false, 0.0),
    );
    assert_close(
        &run(
            Adam::new(0.01).betas(0.8, 0.99).amsgrad(true),
            Penalty::none(),
        ),
        &adam_reference(true, 0.0),
    );
    assert_close(
        &run(
            Adam::adamw(0.01).betas(0.8, 0.99),
            Penalty::l2(0.1).decoupled(),
        ),
        &adam_reference(false, 0.1),
    );
}

#[test]
fn coupled_penalties_add_their_gradient_exactly() {
    // Coupled: g' = g + l2·w + l1·sign(w), then plain SGD.
    for penalty in [
        Penalty::l2(0.1),
        Penalty::l1(0.05),
        Penalty::elastic_net(0.05, 0.1),
    ] {
        let want = reference(|_, _, w, g| {
            let sign = if w > 0.0 {
                1.0
            } else if w < 0.0 {
                -1.0
            } else {
                0.0
            };
            w - 0.1 * (g + penalty.l2 * w + penalty.l1 * sign)
        });
        assert_close(&run(Sgd::new(0.1), penalty), &want);
    }
    // Decoupled with SGD: w ← w − lr·(l2·w + l1·sign(w)), then w ← w − lr·g.
    let want = reference(|_, _, w, g| {
        let sign = if w > 0.0 {
            1.0
        } else if w < 0.0 {
            -1.0
        } else {
            0.0
        };
        let w = w - 0.1 * (0.2 * w + 0.01 * sign);
        w - 0.1 * g
    });
    assert_close(
        &run(Sgd::new(0.1), Penalty::elastic_net(0.01, 0.2).decoupled()),
        &want,
    );
}

/// Minimises the convex quadratic `Σ aᵢ(wᵢ − cᵢ)²` and returns the final distance to `c`.
fn quadratic<R: Rule<f64>>(rule: R, steps: usize) -> f64 {
    let a = Tensor::from_vec(vec![1.0, 4.0, 0.5], &[3]);
    let c = Tensor::from_vec(vec![2.0, -1.0, 0.5], &[3]);
    let w = Param::new(Tensor::zeros(&[3]));
    let mut opt = Optimizer::new(vec![w.clone()], rule);
    for _ in 0..steps {
        let g = Graph::new();
        ((g.param(&w) - g.constant(c.clone())).square() * g.constant(a.clone()))
            .sum()
            .backward();
        drop(g);
        opt.step();
        opt.zero_grad();
    }
    let v = w.value().to_vec();
    v.iter()
        .zip(c.to_vec())
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn every_optimizer_converges_on_a_convex_quadratic() {
    assert!(quadratic(Sgd::new(0.1), 300) < 1e-6);
    assert!(quadratic(Sgd::new(0.05).momentum(0.9).nesterov(true), 300) < 1e-6);
    assert!(quadratic(Adagrad::new(0.5), 2000) < 1e-4);
    assert!(quadratic(RmsProp::new(0.01).centered(true), 2000) < 1e-2);
    assert!(quadratic(Adam::new(0.05), 2000) < 1e-4);
    assert!(quadratic(Adam::new(0.05).amsgrad(true), 2000) < 1e-4);
}

#[test]
fn groups_have_their_own_learning_rate_and_penalty() {
    let (a, b) = (
        Param::new(Tensor::from_vec(vec![1.0f64], &[1])),
        Param::new(Tensor::from_vec(vec![1.0f64], &[1])),
    );
    let groups = vec![
        ParamGroup::new(vec![a.clone()]).lr_factor(0.5),
        ParamGroup::new(vec![b.clone()]).penalty(Penalty::none()),
    ];
    let mut opt = Optimizer::with_groups(groups, Sgd::new(0.2)).penalty(Penalty::l2(1.0));
    for p in [&a, &b] {
        p.set_grad(Some(Tensor::from_vec(vec![1.0], &[1])));
    }
    opt.step();
    // a: lr 0.1, gradient 1 + 1·w = 2 → 0.8. b: lr 0.2, no penalty → 0.8.
    assert!((a.value().item() - 0.8).abs() < 1e-12);
    assert!((b.value().item() - 0.8).abs() < 1e-12);
    // A schedule's set_lr scales both groups.
    opt.set_lr(0.4);
    opt.step();
    assert!((a.value().item() - (0.8 - 0.2 * 1.8)).abs() < 1e-12);
}

#[test]
fn frozen_parameters_and_missing_gradients_are_skipped() {
    let (p, q) = (
        Param::new(Tensor::from_vec(vec![1.0f32], &[1])),
        Param::new(Tensor::from_vec(vec![1.0f32], &[1])),
    );
    let mut opt = Optimizer::new(vec![p.clone(), q.clone()], Sgd::new(1.0));
    q.set_grad(Some(Tensor::from_vec(vec![0.5], &[1])));
    // p has no gradient yet: skipped (as PyTorch) and reported.
    let report = opt.try_step().unwrap();
    assert_eq!(
        report,
        StepReport {
            updated: 1,
            without_gradient: vec![0]
        }
    );
    assert_eq!((p.value().item(), q.value().item()), (1.0, 0.5));
    // A frozen parameter is skipped even with a gradient, and is not "without gradient".
    p.set_grad(Some(Tensor::from_vec(vec![1.0], &[1])));
    p.set_requires_grad(false);
    assert_eq!(
        opt.try_step().unwrap(),
        StepReport {
            updated: 1,
            without_gradient: vec![]
        }
    );
    assert_eq!((p.value().item(), q.value().item()), (1.0, 0.0));
    assert_eq!(opt.steps(), 2);
}

#[test]
fn a_step_without_any_gradient_is_an_error_naming_the_optimizer() {
    let p = Param::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    let mut opt = Optimizer::new(vec![p.clone()], Adam::new(0.1));
    let err = opt.try_step().unwrap_err();
    assert_eq!(
        err,
        OptimizerError::NoGradient {
            optimizer: "Adam",
            params: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "Adam: none of its 1 trainable parameters has a gradient; was backward called on a loss of the model whose parameters this optimizer holds?"
    );
    assert_eq!(opt.steps(), 0, "a failed step is not counted");
    assert_eq!(p.value().to_vec(), vec![1.0, 2.0]);
}

#[test]
#[should_panic(
    expected = "Sgd: none of its 2 trainable parameters has a gradient; was backward called on a loss of the model whose parameters this optimizer holds?"
)]
fn step_panics_when_the_optimizer_holds_another_models_parameters() {
    let w = Param::new(Tensor::from_vec(vec![1.0f64], &[1]));
    let other = [
        Param::new(Tensor::from_vec(vec![1.0f64], &[1])),
        Param::new(Tensor::from_vec(vec![1.0f64], &[1])),
    ];
    let mut opt = Optimizer::new(other.to_vec(), Sgd::new(0.1));
    let g = Graph::new();
    g.param(&w).square().sum().backward();
    drop(g);
    opt.step();
}

#[test]
fn an_optimizer_with_every_parameter_frozen_does_nothing_without_error() {
    let p = Param::new(Tensor::from_vec(vec![1.0f32], &[1]));
    p.set_requires_grad(false);
    let mut opt = Optimizer::new(vec![p.clone()], Sgd::new(1.0));
    assert_eq!(opt.try_step().unwrap(), StepReport::default());
    let mut empty = Optimizer::<Sgd, f32>::new(vec![], Sgd::new(1.0));
    assert_eq!(empty.try_step().unwrap(), StepReport::default());
}

#[test]
fn saved_state_resumes_exactly() {
    let make = || Param::new(Tensor::from_vec(W0.to_vec(), &[2]));
    let (p, q) = (make(), make());
    let mut a = Optimizer::new(vec![p.clone()], Adam::new(0.01));
    let mut b = Optimizer::new(vec![q.clone()], Adam::new(0.5));
    let feed = |p: &Param<f64>, g: &[f64; 2]| p.set_grad(Some(Tensor::from_vec(g.to_vec(), &[2])));
    for g in &GRADS[..2] {
        feed(&p, g);
        a.step();
    }
    b.load_state(a.state()).unwrap();
    q.set_value(p.value());
    for g in &GRADS[2..] {
        feed(&p, g);
        a.step();
        feed(&q, g);
        b.step();
    }
    assert_eq!(p.value(), q.value());
    assert_eq!(b.steps(), 4);

    let mut wrong = Optimizer::new(vec![make(), make()], Adam::new(0.01));
    assert_eq!(
        wrong.load_state(a.state()).unwrap_err().to_string(),
        "Adam: the state holds 1 parameters, the optimizer has 2"
    );
}

/// An Adam optimizer over one `[2]` parameter, after one step (so it has buffers).
fn stepped_adam() -> Optimizer<Adam, f64> {
    let p = Param::new(Tensor::from_vec(W0.to_vec(), &[2]));
    let mut opt = Optimizer::new(vec![p.clone()], Adam::new(0.01));
    p.set_grad(Some(Tensor::from_vec(GRADS[0].to_vec(), &[2])));
    opt.step();
    opt
}

#[test]
fn load_state_rejects_a_non_finite_or_negative_lr_and_keeps_the_optimizer() {
    for (lr, shown) in [(f64::NAN, "NaN"), (f64::INFINITY, "inf"), (-0.5, "-0.5")] {
        let mut opt = stepped_adam();
        let before = opt.state();
        let mut state = opt.state();
        state.lr = lr;
        state.step = 9;
        assert_eq!(
            opt.load_state(state).unwrap_err().to_string(),
            format!("Adam: the state's lr must be a non-negative number, got {shown}")
        );
        assert_eq!(opt.state(), before);
    }
}

#[test]
fn a_loaded_step_count_of_any_size_steps_on_with_finite_weights() {
    // Found by the optimizer_state fuzz target: u64::MAX overflowed the next step's count,
    // and Adam's bias correction cast the count to i32, so 2^31 - 1 gave NaN weights.
    for step in [u64::MAX, i32::MAX as u64, 1 << 33] {
        let mut opt = stepped_adam();
        let mut state = opt.state();
        state.step = step;
        opt.load_state(state).unwrap();
        let p = opt.params().next().unwrap().clone();
        p.set_grad(Some(Tensor::from_vec(GRADS[1].to_vec(), &[2])));
        opt.step();
        assert!(
            p.value().to_vec().iter().all(|w| w.is_finite()),
            "step {step}"
        );
        assert_eq!(opt.state().step, step.saturating_add(1));
    }
}

#[test]
fn load_state_rejects_a_buffer_holding_nan_or_inf_naming_parameter_and_buffer() {
    let mut opt = stepped_adam();
    let before = opt.state();
    let mut state = opt.state();
    state.buffers[0][1] = Tensor::from_vec(vec![0.0, f64::NAN], &[2]);
    let err = opt.load_state(state).unwrap_err();
    assert_eq!(
        err,
        OptimizerError::StateNonFinite {
            optimizer: "Adam",
            index: 0,
            buffer: 1,
            kind: NonFiniteKind::NaN
        }
    );
    assert_eq!(
        err.to_string(),
        "Adam: state buffer 1 of parameter 0 holds NaN"
    );
    let mut state = opt.state();
    state.buffers[0][0] = Tensor::from_vec(vec![f64::NEG_INFINITY, 0.0], &[2]);
    assert_eq!(
        opt.load_state(state).unwrap_err().to_string(),
        "Adam: state buffer 0 of parameter 0 holds inf"
    );
    assert_eq!(opt.state(), before);
}

#[test]
fn load_state_names_a_buffer_of_the_wrong_shape() {
    let mut opt = stepped_adam();
    let mut state = opt.state();
    state.buffers[0][1] = Tensor::zeros(&[3]);
    assert_eq!(
        opt.load_state(state).unwrap_err().to_string(),
        "Adam: parameter 0 has shape [2], its state buffer [3]"
    );
}

#[test]
fn each_rule_keeps_only_the_buffers_its_configuration_needs() {
    fn buffers<R: Rule<f64>>(rule: R) -> usize {
        let p = Param::new(Tensor::from_vec(W0.to_vec(), &[2]));
        let mut opt = Optimizer::new(vec![p.clone()], rule);
        p.set_grad(Some(Tensor::from_vec(GRADS[0].to_vec(), &[2])));
        opt.step();
        let state = opt.state();
        assert!(state.buffers[0].iter().all(|b| b.shape() == [2]));
        assert_eq!(state.buffers[0].len(), opt.rule().state_len());
        state.buffers[0].len()
    }
    assert_eq!(buffers(Sgd::new(0.1)), 0);
    assert_eq!(buffers(Sgd::new(0.1).momentum(0.9)), 1);
    assert_eq!(buffers(Adagrad::new(0.1)), 1);
    assert_eq!(buffers(RmsProp::new(0.1)), 1);
    assert_eq!(buffers(RmsProp::new(0.1).centered(true)), 2);
    assert_eq!(buffers(RmsProp::new(0.1).momentum(0.5)), 2);
    assert_eq!(buffers(RmsProp::new(0.1).centered(true).momentum(0.5)), 3);
    assert_eq!(buffers(Adam::new(0.1)), 2);
    assert_eq!(buffers(Adam::new(0.1).amsgrad(true)), 3);
}

#[test]
fn load_state_rejects_another_number_of_buffers_naming_the_parameter() {
    let mut opt = stepped_adam();
    let before = opt.state();
    let mut amsgrad = Optimizer::new(
        vec![Param::new(Tensor::from_vec(W0.to_vec(), &[2]))],
        Adam::new(0.01).amsgrad(true),
    );
    let err = amsgrad.load_state(opt.state()).unwrap_err();
    assert_eq!(
        err,
        OptimizerError::StateBuffers {
            optimizer: "Adam",
            index: 0,
            buffers: 2,
            expected: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "Adam: the state holds 2 buffers for parameter 0, the optimizer keeps 3 (or none before its first update)"
    );
    let mut state = opt.state();
    state.buffers[0].push(Tensor::zeros(&[2]));
    assert_eq!(
        opt.load_state(state).unwrap_err().to_string(),
        "Adam: the state holds 3 buffers for parameter 0, the optimizer keeps 2 (or none before its first update)"
    );
    assert_eq!(opt.state(), before);
    // None (a parameter not yet updated) is accepted, and the next step starts afresh.
    let mut state = opt.state();
    state.buffers[0].clear();
    opt.load_state(state).unwrap();
    assert!(opt.state().buffers[0].is_empty());
}

#[test]
fn loaded_buffers_in_another_layout_are_read_by_index_not_by_memory_order() {
    // A [2, 3] parameter whose saved buffers are stored column-major: the update must use
    // each buffer element at its index, as for a row-major copy.
    let make = || {
        Param::new(Tensor::from_vec(
            vec![0.5f64, -1.0, 2.0, 0.25, -0.75, 1.5],
            &[2, 3],
        ))
    };
    let grad = Tensor::from_vec(vec![0.1f64, -0.2, 0.3, -0.4, 0.5, -0.6], &[2, 3]);
    let (p, q) = (make(), make());
    let mut a = Optimizer::new(vec![p.clone()], Adam::new(0.01));
    let mut b = Optimizer::new(vec![q.clone()], Adam::new(0.01));
    p.set_grad(Some(grad.clone()));
    a.step();
    let mut state = a.state();
    for buf in &mut state.buffers[0] {
        let column_major = buf
            .view()
            .t()
            .as_standard_layout()
            .into_owned()
            .reversed_axes();
        assert!(!column_major.is_standard_layout());
        *buf = Tensor::from_array(column_major);
    }
    b.load_state(state).unwrap();
    q.set_value(p.value());
    for (p, opt) in [(&p, &mut a), (&q, &mut b)] {
        p.set_grad(Some(grad.clone()));
        opt.step();
    }
    assert_eq!(p.value(), q.value());
    assert_eq!(a.state(), b.state());
}

#[test]
fn a_gradient_or_value_in_another_layout_updates_as_its_row_major_copy() {
    // Column-major gradient and value (both transposed views' storage): the same update as
    // for row-major copies, for every rule and with a coupled and a decoupled penalty.
    let w = vec![0.5f64, -1.0, 2.0, 0.25, -0.75, 1.5];
    let g = vec![0.1f64, -0.2, 0.3, -0.4, 0.5, -0.6];
    let column_major = |v: &[f64]| {
        let a = Tensor::from_vec(v.to_vec(), &[2, 3])
            .view()
            .t()
            .as_standard_layout()
            .into_owned();
        Tensor::from_array(a.reversed_axes())
    };
    fn check<R: Rule<f64>>(
        make: impl Fn() -> R,
        w: &[f64],
        g: &[f64],
        cm: &dyn Fn(&[f64]) -> Tensor<f64>,
    ) {
        for penalty in [
            Penalty::none(),
            Penalty::elastic_net(0.1, 0.2),
            Penalty::l2(0.3).decoupled(),
        ] {
            let row = Param::new(Tensor::from_vec(w.to_vec(), &[2, 3]));
            let col = Param::new(cm(w));
            assert!(!col.value().view().is_standard_layout());
            let mut a = Optimizer::new(vec![row.clone()], make()).penalty(penalty);
            let mut b = Optimizer::new(vec![col.clone()], make()).penalty(penalty);
            for _ in 0..3 {
                row.set_grad(Some(Tensor::from_vec(g.to_vec(), &[2, 3])));
                col.set_grad(Some(cm(g)));
                a.step();
                b.step();
            }
            assert_eq!(row.value(), col.value(), "{} {penalty:?}", a.rule().name());
        }
    }
    check(
        || Sgd::new(0.1).momentum(0.9).nesterov(true),
        &w,
        &g,
        &column_major,
    );
    check(|| Adagrad::new(0.1), &w, &g, &column_major);
    check(
        || RmsProp::new(0.1).centered(true).momentum(0.5),
        &w,
        &g,
        &column_major,
    );
    check(|| Adam::new(0.1).amsgrad(true), &w, &g, &column_major);
}

#[test]
#[should_panic(expected = "Sgd: lr must be a non-negative number, got -0.1")]
fn negative_lr_is_rejected() {
    Sgd::new(-0.1);
}

#[test]
#[should_panic(expected = "Adam: betas.1 must be in [0, 1), got 1")]
fn beta_of_one_is_rejected() {
    Adam::new(0.001).betas(0.9, 1.0);
}

#[test]
#[should_panic(
    expected = "Sgd: nesterov requires momentum > 0 and dampening 0, got momentum 0 and dampening 0"
)]
fn nesterov_without_momentum_is_rejected() {
    Sgd::new(0.1).nesterov(true);
}

#[test]
#[should_panic(expected = "RmsProp: momentum must be in [0, 1), got NaN")]
fn nan_momentum_is_rejected() {
    RmsProp::new(0.1).momentum(f64::NAN);
}

#[test]
#[should_panic(expected = "Adam: l2 must be a non-negative number, got -0.01")]
fn negative_weight_decay_is_rejected() {
    let _ = Optimizer::<Adam, f32>::new(vec![], Adam::new(0.1)).penalty(Penalty::l2(-0.01));
}

/// A call expected to panic.
type Panics = Box<dyn FnOnce() + std::panic::UnwindSafe>;

/// The message of the panic `f` raises.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("it panics");
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().unwrap().to_string(),
    }
}

#[test]
fn every_builder_rejects_nan_infinite_and_out_of_range_hyperparameters_by_name() {
    let cases: Vec<(Panics, &str)> = vec![
        (
            Box::new(|| {
                let _ = Sgd::new(f64::NAN);
            }),
            "Sgd: lr must be a non-negative number, got NaN",
        ),
        (
            Box::new(|| {
                let _ = Sgd::new(f64::INFINITY);
            }),
            "Sgd: lr must be a non-negative number, got inf",
        ),
        (
            Box::new(|| {
                let _ = Sgd::new(0.1).dampening(f64::NAN);
            }),
            "Sgd: dampening must be in [0, 1], got NaN",
        ),
        (
            Box::new(|| {
                let _ = Adagrad::new(-1.0);
            }),
            "Adagrad: lr must be a non-negative number, got -1",
        ),
        (
            Box::new(|| {
                let _ = Adagrad::new(0.1).eps(f64::INFINITY);
            }),
            "Adagrad: eps must be a positive number, got inf",
        ),
        (
            Box::new(|| {
                let _ = Adagrad::new(0.1).lr_decay(f64::INFINITY);
            }),
            "Adagrad: lr_decay must be a non-negative number, got inf",
        ),
        (
            Box::new(|| {
                let _ = Adagrad::new(0.1).lr_decay(f64::NAN);
            }),
            "Adagrad: lr_decay must be a non-negative number, got NaN",
        ),
        (
            Box::new(|| {
                let _ = RmsProp::new(f64::NAN);
            }),
            "RmsProp: lr must be a non-negative number, got NaN",
        ),
        (
            Box::new(|| {
                let _ = RmsProp::new(0.1).alpha(f64::NAN);
            }),
            "RmsProp: alpha must be in [0, 1), got NaN",
        ),
        (
            Box::new(|| {
                let _ = RmsProp::new(0.1).eps(-1e-8);
            }),
            "RmsProp: eps must be a positive number, got -0.00000001",
        ),
        (
            Box::new(|| {
                let _ = Adam::new(0.1).betas(f64::NAN, 0.999);
            }),
            "Adam: betas.0 must be in [0, 1), got NaN",
        ),
        (
            Box::new(|| {
                let _ = Adam::new(0.1).betas(-0.1, 0.999);
            }),
            "Adam: betas.0 must be in [0, 1), got -0.1",
        ),
        (
            Box::new(|| {
                let _ = Adam::adamw(0.1).eps(0.0);
            }),
            "AdamW: eps must be a positive number, got 0",
        ),
        (
            Box::new(|| {
                let _ = Adam::adamw(0.1).eps(f64::NAN);
            }),
            "AdamW: eps must be a positive number, got NaN",
        ),
        (
            Box::new(|| {
                let _ = ParamGroup::<f32>::new(vec![]).lr_factor(f64::NAN);
            }),
            "ParamGroup: lr_factor must be a non-negative number, got NaN",
        ),
        (
            Box::new(|| {
                let _ = ParamGroup::<f32>::new(vec![]).penalty(Penalty::l1(f64::INFINITY));
            }),
            "ParamGroup: l1 must be a non-negative number, got inf",
        ),
        (
            Box::new(|| Optimizer::<Sgd, f32>::new(vec![], Sgd::new(0.1)).set_lr(f64::NAN)),
            "Sgd: lr must be a non-negative number, got NaN",
        ),
    ];
    for (f, want) in cases {
        assert_eq!(panic_message(f), want);
    }
}

/// The state after one step with gradient 0.1 and then 900 steps with none.
fn state_after_the_gradient_stops<R: Rule<f32>>(rule: R) -> OptimizerState<f32> {
    let p = Param::new(Tensor::<f32>::zeros(&[4]));
    let mut opt = Optimizer::new(vec![p.clone()], rule);
    p.set_grad(Some(Tensor::full(&[4], 0.1)));
    opt.step();
    for _ in 0..900 {
        p.set_grad(Some(Tensor::zeros(&[4])));
        opt.step();
    }
    opt.state()
}

#[test]
fn decaying_state_is_flushed_to_zero_instead_of_going_subnormal() {
    // A unit that stops getting gradient: its moments decay by β each step and would spend
    // hundreds of steps as subnormal numbers, on which every update is many times slower.
    for state in [
        state_after_the_gradient_stops(Adam::new(1e-3)),
        state_after_the_gradient_stops(Sgd::new(1e-3).momentum(0.9)),
    ] {
        let values: Vec<f32> = state.buffers[0].iter().flat_map(|b| b.to_vec()).collect();
        assert!(
            values.iter().all(|v| *v == 0.0 || v.is_normal()),
            "subnormal state: {values:?}"
        );
        assert!(values.contains(&0.0), "the first moment decays to zero");
    }
}

#[test]
fn a_large_parameter_updates_identically_on_one_and_two_threads() {
    // 100,000 elements: split into parts on two threads, one pass on one.
    let run = |threads: usize| {
        ferrograd_autograd::set_num_threads(threads);
        let values = Tensor::from_vec(
            (0..100_000).map(|i| (i as f32 * 0.37).sin()).collect(),
            &[100_000],
        );
        let p = Param::new(values);
        let mut opt = Optimizer::new(vec![p.clone()], Adam::adamw(1e-2)).penalty(Penalty::l2(0.1));
        for step in 0..3 {
            let g = (0..100_000)
                .map(|i| ((i + step) as f32 * 0.11).cos())
                .collect();
            p.set_grad(Some(Tensor::from_vec(g, &[100_000])));
            opt.step();
        }
        (p.value(), opt.state())
    };
    let one = run(1);
    let two = run(2);
    assert!(one == two, "the update depends on the thread count");
}

#[test]
fn the_initial_rate_survives_set_lr_and_a_state_round_trip_and_is_checked() {
    let mut opt = stepped_adam();
    let initial = opt.initial_lr();
    opt.set_lr(initial / 10.0);
    assert_eq!(opt.initial_lr(), initial, "set_lr leaves the initial rate");
    let state = opt.state();
    assert_eq!((state.lr, state.initial_lr), (initial / 10.0, initial));

    let mut fresh = Optimizer::new(opt.params().cloned().collect(), Adam::new(0.5));
    fresh.load_state(state.clone()).unwrap();
    assert_eq!((fresh.lr(), fresh.initial_lr()), (initial / 10.0, initial));
    // A schedule scales the initial rate, not the current one.
    fresh.set_lr_from(&schedule::ExponentialLr { gamma: 0.5 }, 1);
    assert_eq!(fresh.lr(), initial / 2.0);

    let mut bad = state;
    bad.initial_lr = f64::NAN;
    assert_eq!(
        fresh.load_state(bad).unwrap_err().to_string(),
        "Adam: the state's initial_lr must be a non-negative number, got NaN"
    );
}
