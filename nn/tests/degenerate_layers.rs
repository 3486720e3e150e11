//! Layers built with a dimension of 0 or a size too large to allocate: no NaN from `1/√0`,
//! and a panic naming the layer and shape instead of an aborted process.

use ferrograd_autograd::{ConvOptions, Graph, Tensor};
use ferrograd_nn::init::{self, FanMode, Init};
use ferrograd_nn::*;

fn all_finite(m: &impl Module<f32>) -> bool {
    m.parameters()
        .iter()
        .all(|p| p.value().to_vec().iter().all(|v| v.is_finite()))
}

#[test]
fn linear_with_no_inputs_has_an_empty_weight_and_a_zero_bias_as_pytorch() {
    // torch.nn.Linear(0, 3): weight [3, 0], bias bound 1/√fan_in taken as 0.
    let layer = Linear::<f32>::new(0, 3, &mut init::rng(0));
    assert_eq!(layer.weight().shape(), vec![3, 0]);
    assert_eq!(layer.bias().unwrap().value().to_vec(), vec![0.0; 3]);
    let g = Graph::new();
    let y = layer.forward(g.constant(Tensor::zeros(&[2, 0])));
    assert_eq!(y.value().to_vec(), vec![0.0; 6]);
    let no_outputs = Linear::<f32>::new(4, 0, &mut init::rng(0));
    assert_eq!(no_outputs.num_params(), 0);
}

#[test]
fn convolutions_with_no_inputs_have_a_zero_bias() {
    let conv = Conv2d::<f32>::new(0, 4, 3, ConvOptions::new(), &mut init::rng(0));
    assert_eq!(conv.weight().shape(), vec![4, 0, 3, 3]);
    assert!(all_finite(&conv));
    let conv = Conv2d::<f32>::new(2, 4, (0, 3), ConvOptions::new(), &mut init::rng(0));
    assert!(all_finite(&conv));
    let conv = Conv1d::<f64>::new(0, 2, 3, ConvOptions::new(), &mut init::rng(0));
    let bias = conv.parameters()[1].value().to_vec();
    assert_eq!(bias, vec![0.0; 2]);
}

#[test]
fn recurrent_layers_with_no_inputs_are_finite() {
    assert!(all_finite(&SimpleRnn::<f32>::new(
        0,
        3,
        2,
        &mut init::rng(0)
    )));
    assert!(all_finite(&Lstm::<f32>::new(0, 3, 1, &mut init::rng(0))));
    assert!(all_finite(&Gru::<f32>::new(0, 3, 1, &mut init::rng(0))));
}

#[test]
#[should_panic(expected = "Lstm: hidden_size must be positive")]
fn lstm_panics_on_zero_hidden_size_as_pytorch() {
    Lstm::<f32>::new(3, 0, 1, &mut init::rng(0));
}

#[test]
#[should_panic(expected = "Gru: hidden_size must be positive")]
fn gru_panics_on_zero_hidden_size_as_pytorch() {
    Gru::<f32>::new(3, 0, 1, &mut init::rng(0));
}

#[test]
fn embeddings_and_norms_of_size_zero_are_empty() {
    assert_eq!(
        Embedding::<f32>::new(0, 4, &mut init::rng(0)).num_params(),
        0
    );
    assert_eq!(
        Embedding::<f32>::new(4, 0, &mut init::rng(0)).num_params(),
        0
    );
    assert_eq!(BatchNorm1d::<f32>::new(0).num_params(), 0);
    assert_eq!(LayerNorm::<f32>::new(&[0]).num_params(), 0);
}

#[test]
fn fan_based_initialisers_return_zero_element_tensors_empty() {
    let mut rng = init::rng(0);
    for rule in [
        Init::glorot_uniform(),
        Init::XavierNormal { gain: 1.0 },
        Init::he_uniform(),
        Init::he_normal(),
        Init::KaimingUniform {
            gain: 1.0,
            mode: FanMode::FanOut,
        },
        Init::pytorch_default(),
    ] {
        for shape in [[0, 5], [5, 0], [0, 0]] {
            let t = rule.tensor::<f32, _>(&shape, &mut rng);
            assert_eq!(t.shape(), &shape, "{rule:?}");
        }
    }
}

