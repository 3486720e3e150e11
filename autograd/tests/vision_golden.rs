//! The vision and sequence ops of issue 14 against PyTorch — pooling with dilation,
//! `ceil_mode` and `count_include_pad`, 1-D and adaptive pooling, conv_transpose1d, group and
//! instance normalisation, interpolation — at ordinary points and at their edges (ties, NaN
//! inputs, windows past the input's end, zero variance): the value, the first derivative (a
//! vector-Jacobian product with random weights) and the second derivative (a Hessian-vector
//! product), in `f64`, to `rtol 1e-10, atol 1e-12`.
//!
//! The reference numbers are `fixtures/vision_golden.json`, written by
//! `fixtures/make_vision_golden.py` (torch 2.15.0 on CPU); the harness is `golden/mod.rs`.

mod golden;

use ferrograd_autograd::{ConvOptions, Interpolate, InterpolateMode, PoolOptions, Size2, Var};
use golden::Params;

/// A `[h, w]` parameter.
fn size2(p: &Params, key: &str) -> Size2 {
    let v = p.usizes(key);
    Size2(v[0], v[1])
}

/// The pooling options of a case; `size` reads a 2-D (`[h, w]`) or 1-D (one number) size.
fn pool_options(p: &Params, size: fn(&Params, &str) -> Size2) -> PoolOptions {
    let mut opts = PoolOptions::new()
        .stride(size(p, "stride"))
        .padding(size(p, "padding"))
        .ceil_mode(p.bool("ceil_mode"));
    if p.has("dilation") {
        opts = opts.dilation(size(p, "dilation"));
    }
    if p.has("count_include_pad") {
        opts = opts.count_include_pad(p.bool("count_include_pad"));
    }
    opts
}

fn interpolate(p: &Params) -> Interpolate {
    let mode = match p.str("mode") {
        "nearest" => InterpolateMode::Nearest,
        "linear" => InterpolateMode::Linear,
        "bilinear" => InterpolateMode::Bilinear,
        other => panic!("no mode {other:?}"),
    };
    let opts = if p.has("size") {
        match p.usizes("size")[..] {
            [h, w] => Interpolate::size((h, w)),
            [l] => Interpolate::size(l),
            ref other => panic!("size {other:?}"),
        }
    } else {
        match p.f64s("scale_factor")[..] {
            [h, w] => Interpolate::scale_factors(h, w),
            [l] => Interpolate::scale_factor(l),
            ref other => panic!("scale factor {other:?}"),
        }
    };
    opts.mode(mode).align_corners(p.bool("align_corners"))
}

/// ferrograd's op for each key of the fixture (see the script for the PyTorch function each
/// is compared with).
fn build<'g>(op: &str, x: &[Var<'g, f64>], p: &Params) -> Var<'g, f64> {
    let one = |p: &Params, key: &str| Size2(1, p.usize(key));
    match op {
        "max_pool2d_with" => x[0].max_pool2d_with(size2(p, "kernel"), pool_options(p, size2)),
        "avg_pool2d_with" => x[0].avg_pool2d_with(size2(p, "kernel"), pool_options(p, size2)),
        "max_pool1d_with" => x[0].max_pool1d_with(p.usize("kernel"), pool_options(p, one)),
        "avg_pool1d_with" => x[0].avg_pool1d_with(p.usize("kernel"), pool_options(p, one)),
        "adaptive_max_pool2d" => x[0].adaptive_max_pool2d(size2(p, "output")),
        "adaptive_avg_pool2d" => x[0].adaptive_avg_pool2d(size2(p, "output")),
        "conv_transpose1d" => x[0].conv_transpose1d(
            x[1],
            x.get(2).copied(),
            ConvOptions::new()
                .stride(p.usize("stride"))
                .padding(p.usize("padding"))
                .output_padding(p.usize("output_padding"))
                .dilation(p.usize("dilation"))
                .groups(p.usize("groups")),
        ),
        "group_norm" => x[0].group_norm(
            p.usize("groups"),
            x.get(1).copied(),
            x.get(2).copied(),
            p.f64("eps"),
        ),
        "instance_norm" => x[0].instance_norm(x.get(1).copied(), x.get(2).copied(), p.f64("eps")),
        "interpolate" => x[0].interpolate(interpolate(p)),
        other => panic!("no ferrograd op for the fixture's key {other:?}"),
    }
}

#[test]
fn every_vision_op_matches_pytorch() {
    golden::check(
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/vision_golden.json",
        build,
        &[],
    );
}
