//! Every API that takes a `Var` and a graph checks the `Var` belongs to that graph: a key
//! from another graph's arena can name an unrelated node here, so an unchecked call used to
//! return an unrelated gradient instead of panicking.

use ferrograd_autograd::{Graph, Tensor, Var, grads};

fn t(v: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), &[v.len()])
}

/// A `Var` of a leaked graph: what a hook or a backward rule (generic over the graph's
/// lifetime) would have to capture to return a `Var` of another graph.
fn stray() -> Var<'static, f64> {
    let other: &'static Graph<f64> = Box::leak(Box::new(Graph::new()));
    other.var(t(&[5.0]))
}

#[test]
#[should_panic(expected = "grad: input 0 belongs to a different graph")]
fn grad_with_an_input_from_another_graph_panics() {
    let (g1, g2) = (Graph::<f64>::new(), Graph::<f64>::new());
    let x1 = g1.var(t(&[1.0]));
    let y1 = x1 * 2.0;
    let x2 = g2.var(t(&[1.0])); // the same arena slot as x1 in g1
    // Before: returned x1's gradient, [2.0], as the gradient of x2.
    g1.grad(&[y1], &[x2], false);
}

#[test]
#[should_panic(expected = "grad: output 1 belongs to a different graph")]
fn grad_with_an_output_from_another_graph_panics() {
    let (g1, g2) = (Graph::<f64>::new(), Graph::<f64>::new());
    let x1 = g1.var(t(&[1.0]));
    let y2 = g2.var(t(&[1.0])) * 3.0;
    g1.grad(&[x1 * 2.0, y2], &[x1], false);
}

#[test]
#[should_panic(expected = "grad: output 0 belongs to a different graph")]
fn grad_with_seeds_checks_the_outputs_too() {
    let (g1, g2) = (Graph::<f64>::new(), Graph::<f64>::new());
    let x1 = g1.var(t(&[1.0]));
    let y2 = g2.var(t(&[1.0])) * 3.0;
    g1.grad_with(&[y2], &[t(&[1.0])], &[x1], false);
}

#[test]
#[should_panic(expected = "mul: an input belongs to a different graph (input 1)")]
fn an_op_names_the_input_from_another_graph() {
    let (g1, g2) = (Graph::<f64>::new(), Graph::<f64>::new());
    let _ = g1.var(t(&[1.0])) * g2.var(t(&[1.0]));
}

#[test]
fn a_hook_returning_a_gradient_from_another_graph_panics_naming_the_op() {
    let g = Graph::<f64>::new();
    let x = g.var(t(&[1.0]));
    let h = x.exp();
    let stray = stray();
    h.register_hook(move |_| Some(stray));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.sum().backward()));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(
        msg.starts_with("hook on `exp` (recorded at ")
            && msg.ends_with(") returned a gradient from a different graph"),
        "{msg}"
    );
}

#[test]
fn a_backward_rule_returning_a_gradient_from_another_graph_panics_naming_the_op() {
    let g = Graph::<f64>::new();
    let x = g.var(t(&[1.0]));
    let stray = stray();
    let y = g.custom_op(
        "leaky",
        &[x],
        |v| v[0].clone(),
        move |_, _| grads![Some(stray)],
    );
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.sum().backward()));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(
        msg.starts_with("leaky: backward returned a gradient for input 0 from a different graph (op recorded at "),
        "{msg}"
    );
}
