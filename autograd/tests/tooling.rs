//! Autograd tooling: anomaly mode, gradient hooks, DOT export and the graph summary.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use ferrograd_autograd::{BackwardOptions, Graph, Param, Tensor};

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    match err.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e.downcast_ref::<&str>().unwrap().to_string(),
    }
}

#[test]
fn anomaly_mode_reports_the_first_forward_offender_with_its_call_site() {
    let g = Graph::<f64>::new();
    g.set_detect_anomaly(true);
    let x = g.var(Tensor::from_vec(vec![1.0, -1.0, 4.0], &[3]));
    let line = line!() + 2;
    let msg = panic_message(|| {
        let _ = x.sqrt().exp();
    });
    assert_eq!(
        msg,
        format!(
            "anomaly: forward of `sqrt` produced NaN at element [1] of its output of shape [3] (input shapes [[3]]); op called at {}:{line}:19",
            file!()
        )
    );
}

#[test]
fn anomaly_mode_reports_a_non_finite_leaf() {
    let g = Graph::<f32>::new();
    let _on = g.detect_anomaly();
    let msg = panic_message(|| {
        let _ = g.var(Tensor::from_vec(vec![0.0, f32::INFINITY], &[1, 2]));
    });
    assert!(
        msg.starts_with(
            "anomaly: the `var` leaf holds inf at element [0, 1] of its value of shape [1, 2]; entered at"
        ),
        "{msg}"
    );
}

#[test]
fn anomaly_mode_reports_a_backward_offender() {
    // sqrt(x) at 0 is finite forward, but its derivative 1 / (2·sqrt(x)) is infinite.
    let g = Graph::<f64>::new();
    g.set_detect_anomaly(true);
    let x = g.var(Tensor::from_vec(vec![4.0, 0.0], &[2]));
    let line = line!() + 1;
    let y = x.sqrt().sum();
    let msg = panic_message(|| y.backward());
    assert_eq!(
        msg,
        format!(
            "anomaly: backward of `sqrt` produced inf at element [1] of the gradient for input 0 of shape [2] (input shapes [[2]]); op called at {}:{line}:15",
            file!()
        )
    );
    // The panic left the graph usable: recording is back on.
    assert!(g.is_grad_enabled());
}

#[test]
fn anomaly_mode_off_lets_non_finite_values_through() {
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::from_vec(vec![0.0], &[1]));
    let y = x.ln().sum();
    assert_eq!(y.item(), f64::NEG_INFINITY);
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![f64::INFINITY]);
}

#[test]
fn hooks_observe_and_replace_gradients_in_order() {
    let g = Graph::<f64>::new();
    let w = Param::new(Tensor::from_vec(vec![1.0, 2.0], &[2]));
    let p = g.param(&w);
    let order = Rc::new(RefCell::new(Vec::new()));
    let (a, b) = (order.clone(), order.clone());
    p.register_hook(move |grad| {
        a.borrow_mut().push(("first", grad.value().to_vec()));
        Some(grad * 10.0)
    });
    p.register_hook(move |grad| {
        b.borrow_mut().push(("second", grad.value().to_vec()));
        None
    });
    (p * p).sum().backward(); // d/dp = 2p
    assert_eq!(
        *order.borrow(),
        vec![("first", vec![2.0, 4.0]), ("second", vec![20.0, 40.0])]
    );
    // The parameter accumulates the replaced gradient.
    assert_eq!(w.grad().unwrap().to_vec(), vec![20.0, 40.0]);
}

#[test]
fn a_hook_on_an_intermediate_changes_what_flows_to_its_inputs() {
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
    let h = x.exp();
    h.register_hook(|grad| Some(grad.graph().constant(Tensor::ones(&[2])) + grad * 0.0));
    (h * 5.0).sum().backward();
    // exp' = exp, applied to the replaced gradient (ones).
    assert_eq!(x.grad().unwrap().to_vec(), vec![1f64.exp(), 2f64.exp()]);
}

