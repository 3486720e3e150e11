//! Graph semantics: fan-out, unused inputs, broadcast sum-back, no_grad, detach, stale
//! handles, very deep graphs, reuse, parameters and higher-order gradients.

use ferrograd_autograd::{BackwardOptions, Graph, Param, Tensor};

fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), shape)
}

#[test]
fn fan_out_accumulates_gradients() {
    let g = Graph::new();
    let x = g.var(t(&[3.0], &[1]));
    let y = x * x + x.exp() + x; // used four times
    y.sum().backward();
    let expected = 2.0 * 3.0 + 3f64.exp() + 1.0;
    assert_eq!(x.grad().unwrap().to_vec(), vec![expected]);
}

#[test]
fn an_unused_input_gets_no_gradient() {
    let g = Graph::new();
    let x = g.var(t(&[1.0], &[1]));
    let unused = g.var(t(&[2.0], &[1]));
    (x * 2.0).sum().backward();
    assert!(unused.grad().is_none());
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0]);
}

#[test]
fn broadcast_inputs_get_gradients_of_their_own_shape() {
    let g = Graph::new();
    let x = g.var(Tensor::ones(&[2, 3, 4]));
    let row = g.var(Tensor::ones(&[4]));
    let col = g.var(Tensor::ones(&[3, 1]));
    let s = g.var(Tensor::scalar(1.0));
    ((x * row + col) * s).sum().backward();
    assert_eq!(row.grad().unwrap().shape(), &[4]);
    assert_eq!(row.grad().unwrap().to_vec(), vec![6.0; 4]);
    assert_eq!(col.grad().unwrap().to_vec(), vec![8.0; 3]);
    assert_eq!(s.grad().unwrap().item(), 2.0 * 24.0);
}

#[test]
fn no_grad_records_nothing_to_differentiate() {
    let g = Graph::new();
    let x = g.var(t(&[1.0, 2.0], &[2]));
    let y = {
        let _guard = g.no_grad();
        x.exp() * 2.0
    };
    assert!(!y.requires_grad());
    assert!(g.is_grad_enabled());
    let z = (x * y).sum();
    z.backward();
    // y is a constant: dz/dx = y.
    assert_eq!(x.grad().unwrap().to_vec(), y.value().to_vec());
}

#[test]
fn detach_and_constants_stop_gradients() {
    let g = Graph::new();
    let x = g.var(t(&[2.0], &[1]));
    let c = g.constant(t(&[5.0], &[1]));
    let y = (x * x.detach() * c).sum();
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![10.0]); // x.detach() and c are constants
    assert!(c.grad().is_none());
}

#[test]
fn only_ops_leading_to_a_gradient_are_recorded_for_backward() {
    let g = Graph::new();
    let c = g.constant(t(&[1.0, 2.0], &[2]));
    let y = c.exp().tanh();
    assert!(!y.requires_grad());
    let x = g.var(t(&[1.0, 2.0], &[2]));
    assert!((x + y).requires_grad());
}

#[test]
#[should_panic(expected = "tanh: stale Var: its graph was cleared after it was created")]
fn stale_var_panics_naming_the_op() {
    let g = Graph::<f32>::new();
    let x = g.var(Tensor::ones(&[2]));
    g.clear();
    let _ = x.tanh();
}

#[test]
#[should_panic(expected = "backward: stale Var")]
fn backward_from_a_stale_var_panics() {
    let g = Graph::<f32>::new();
    let y = g.var(Tensor::ones(&[1])).sum();
    g.clear();
    y.backward();
}

#[test]
fn a_chain_of_100_000_ops_backpropagates_without_recursion() {
    let g = Graph::new();
    let x = g.var(t(&[0.5], &[1]));
    let mut y = x;
    for _ in 0..100_000 {
        y = y * 1.0 + 0.0;
    }
    let loss = y.sum();
    assert_eq!(g.len(), 200_002); // x, 200,000 ops and the sum
    loss.backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![1.0]);
}

#[test]
fn clearing_keeps_the_arena_capacity() {
    let g = Graph::<f32>::new();
    for _ in 0..3 {
        g.clear();
        let mut y = g.var(Tensor::ones(&[4]));
        for _ in 0..1000 {
            y = y.tanh();
        }
        y.sum().backward();
    }
    let capacity = g.capacity();
    assert!(capacity >= g.len());
    g.clear();
    assert_eq!(g.capacity(), capacity);
}

#[test]
fn dynamic_control_flow_builds_the_graph() {
    // y = x^n by repeated multiplication, n chosen at run time; loops and branches shape it.
    fn power<'g>(x: ferrograd_autograd::Var<'g, f64>, n: u32) -> ferrograd_autograd::Var<'g, f64> {
        if n == 1 { x } else { x * power(x, n - 1) }
    }
    let g = Graph::new();
    let x = g.var(Tensor::scalar(1.5));
    let y = power(x, 5);
    y.backward();
    assert!((x.grad().unwrap().item() - 5.0 * 1.5f64.powi(4)).abs() < 1e-12);
}

