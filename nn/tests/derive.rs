//! `#[derive(Module)]`: every kind of field is visited under its name, generic and f64
//! models work, and skipped fields stay out.

use ferrograd_autograd::{Float, Graph, Param, Tensor, Var};
use ferrograd_nn::{Dropout, LayerRng, Linear, Mode, Module, ModuleExt, Sequential, init};

#[derive(Module)]
struct Net {
    fc1: Linear,
    drop: Dropout,
    heads: Vec<Linear>,
    extra: Option<Linear>,
    missing: Option<Linear>,
    scale: Param<f32>,
    #[module(buffer)]
    steps: Param<f32>,
    scales: Vec<Param<f32>>,
    mode: Mode,
    rng: LayerRng,
    #[module(skip)]
    label: String,
}

impl Net {
    fn forward<'g>(&self, x: Var<'g>) -> Var<'g> {
        let g = x.graph();
        let h = self.drop.forward(self.fc1.forward(x).relu()) * g.param(&self.scale);
        self.heads.iter().fold(h, |h, head| head.forward(h))
    }
}

fn net() -> Net {
    let mut rng = init::rng(0);
    Net {
        fc1: Linear::new(3, 4, &mut rng),
        drop: Dropout::new(0.5, 1),
        heads: vec![Linear::new(4, 4, &mut rng), Linear::new(4, 2, &mut rng)],
        extra: Some(Linear::new(2, 2, &mut rng)),
        missing: None,
        scale: Param::new(Tensor::scalar(1.0)),
        steps: Param::new(Tensor::scalar(0.0)),
        scales: vec![Param::new(Tensor::scalar(2.0))],
        mode: Mode::default(),
        rng: LayerRng::new(3),
        label: "net".into(),
    }
}

#[test]
fn every_field_is_visited_under_its_name() {
    let model = net();
    let mut seen = Vec::new();
    Module::<f32>::visit(&model, &mut |name, slot| {
        let kind = match slot {
            ferrograd_nn::Slot::Param(_) => "param",
            ferrograd_nn::Slot::Buffer(_) => "buffer",
            ferrograd_nn::Slot::Mode(_) => "mode",
            ferrograd_nn::Slot::Rng(_) => "rng",
        };
        seen.push(format!("{name}:{kind}"));
    });
    assert_eq!(
        seen,
        [
            "fc1.weight:param",
            "fc1.bias:param",
            "drop.mode:mode",
            "drop.rng:rng",
            "heads.0.weight:param",
            "heads.0.bias:param",
            "heads.1.weight:param",
            "heads.1.bias:param",
            "extra.weight:param",
            "extra.bias:param",
            "scale:param",
            "steps:buffer",
            "scales.0:param",
            "mode:mode",
            "rng:rng",
        ]
    );
    assert_eq!(model.label, "net");
    assert_eq!(
        model.num_params(),
        3 * 4 + 4 + 4 * 4 + 4 + 4 * 2 + 2 + 2 * 2 + 2 + 1 + 1
    );
}

#[test]
fn the_derived_forward_is_the_inherent_one_and_gradients_reach_every_field() {
    let model = net();
    model.eval();
    let g = Graph::new();
    let x = g.constant(Tensor::ones(&[5, 3]));
    let y = Module::forward(&model, x);
    assert_eq!(y.value(), model.forward(x).value());
    y.sum().backward();
    assert!(model.fc1.weight().grad().is_some() && model.scale.grad().is_some());
    assert!(!model.drop.is_training());
}

/// A generic model: the derive implements `Module<T>` for the struct's float parameter.
#[derive(Module)]
struct Affine<T: Float> {
    layer: Linear<T>,
}

impl<T: Float> Affine<T> {
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        self.layer.forward(x)
    }
}

/// A tuple struct of f64 layers, its float type named.
#[derive(Module)]
#[module(float = f64)]
struct Pair(Linear<f64>, Sequential<f64>);

