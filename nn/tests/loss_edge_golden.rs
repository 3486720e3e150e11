//! Every loss against PyTorch at its edge points — input equal to target, |input − target|
//! at delta, probabilities 0 and 1, saturating and tied logits, -inf entries, NaN inputs —
//! and at ordinary points: the value, the first derivative (a vector-Jacobian product with
//! random weights) and the second derivative (a Hessian-vector product), in `f64`, to
//! `rtol 1e-10, atol 1e-12`.
//!
//! The reference numbers are `fixtures/loss_edge_golden.json`, written by
//! `fixtures/make_loss_edge_golden.py` (torch 2.15.0 on CPU, numpy 2.4.6); the harness is
//! autograd's `tests/golden/mod.rs`, shared with its op fixture. A failure lists every
//! disagreeing case, result and element.

#[path = "../../autograd/tests/golden/mod.rs"]
mod golden;

use ferrograd_autograd::Var;
use ferrograd_nn::loss::{self, CrossEntropy, Reduction};
use golden::{Deviation, Order, Params};

fn reduction(p: &Params) -> Reduction {
    match p.str("reduction") {
        "mean" => Reduction::Mean,
        "sum" => Reduction::Sum,
        "none" => Reduction::None,
        other => panic!("unknown reduction {other:?}"),
    }
}

fn options(p: &Params) -> CrossEntropy {
    let mut o = CrossEntropy::new().reduction(reduction(p));
    if p.has("weight") {
        o = o.weight(p.f64s("weight"));
    }
    if p.has("label_smoothing") {
        o = o.label_smoothing(p.f64("label_smoothing"));
    }
    if p.has("ignore_index") {
        o = o.ignore_index(p.usize("ignore_index"));
    }
    o
}

/// ferrograd's loss for each key of the fixture (`ferrograd_nn::loss` function names).
fn build<'g>(op: &str, x: &[Var<'g, f64>], p: &Params) -> Var<'g, f64> {
    match op {
        "mse_loss" => loss::mse_loss(x[0], x[1], reduction(p)),
        "l1_loss" => loss::l1_loss(x[0], x[1], reduction(p)),
        "huber_loss" => loss::huber_loss(x[0], x[1], p.f64("delta"), reduction(p)),
        "smooth_l1_loss" => loss::smooth_l1_loss(x[0], x[1], p.f64("beta"), reduction(p)),
        "binary_cross_entropy" => loss::binary_cross_entropy(x[0], x[1], reduction(p)),
        "binary_cross_entropy_with_logits" => {
            loss::binary_cross_entropy_with_logits(x[0], x[1], reduction(p))
        }
        "binary_cross_entropy_with_logits_pos_weight" => {
            loss::binary_cross_entropy_with_logits_pos_weight(
                x[0],
                x[1],
                &p.f64s("pos_weight"),
                reduction(p),
            )
        }
        "cosine_embedding_loss" => {
            loss::cosine_embedding_loss(x[0], x[1], x[2], p.f64("margin"), reduction(p))
        }
        "margin_ranking_loss" => {
            loss::margin_ranking_loss(x[0], x[1], x[2], p.f64("margin"), reduction(p))
        }
        "triplet_margin_loss" => {
            loss::triplet_margin_loss(x[0], x[1], x[2], p.f64("margin"), reduction(p))
        }
        "gaussian_nll_loss" => loss::gaussian_nll_loss(x[0], x[1], x[2], reduction(p)),
        "poisson_nll_loss" => loss::poisson_nll_loss(x[0], x[1], p.bool("log_input"), reduction(p)),
        "cross_entropy" => loss::cross_entropy(x[0], &p.usizes("labels"), &options(p)),
        "nll_loss" => loss::nll_loss(x[0], &p.usizes("labels"), &options(p)),
        "cross_entropy_soft" => loss::cross_entropy_soft(x[0], x[1], reduction(p)),
        "kl_div" => loss::kl_div(x[0], x[1], reduction(p)),
        "distillation_loss" => loss::distillation_loss(x[0], x[1], p.f64("temperature")),
        other => panic!("no ferrograd loss for the fixture's key {other:?}"),
    }
}

/// Deliberate differences from PyTorch (each also said in the loss's documentation).
const DEVIATIONS: &[Deviation] = &[Deviation {
    case: "kl_div @ edge: zero target at a -inf input",
    order: Order::Value,
    why: "kl_div: a zero target contributes 0 whatever the input, even −∞; PyTorch \
          computes 0·(0 − (−∞)) and returns NaN",
    // Σ t·(ln t − x) over the positive targets t: row 0 gives 0.5·(ln 0.5 + 0.5) +
    // 0.5·(ln 0.5 + 1), row 1 gives 1·(0 + 0.2); the −∞ inputs sit at zero targets.
    ours: Some(&[0.5 * (-std::f64::consts::LN_2 + 0.5)
        + 0.5 * (-std::f64::consts::LN_2 + 1.0)
        + 0.2]),
}];

#[test]
fn every_loss_matches_pytorch_at_its_edge_and_ordinary_points() {
    golden::check(
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/loss_edge_golden.json",
        build,
        DEVIATIONS,
    );
}
