//! PyTorch's attention and Transformer modules, their weights loaded into ours, give
//! PyTorch's outputs, attention weights and input gradients: the reference is
//! `fixtures/transformer.safetensors`, written by `fixtures/make_transformer.py` (torch
//! 2.15.0), which documents every tensor in it. The expected values were computed in
//! float64 from the float32 weights, so a float64 model matches them to rounding and a
//! float32 one to ~1e-5.

use ferrograd_autograd::{AttnMask, Float, Graph, Tensor, Var};
use ferrograd_nn::serialize::{LoadOptions, TensorFile};
use ferrograd_nn::*;

fn fixture() -> TensorFile {
    TensorFile::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/transformer.safetensors"
    ))
    .unwrap()
}

/// Loads `module` from the tensors named `case.` + its parameter names (all of them, and
/// nothing else under that prefix), casting the float32 weights to `T`; eval mode.
fn load<T: Float, M: Module<T>>(file: &mut TensorFile, case: &str, module: &M) {
    let options = LoadOptions::new().cast(true);
    file.load_module_with(module, &format!("{case}."), &options)
        .unwrap();
    module.eval();
}

/// The float32 input `in.<name>` as a `T` tensor.
fn input<T: Float>(file: &mut TensorFile, name: &str) -> Tensor<T> {
    file.tensor::<f32>(&format!("in.{name}"), None)
        .unwrap()
        .cast()
}

/// Asserts that `got` matches the float64 tensor `name` within `tol`.
#[track_caller]
fn assert_close<T: Float>(file: &mut TensorFile, name: &str, got: &Tensor<T>, tol: f64) {
    let want = file.tensor::<f64>(name, None).unwrap();
    assert_eq!(got.shape(), want.shape(), "{name}: shape");
    let got: Vec<f64> = got.to_vec().iter().map(|v| v.as_f64()).collect();
    for (i, (a, b)) in got.iter().zip(want.to_vec()).enumerate() {
        assert!(
            (a - b).abs() <= tol,
            "{name}: element {i}: {a} vs PyTorch {b} (tolerance {tol})"
        );
    }
}