impl Pair {
    fn forward<'g>(&self, x: Var<'g, f64>) -> Var<'g, f64> {
        self.1.forward(self.0.forward(x))
    }
}

#[test]
fn generic_and_f64_models_derive_too() {
    let affine = Affine::<f64> {
        layer: Linear::new(2, 3, &mut init::rng(0)),
    };
    let names: Vec<_> = affine
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["layer.weight", "layer.bias"]);
    let pair = Pair(
        Linear::new(2, 2, &mut init::rng(1)),
        Sequential::new().add(Linear::new(2, 1, &mut init::rng(2))),
    );
    let names: Vec<_> = pair
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.0.weight", "1.0.bias"]);
    let g = Graph::<f64>::new();
    assert_eq!(
        Module::forward(&pair, g.constant(Tensor::ones(&[4, 2]))).shape(),
        vec![4, 1]
    );
}

#[test]
fn a_struct_models_summary_has_a_row_per_layer_under_its_name() {
    let model = net();
    let summary = model.summary(&[5, 3]);
    let rows: Vec<(&str, Vec<usize>, usize)> = summary
        .rows
        .iter()
        .map(|r| (r.layer.as_str(), r.output.clone(), r.params))
        .collect();
    assert_eq!(
        rows,
        [
            ("fc1 (Linear)", vec![5, 4], 16),
            ("drop (Dropout)", vec![5, 4], 0),
            ("heads.0 (Linear)", vec![5, 4], 20),
            ("heads.1 (Linear)", vec![5, 2], 10),
        ]
    );
    // The totals count every parameter, those of layers forward did not use included.
    assert_eq!(summary.total, model.num_params());
    // A nested Sequential's layers are named by their position in it.
    let pair = Pair(
        Linear::new(2, 2, &mut init::rng(1)),
        Sequential::new().add(Linear::new(2, 1, &mut init::rng(2))),
    );
    let names: Vec<String> = pair
        .summary(&[4, 2])
        .rows
        .into_iter()
        .map(|r| r.layer)
        .collect();
    assert_eq!(names, ["0 (Linear)", "1.0 (Linear)"]);
}

/// `inputs = 2`: `forward_inputs` calls the inherent forward of two inputs.
#[derive(Module)]
#[module(inputs = 2)]
struct TwoTower {
    left: Linear,
    right: Linear,
}

impl TwoTower {
    fn forward<'g>(&self, a: Var<'g>, b: Var<'g>) -> Var<'g> {
        self.left.forward(a) * self.right.forward(b)
    }
}

fn two_tower() -> TwoTower {
    TwoTower {
        left: Linear::new(2, 3, &mut init::rng(0)),
        right: Linear::new(4, 3, &mut init::rng(1)),
    }
}

#[test]
fn a_model_of_two_inputs_takes_them_through_forward_inputs() {
    let model = two_tower();
    let g = Graph::new();
    let (a, b) = (
        g.constant(Tensor::ones(&[5, 2])),
        g.constant(Tensor::ones(&[5, 4])),
    );
    let out = model.forward_inputs(&[a, b]);
    assert_eq!(out.value(), TwoTower::forward(&model, a, b).value());
    assert_eq!(out.shape(), vec![5, 3]);
}

#[test]
#[should_panic(expected = "TwoTower: forward takes 2 inputs, got one; call Module::forward_inputs")]
fn a_model_of_two_inputs_called_with_one_says_so() {
    let g = Graph::new();
    Module::forward(&two_tower(), g.constant(Tensor::ones(&[5, 2])));
}

#[test]
#[should_panic(expected = "TwoTower: forward takes 2 inputs, the batch has 3")]
fn a_model_of_two_inputs_given_three_says_so() {
    let g = Graph::new();
    let x = g.constant(Tensor::ones(&[5, 2]));
    two_tower().forward_inputs(&[x, x, x]);
}