#[test]
fn params_enter_fresh_graphs_and_accumulate_until_zeroed() {
    let w = Param::new(t(&[2.0], &[1]));
    for step in 1..=3 {
        let g = Graph::new();
        (g.param(&w).square()).sum().backward();
        assert_eq!(w.grad().unwrap().to_vec(), vec![4.0 * step as f64]);
    }
    w.zero_grad();
    let g = Graph::new();
    (g.param(&w) * 3.0).sum().backward();
    assert_eq!(w.grad().unwrap().to_vec(), vec![3.0]);
}

#[test]
fn a_pass_leaves_out_what_was_recorded_after_its_output() {
    // `b` enters the graph after `loss1`, so `loss1` cannot depend on it; an earlier pass
    // through `b` (from `loss2`) must not leak into `loss1`'s.
    let (p1, p2) = (Param::new(t(&[2.0], &[1])), Param::new(t(&[3.0], &[1])));
    let g = Graph::new();
    let a = g.param(&p1);
    let loss1 = (a * a).sum();
    let b = g.param(&p2);
    let loss2 = (a * b).sum();
    loss2.backward();
    assert_eq!(p2.grad().unwrap().to_vec(), vec![2.0]);
    p1.set_grad(None);
    p2.set_grad(None);
    loss1.backward();
    assert_eq!(p1.grad().unwrap().to_vec(), vec![4.0]);
    assert_eq!(
        p2.grad(),
        None,
        "no gradient from a pass that never reached it"
    );
    // The same through Graph::grad: an input recorded after the output gets none.
    loss2.backward();
    assert!(g.grad(&[loss1], &[a, b], false)[1].is_none());
}

#[test]
fn a_frozen_param_gets_no_gradient() {
    let w = Param::new(t(&[2.0], &[1]));
    w.set_requires_grad(false);
    let g = Graph::new();
    let x = g.var(t(&[1.0], &[1]));
    (g.param(&w) * x).sum().backward();
    assert!(w.grad().is_none());
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0]);
}

#[test]
fn models_of_params_are_send() {
    fn assert_send<S: Send + Sync + 'static>(_: &S) {}
    let layer = vec![Param::new(Tensor::<f32>::zeros(&[3, 3]))];
    assert_send(&layer);
    let handle = std::thread::spawn(move || layer[0].numel());
    assert_eq!(handle.join().unwrap(), 9);
}

#[test]
fn non_scalar_backward_needs_a_seed() {
    let g = Graph::<f64>::new();
    let x = g.var(t(&[1.0, 2.0], &[2]));
    let y = x * x;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.backward()));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        msg,
        "backward: output of shape [2] is not a scalar; pass a seed gradient with backward_with"
    );
    y.backward_with(BackwardOptions::new().seed(t(&[1.0, 0.5], &[2])));
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 2.0]);
}

#[test]
#[should_panic(expected = "backward: seed of shape [3] does not match output of shape [2]")]
fn backward_panics_on_a_seed_of_the_wrong_shape() {
    let g = Graph::<f64>::new();
    let y = g.var(t(&[1.0, 2.0], &[2])) * 2.0;
    y.backward_with(BackwardOptions::new().seed(Tensor::ones(&[3])));
}

#[test]
fn grad_of_grad_of_a_polynomial() {
    // f = x⁴ − 2x²: f' = 4x³ − 4x, f'' = 12x² − 4, f''' = 24x.
    let g = Graph::new();
    let x = g.var(Tensor::scalar(1.5));
    let f = x.powf(4.0) - x.square() * 2.0;
    let d1 = g.grad(&[f], &[x], true)[0].unwrap();
    let d2 = g.grad(&[d1], &[x], true)[0].unwrap();
    let d3 = g.grad(&[d2], &[x], false)[0].unwrap();
    assert!((d1.item() - (4.0 * 1.5f64.powi(3) - 6.0)).abs() < 1e-12);
    assert!((d2.item() - (12.0 * 2.25 - 4.0)).abs() < 1e-12);
    assert!((d3.item() - 36.0).abs() < 1e-12);
}