#[test]
fn hooks_are_differentiable_under_create_graph() {
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::scalar(3.0));
    let y = x * x; // dy/dx = 2x
    x.register_hook(|grad| Some(grad * grad)); // replaces it by (2x)²
    y.backward_with(BackwardOptions::new().create_graph(true));
    let dx = x.grad_var().unwrap();
    assert_eq!(dx.item(), 36.0);
    // d/dx (2x)² = 8x = 24, and the hook, which fires on every pass through x as in
    // PyTorch, squares that too.
    let d2 = g.grad(&[dx], &[x], false)[0].unwrap();
    assert_eq!(d2.item(), 576.0);
}

#[test]
fn hook_panics_when_it_changes_the_shape() {
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
    let h = x * 2.0;
    h.register_hook(|grad| Some(grad.sum()));
    let msg = panic_message(|| h.sum().backward());
    assert!(
        msg.starts_with("hook on `mul_scalar` (recorded at")
            && msg.ends_with("returned a gradient of shape [] for a value of shape [2]"),
        "{msg}"
    );
}

#[test]
fn clear_removes_hooks() {
    let g = Graph::<f64>::new();
    let calls = Rc::new(RefCell::new(0));
    let c = calls.clone();
    let x = g.var(Tensor::scalar(1.0));
    x.register_hook(move |_| {
        *c.borrow_mut() += 1;
        None
    });
    g.clear();
    let x = g.var(Tensor::scalar(1.0));
    (x * 2.0).backward();
    assert_eq!(*calls.borrow(), 0);
}

#[test]
fn dot_export_names_ops_shapes_call_sites_and_edges() {
    let w = Param::new(Tensor::<f32>::ones(&[3, 2]));
    let g = Graph::new();
    let x = g.var(Tensor::ones(&[4, 3]));
    let line = line!() + 1;
    let y = x.matmul(g.param(&w)).relu();
    let c = g.constant(Tensor::ones(&[2]));
    let loss = (y * c).sum();
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph ferrograd {\n"));
    assert!(dot.ends_with("}\n"));
    assert!(dot.contains("n0 [label=\"var\\n[4, 3] f32\\n"), "{dot}");
    assert!(dot.contains("shape=ellipse"), "inputs are marked: {dot}");
    assert!(dot.contains("n1 [label=\"param\\n[3, 2] f32\\n"), "{dot}");
    assert!(
        dot.contains("fillcolor=\"#ffe0b2\""),
        "parameters are marked: {dot}"
    );
    let site = format!("{}:{line}:15", file!());
    assert!(
        dot.contains(&format!("n2 [label=\"matmul\\n[4, 2] f32\\n{site}\"]")),
        "{dot}"
    );
    for edge in [
        "n0 -> n2;",
        "n1 -> n2;",
        "n2 -> n3;",
        "n3 -> n5;",
        "n4 -> n5;",
        "n5 -> n6;",
    ] {
        assert!(dot.contains(edge), "missing {edge} in {dot}");
    }
    assert_eq!(dot.matches("->").count(), 6);
    let _ = loss;
}

#[test]
fn summary_counts_ops_and_saved_memory() {
    let g = Graph::<f32>::new();
    let x = g.var(Tensor::zeros(&[10]));
    let c = g.constant(Tensor::zeros(&[10]));
    let _ = ((x * c).exp() * c).sum();
    let s = g.summary();
    assert_eq!(s.nodes, 6);
    assert_eq!(s.ops[0].op, "mul");
    assert_eq!(s.ops[0].count, 2);
    // Six values: five of 10 elements and the scalar sum.
    assert_eq!(s.value_bytes, (5 * 10 + 1) * 4);
    // Every value here is read by some backward rule.
    assert_eq!(s.saved_bytes, (5 * 10 + 1) * 4);
    let table = s.to_string();
    assert!(
        table.starts_with("Graph: 6 nodes, 204 bytes of f32 values (204 saved for backward)\n")
    );
    assert!(
        table.contains("\nmul                             2             80\n"),
        "{table}"
    );
}