// Shapes past the 128 TiB address space: the allocator refuses them whatever the
// overcommit policy (`Linear::new(1 << 20, 1 << 20)`, 4 TiB of f32, is refused here too
// under Linux' default heuristic overcommit).
#[test]
#[should_panic(
    expected = "Linear::new: weight of shape [33554432, 33554432] is too large: 1125899906842624 elements of f32 (4503599627370496 bytes) cannot be allocated"
)]
fn linear_too_large_to_allocate_panics_naming_itself_and_the_shape() {
    Linear::<f32>::new(1 << 25, 1 << 25, &mut init::rng(0));
}

#[test]
#[should_panic(
    expected = "Conv2d::new: weight of shape [4294967296, 4294967296, 3, 3] is too large: its dimensions multiply past isize::MAX"
)]
fn conv2d_whose_element_count_overflows_panics_naming_itself() {
    Conv2d::<f32>::new(1 << 32, 1 << 32, 3, ConvOptions::new(), &mut init::rng(0));
}

#[test]
#[should_panic(
    expected = "Lstm::new: weight_ih_l0 of shape [17592186044416, 3] is too large: 52776558133248 elements of f64 (422212465065984 bytes) cannot be allocated"
)]
fn lstm_too_large_to_allocate_names_the_weight() {
    Lstm::<f64>::new(3, 1 << 42, 1, &mut init::rng(0));
}

#[test]
#[should_panic(
    expected = "Embedding::new: weight of shape [18014398509481984, 1024] is too large: its dimensions multiply past isize::MAX"
)]
fn embedding_too_large_panics_naming_itself() {
    Embedding::<f32>::new(1 << 54, 1024, &mut init::rng(0));
}

#[test]
#[should_panic(
    expected = "BatchNorm2d::new: weight of shape [2305843009213693952] is too large: 2305843009213693952 elements of f32 (9223372036854775808 bytes) cannot be allocated"
)]
fn batch_norm_too_large_panics_naming_itself() {
    BatchNorm2d::<f32>::new(1 << 61);
}

#[test]
#[should_panic(
    expected = "Init::tensor: shape [1125899906842624, 1024] is too large: 1152921504606846976 elements of f32 (4611686018427387904 bytes) cannot be allocated"
)]
fn init_tensor_too_large_panics_naming_the_shape() {
    Init::Zeros.tensor::<f32, _>(&[1 << 50, 1024], &mut init::rng(0));
}

#[test]
#[ignore = "depends on the host's overcommit policy; run by hand"]
#[should_panic(expected = "Linear::new: weight of shape [1048576, 1048576] is too large")]
fn linear_of_four_tib_panics_under_heuristic_overcommit() {
    Linear::<f32>::new(1 << 20, 1 << 20, &mut init::rng(0));
}

#[test]
#[should_panic(expected = "Lstm::new: 4 gates × hidden_size 4611686018427387904 overflows usize")]
fn lstm_whose_gate_rows_overflow_panics_naming_itself() {
    Lstm::<f32>::new(3, 1 << 62, 1, &mut init::rng(0));
}

#[test]
#[should_panic(
    expected = "Conv2d::new: weight of shape [0, 1099511627776, 1048576, 1048576] is too large: its dimensions multiply past isize::MAX"
)]
fn a_conv_with_no_outputs_but_an_unrepresentable_shape_panics_naming_itself() {
    // No elements, but ndarray cannot represent the shape (its non-zero dimensions
    // multiply past isize::MAX); the fan in would overflow too.
    Conv2d::<f32>::new(
        1 << 40,
        0,
        (1 << 20, 1 << 20),
        ConvOptions::new(),
        &mut init::rng(0),
    );
}