#[test]
fn grad_of_grad_of_tanh_and_exp() {
    let g = Graph::new();
    let x = g.var(Tensor::scalar(0.7));
    let th = 0.7f64.tanh();
    let d1 = g.grad(&[x.tanh()], &[x], true)[0].unwrap();
    let d2 = g.grad(&[d1], &[x], false)[0].unwrap();
    assert!((d1.item() - (1.0 - th * th)).abs() < 1e-12);
    assert!((d2.item() - (-2.0 * th * (1.0 - th * th))).abs() < 1e-12);

    let e = g.grad(&[x.exp()], &[x], true)[0].unwrap();
    let e2 = g.grad(&[e], &[x], true)[0].unwrap();
    let e3 = g.grad(&[e2], &[x], false)[0].unwrap();
    for d in [e, e2, e3] {
        assert!((d.item() - 0.7f64.exp()).abs() < 1e-12);
    }
}

#[test]
fn hessian_vector_product_through_backward_with_create_graph() {
    // f(x) = Σ xᵢ² xⱼ over i<j-free form: f = (Σx)³ has Hessian 6(Σx)·11ᵀ.
    let g = Graph::new();
    let x = g.var(t(&[0.5, 1.0, -0.25], &[3]));
    let f = x.sum().powf(3.0);
    f.backward_with(BackwardOptions::new().create_graph(true));
    let grad = x.grad_var().unwrap();
    assert!(grad.requires_grad());
    let v = g.constant(t(&[1.0, 2.0, 3.0], &[3]));
    let hv = g.grad(&[(grad * v).sum()], &[x], false)[0].unwrap();
    let s: f64 = 0.5 + 1.0 - 0.25;
    let expected = 6.0 * s * 6.0; // 6·s·(1+2+3) in every entry
    for h in hv.value().to_vec() {
        assert!((h - expected).abs() < 1e-12);
    }
}

#[test]
fn first_order_backward_records_no_backward_graph() {
    let g = Graph::new();
    let x = g.var(t(&[0.3, 0.4], &[2]));
    x.tanh().exp().sum().backward();
    assert!(!x.grad_var().unwrap().requires_grad());
}

#[test]
fn a_custom_op_with_a_rule_of_the_wrong_shape_is_named() {
    use ferrograd_autograd::grads;
    let g = Graph::<f64>::new();
    let x = g.var(t(&[1.0, 2.0], &[2]));
    let y = g.custom_op(
        "broken",
        &[x],
        |v| v[0].clone(),
        |ctx, g| grads![Some(g.sum() + ctx.input(0).sum() * 0.0)],
    );
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.sum().backward()));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(
        msg.starts_with("broken: backward returned a gradient of shape [] for input 0 of shape [2] (op recorded at autograd/tests/graph_semantics.rs:"),
        "{msg}"
    );
}

#[test]
fn a_param_whose_value_was_replaced_enters_anew() {
    let w = Param::new(Tensor::from_vec(vec![1.0f64], &[1]));
    let g = Graph::new();
    let a = g.param(&w);
    assert_eq!(g.param(&w).value().to_vec(), vec![1.0]);
    w.set_value(Tensor::from_vec(vec![5.0], &[1]));
    let b = g.param(&w);
    assert_eq!(b.value().to_vec(), vec![5.0]);
    assert_eq!(a.value().to_vec(), vec![1.0]);
    (b * b).sum().backward();
    assert_eq!(w.grad().unwrap().to_vec(), vec![10.0]);
}

#[test]
fn slices_of_one_value_share_one_gradient_buffer() {
    // An LSTM reads one slice of its input projection per step. The first-order backward
    // adds each slice's gradient into one buffer in place; a zero-padded full-size
    // gradient per slice made backward quadratic in the number of slices.
    let g = Graph::<f64>::new();
    let steps = 256;
    let x = g.var(Tensor::ones(&[steps, 4]));
    let mut total = g.scalar(0.0);
    for t in 0..steps {
        total = total + x.narrow(0, t, 1).sum() * t as f64;
    }
    let before = g.summary().value_bytes;
    total.backward();
    let grown = g.summary().value_bytes - before;
    assert!(
        grown < 64 * 8 * steps,
        "backward kept {grown} bytes for {steps} slices of [{steps}, 4]"
    );
    let expected: Vec<f64> = (0..steps).flat_map(|t| [t as f64; 4]).collect();
    assert_eq!(x.grad().unwrap().to_vec(), expected);
}

#[test]
fn in_place_accumulation_never_changes_a_shared_gradient() {
    // `add` hands its gradient to both inputs as one node: adding into `p`'s gradient in
    // place must not change `q`'s.
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::from_vec(vec![1.0, -2.0], &[2]));
    let (p, q) = (x * 2.0, x * 3.0);
    let z = ((p + q) + p * 5.0 + p).sum();
    let grads = g.grad(&[z], &[p, q, x], false);
    assert_eq!(grads[0].unwrap().value().to_vec(), vec![7.0, 7.0]);
    assert_eq!(grads[1].unwrap().value().to_vec(), vec![1.0, 1.0]);
    assert_eq!(grads[2].unwrap().value().to_vec(), vec![17.0, 17.0]);
}
