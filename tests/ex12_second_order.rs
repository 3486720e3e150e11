//! Example 12, run in its fast mode (`Run::test`: a few seconds), with the figures it
//! promises checked: Newton's method converging in a few steps where gradient descent
//! needs many, the autograd Hessian matching its formula, and a network's Hessian-vector
//! product matching finite differences of its gradients.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/12_second_order.rs"]
#[allow(dead_code)]
mod ex12;

#[test]
fn ex12_second_order_converges_and_its_hvp_matches_finite_differences() {
    let r = ex12::run(&ex12::common::Run::test("12_second_order"));
    // Newton: a handful of steps, and the loss well below its start (ln 2 at θ = 0).
    assert!(r.get("newton_iters") <= 10.0, "{r:?}");
    assert!(r.get("newton_loss") < 0.8 * r.get("initial_loss"), "{r:?}");
    assert!(r.get("hessian_err") < 1e-12, "{r:?}");
    // Hessian-free Newton takes the same steps to the same point.
    assert_eq!(r.get("newton_cg_iters"), r.get("newton_iters"), "{r:?}");
    assert!(r.get("newton_cg_theta_err") < 1e-8, "{r:?}");
    // Gradient descent needs far more steps to come within 1e-8 of the same loss.
    assert!(r.get("gd_iters") > 10.0 * r.get("newton_iters"), "{r:?}");
    assert!(r.get("gd_gap") < 1e-8, "{r:?}");
    // The labels are noisy: the generating weights themselves score about 80%.
    assert!(r.get("test_accuracy") > 0.7, "{r:?}");
    // The network: fitted somewhat, its HVP right, and the Rayleigh quotient of a unit
    // vector below the largest eigenvalue.
    assert!(r.get("net_mse") < 0.1, "{r:?}");
    assert!(r.get("hvp_fd_rel_err") < 1e-6, "{r:?}");
    assert!(
        r.get("largest_eigenvalue") >= r.get("curvature_along_v"),
        "{r:?}"
    );
}