/// Asserts the gradients of the `inputs` (after `backward`) against `grad.<case>.<name>`.
#[track_caller]
fn assert_grads<T: Float>(
    file: &mut TensorFile,
    case: &str,
    inputs: &[(&str, Var<'_, T>)],
    tol: f64,
) {
    for (name, x) in inputs {
        assert_close(
            file,
            &format!("grad.{case}.{name}"),
            &x.grad().unwrap(),
            tol,
        );
    }
}

fn mha_matches_pytorch<T: Float>(tol: f64) {
    let mut file = fixture();
    let mha = MultiheadAttention::<T>::new(8, 2, &mut init::rng(0));
    load(&mut file, "mha", &mha);
    let g = Graph::<T>::new();
    let q = g.var(input(&mut file, "mha.query"));
    let k = g.var(input(&mut file, "mha.key"));
    let v = g.var(input(&mut file, "mha.value"));
    let (out, none) = mha.attend(q, k, v, MhaOptions::new());
    assert!(none.is_none());
    assert_close(&mut file, "out.mha.out", &out.value(), tol);
    out.sum().backward();
    assert_grads(
        &mut file,
        "mha",
        &[("query", q), ("key", k), ("value", v)],
        tol,
    );

    let pad = g.constant(input(&mut file, "mha.key_padding"));
    let options = MhaOptions::new()
        .key_padding_mask(KeyPadding::Ignore(pad))
        .need_weights();
    let (out, weights) = mha.attend(q, k, v, options);
    assert_close(&mut file, "out.mha.pad_out", &out.value(), tol);
    assert_close(
        &mut file,
        "out.mha.pad_weights",
        &weights.unwrap().value(),
        tol,
    );

    // PyTorch's boolean attn_mask (True = may not attend) is `Allowed` of its complement;
    // `causal()` gives the same.
    let lower = g.constant(Tensor::<T>::ones(&[3, 3])).tril(0);
    for options in [
        MhaOptions::new().attn_mask(AttnMask::Allowed(lower)),
        MhaOptions::new().causal(),
    ] {
        let (out, weights) = mha.attend(q, q, q, options.per_head_weights());
        assert_close(&mut file, "out.mha.causal_out", &out.value(), tol);
        let weights = weights.unwrap().value();
        assert_close(&mut file, "out.mha.causal_weights", &weights, tol);
        let (fused, _) = mha.attend(q, q, q, options);
        assert_close(&mut file, "out.mha.causal_out", &fused.value(), tol);
    }
}

#[test]
fn multihead_attention_matches_pytorch_in_f64() {
    mha_matches_pytorch::<f64>(1e-10);
}

#[test]
fn multihead_attention_matches_pytorch_in_f32() {
    mha_matches_pytorch::<f32>(1e-5);
}

fn mha_kdim_vdim_matches_pytorch<T: Float>(tol: f64) {
    let mut file = fixture();
    let mha = MultiheadAttention::builder(8, 2)
        .kdim_vdim(4, 6)
        .build::<T, _>(&mut init::rng(0));
    load(&mut file, "mha_kv", &mha);
    let g = Graph::<T>::new();
    let q = g.var(input(&mut file, "mha_kv.query"));
    let k = g.var(input(&mut file, "mha_kv.key"));
    let v = g.var(input(&mut file, "mha_kv.value"));
    let (out, weights) = mha.attend(q, k, v, MhaOptions::new().need_weights());
    assert_close(&mut file, "out.mha_kv.out", &out.value(), tol);
    assert_close(
        &mut file,
        "out.mha_kv.weights",
        &weights.unwrap().value(),
        tol,
    );
    out.sum().backward();
    assert_grads(
        &mut file,
        "mha_kv",
        &[("query", q), ("key", k), ("value", v)],
        tol,
    );
}

#[test]
fn multihead_attention_with_kdim_vdim_matches_pytorch() {
    mha_kdim_vdim_matches_pytorch::<f64>(1e-10);
    mha_kdim_vdim_matches_pytorch::<f32>(1e-5);
}

fn small(norm_first: bool, activation: TransformerActivation) -> TransformerConfig {
    TransformerConfig::new(8, 2)
        .dim_feedforward(16)
        .norm_first(norm_first)
        .activation(activation)
}

fn encoders_match_pytorch<T: Float>(tol: f64) {
    let mut file = fixture();
    let mut rng = init::rng(0);
    let post = TransformerEncoder::<T>::new(small(false, TransformerActivation::ReLU), 2, &mut rng);
    load(&mut file, "enc_post", &post);
    let g = Graph::<T>::new();
    let src = g.var(input(&mut file, "enc_post.src"));
    let pad = g.constant(input(&mut file, "enc_post.key_padding"));
    let out = post.forward_masked(
        src,
        MhaOptions::new().key_padding_mask(KeyPadding::Ignore(pad)),
    );
    assert_close(&mut file, "out.enc_post.out", &out.value(), tol);
    out.sum().backward();
    assert_grads(&mut file, "enc_post", &[("src", src)], tol);

    let pre = TransformerEncoder::<T>::new(small(true, TransformerActivation::GELU), 2, &mut rng)
        .with_final_norm();
    load(&mut file, "enc_pre", &pre);
    let src = g.var(input(&mut file, "enc_pre.src"));
    let out = pre.forward_masked(src, MhaOptions::new().causal());
    assert_close(&mut file, "out.enc_pre.out", &out.value(), tol);
    out.sum().backward();
    assert_grads(&mut file, "enc_pre", &[("src", src)], tol);
}

#[test]
fn transformer_encoders_match_pytorch() {
    encoders_match_pytorch::<f64>(1e-10);
    encoders_match_pytorch::<f32>(1e-5);
}

fn decoder_layers_match_pytorch<T: Float>(tol: f64) {
    let mut file = fixture();
    let mut rng = init::rng(0);
    let g = Graph::<T>::new();
    for (case, config) in [
        ("dec", small(false, TransformerActivation::ReLU)),
        ("dec_pre", small(true, TransformerActivation::GELU)),
    ] {
        let layer = TransformerDecoderLayer::<T>::new(config, &mut rng);
        load(&mut file, case, &layer);
        let tgt = g.var(input(&mut file, &format!("{case}.tgt")));
        let memory = g.var(input(&mut file, &format!("{case}.memory")));
        let out = if case == "dec" {
            let pad = g.constant(input(&mut file, "dec.memory_key_padding"));
            let memory_masks = MhaOptions::new().key_padding_mask(KeyPadding::Ignore(pad));
            layer.forward_masked(tgt, memory, MhaOptions::new().causal(), memory_masks)
        } else {
            layer.forward_inputs(&[tgt, memory])
        };
        assert_close(&mut file, &format!("out.{case}.out"), &out.value(), tol);
        out.sum().backward();
        assert_grads(&mut file, case, &[("tgt", tgt), ("memory", memory)], tol);
    }
}

#[test]
fn transformer_decoder_layers_match_pytorch() {
    decoder_layers_match_pytorch::<f64>(1e-10);
    decoder_layers_match_pytorch::<f32>(1e-5);
}
