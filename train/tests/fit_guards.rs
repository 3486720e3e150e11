//! What `fit`, `evaluate` and `predict` do when training goes wrong: a NaN or infinite
//! gradient, anomaly mode, empty data, and parameters that get no gradient.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use ferrograd_autograd::{Param, Tensor, Var, grads};
use ferrograd_data::dataset::{Dataset, Targets, TensorDataset};
use ferrograd_data::synthetic::make_regression;
use ferrograd_nn::loss::{Reduction, mse_loss};
use ferrograd_nn::{Linear, Module, ModuleExt, Sequential, Slot, init, visit_child};
use ferrograd_optim::*;
use ferrograd_train::metrics::*;
use ferrograd_train::*;

/// 16 rows of 2 features and 2 targets, in batches of 4 (4 batches an epoch, unshuffled).
fn data() -> TensorDataset<f32> {
    let x = Tensor::<f32>::rand_normal(&[16, 2], 0.0, 1.0, &mut init::rng(1));
    let y = Tensor::<f32>::rand_normal(&[16, 2], 0.0, 1.0, &mut init::rng(2));
    TensorDataset::new(x, Targets::Values(y))
}

fn options() -> FitOptions {
    FitOptions::new().epochs(3).batch_size(4).shuffle(None)
}

/// Identity forward; backward multiplies the gradient by `factor` (broadcast).
fn poison<'g>(x: Var<'g, f32>, factor: Tensor<f32>) -> Var<'g, f32> {
    x.graph().custom_op(
        "poison",
        &[x],
        |v| v[0].clone(),
        move |ctx, grad| grads![Some(grad * ctx.graph().constant(factor.clone()))],
    )
}

/// A factor for [`poison`] that is 1 except in the second output column.
fn second_column(v: f32) -> Tensor<f32> {
    Tensor::from_vec(vec![1.0, v], &[2])
}

/// Every parameter's value bit for bit.
fn bits(params: &[Param<f32>]) -> Vec<Vec<u32>> {
    params
        .iter()
        .map(|p| p.value().to_vec().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// An MSE loss that snapshots `params` on every call (before that batch's update) and
/// passes call number `at` (from 0) through `then`.
fn watched_loss(
    params: Vec<Param<f32>>,
    at: usize,
    then: impl for<'g> Fn(Var<'g, f32>) -> Var<'g, f32> + 'static,
) -> (Loss, Rc<RefCell<Vec<Vec<u32>>>>) {
    let snapshot = Rc::new(RefCell::new(Vec::new()));
    let calls = Cell::new(0);
    let seen = Rc::clone(&snapshot);
    let loss = Loss::custom("watched_mse", move |out, y| {
        *seen.borrow_mut() = bits(&params);
        let n = calls.replace(calls.get() + 1);
        let out = if n == at { then(out) } else { out };
        let target = out.graph().constant(y.values().clone());
        mse_loss(out, target, Reduction::Mean)
    });
    (loss, snapshot)
}

fn linear() -> Sequential<f32> {
    Sequential::new().add(Linear::new(2, 2, &mut init::rng(0)))
}

#[test]
fn a_nan_gradient_stops_fit_naming_epoch_batch_and_parameter_with_the_weights_unchanged() {
    let model = linear();
    // Call 5 is epoch 1, batch 1; the NaN enters the second output column's gradient, so
    // row 1 of the weight [out, in] is the first non-finite element.
    let (loss, before) = watched_loss(model.parameters(), 5, |out| {
        poison(out, second_column(f32::NAN))
    });
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1).momentum(0.9));
    let err = fit(&model, &loss, &mut opt, &data(), options(), &mut []).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the gradient of `0.weight` holds NaN at element [1, 0] at epoch 1, batch 1: training stopped before the update"
    );
    let TrainError::NonFiniteGradient {
        epoch: 1,
        batch: 1,
        parameter,
        element,
        kind: NonFiniteKind::NaN,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!((parameter.as_str(), element), ("0.weight", vec![1, 0]));
    assert_eq!(bits(&model.parameters()), *before.borrow());
    assert_eq!(opt.steps(), 5, "the failing batch took no step");
    // The gradients stay for inspection.
    assert!(model.parameters()[0].grad().unwrap().to_vec()[2].is_nan());
}

#[test]
fn an_infinite_gradient_is_reported_as_inf() {
    let model = linear();
    let (loss, before) = watched_loss(model.parameters(), 0, |out| {
        // Only the first row's second column: one infinity per weight row 1 sum, no inf − inf.
        let mut factor = vec![1.0; 8];
        factor[1] = f32::INFINITY;
        poison(out, Tensor::from_vec(factor, &[4, 2]))
    });
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.1));
    let err = fit(&model, &loss, &mut opt, &data(), options(), &mut []).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the gradient of `0.weight` holds inf at element [1, 0] at epoch 0, batch 0: training stopped before the update"
    );
    assert!(matches!(
        err,
        TrainError::NonFiniteGradient {
            kind: NonFiniteKind::Inf,
            ..
        }
    ));
    assert_eq!(bits(&model.parameters()), *before.borrow());
}

#[test]
fn a_non_finite_loss_is_still_caught_before_backward() {
    let model = linear();
    let (loss, before) = watched_loss(model.parameters(), 2, |out| out.mul_scalar(f32::NAN));
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    let err = fit(&model, &loss, &mut opt, &data(), options(), &mut []).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the loss is NaN at epoch 0, batch 2: training stopped"
    );
    assert_eq!(bits(&model.parameters()), *before.borrow());
}

#[test]
fn anomaly_mode_in_fit_reports_the_forward_op_and_the_line_that_called_it() {
    let line = Rc::new(Cell::new(0));
    let at_line = Rc::clone(&line);
    let model = linear();
    let (loss, before) = watched_loss(model.parameters(), 2, move |out| {
        at_line.set(line!() + 1);
        out.mul_scalar(0.0).ln()
    });
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    let err = fit(
        &model,
        &loss,
        &mut opt,
        &data(),
        options().detect_anomaly(true),
        &mut [],
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "epoch 0, batch 2: anomaly: forward of `ln` produced inf at element [0, 0] of its output of shape [4, 2] (input shapes [[4, 2]]); op called at "
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!("fit_guards.rs:{}:", line.get())),
        "{message} should name line {}",
        line.get()
    );
    assert!(matches!(
        err,
        TrainError::Anomaly {
            epoch: 0,
            batch: 2,
            ..
        }
    ));
    assert_eq!(bits(&model.parameters()), *before.borrow());
}

#[test]
fn anomaly_mode_in_fit_reports_the_backward_op_that_made_a_gradient_nan() {
    let model = linear();
    let (loss, before) = watched_loss(model.parameters(), 1, |out| {
        poison(out, second_column(f32::NAN))
    });
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    let err = fit(
        &model,
        &loss,
        &mut opt,
        &data(),
        options().detect_anomaly(true),
        &mut [],
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "epoch 0, batch 1: anomaly: backward of `poison` produced NaN at element [0, 1] of the gradient for input 0 of shape [4, 2]"
        ),
        "{err}"
    );
    assert_eq!(bits(&model.parameters()), *before.borrow());
}

#[test]
#[should_panic(expected = "a bug in the loss")]
fn anomaly_mode_in_fit_lets_other_panics_through() {
    let model = linear();
    let (loss, _) = watched_loss(model.parameters(), 0, |_| panic!("a bug in the loss"));
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    let _ = fit(
        &model,
        &loss,
        &mut opt,
        &data(),
        options().detect_anomaly(true),
        &mut [],
    );
}

fn empty() -> TensorDataset<f32> {
    TensorDataset::new(
        Tensor::zeros(&[0, 2]),
        Targets::Values(Tensor::zeros(&[0, 2])),
    )
}

#[test]
fn fit_on_empty_data_is_an_error_not_a_loss_of_zero() {
    let model = linear();
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    let mut fit_on = |train: &TensorDataset<f32>, validation| {
        fit(
            &model,
            Loss::mse(),
            &mut opt,
            train,
            options().validation(validation),
            &mut [],
        )
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        fit_on(&empty(), Validation::None),
        "fit: no training samples (the dataset is empty)"
    );
    assert_eq!(
        fit_on(&data().subset(&[0]), Validation::Split(0.5)),
        "fit: no training samples (a validation split of 0.5 leaves 0 of the 1 samples for training)"
    );
    assert_eq!(
        fit_on(&data(), Validation::Data(empty())),
        "fit: no validation samples (the validation dataset is empty)"
    );
}

#[test]
fn evaluate_on_empty_data_is_an_error_from_try_evaluate() {
    let model = linear();
    let err = try_evaluate(&model, Loss::mse(), &empty(), &mut [&mut Mae::new()], 4).unwrap_err();
    assert!(matches!(
        &err,
        TrainError::NoSamples {
            op: "evaluate",
            data: None,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "evaluate: no samples (the dataset is empty)"
    );
}

#[test]
#[should_panic(expected = "evaluate: no samples (the dataset is empty)")]
fn evaluate_panics_on_empty_data() {
    evaluate(&linear(), Loss::mse(), &empty(), &mut [], 4);
}

#[test]
fn predict_on_zero_rows_has_the_models_output_shape() {
    let model = linear();
    let out = predict(&model, &Tensor::zeros(&[0, 2]), 4);
    assert_eq!(out.shape(), &[0, 2]);
    assert_eq!(predict(&model, &Tensor::zeros(&[3, 2]), 2).shape(), &[3, 2]);
}

#[test]
fn an_optimizer_over_another_models_parameters_stops_fit_at_the_first_batch() {
    let model = linear();
    let other = linear();
    let (mine, theirs) = (bits(&model.parameters()), bits(&other.parameters()));
    let mut opt = Optimizer::new(other.parameters(), Adam::new(0.1));
    let err = fit(&model, Loss::mse(), &mut opt, &data(), options(), &mut []).unwrap_err();
    assert_eq!(
        err.to_string(),
        "epoch 0, batch 0: Adam: none of its 2 trainable parameters has a gradient; was backward called on a loss of the model whose parameters this optimizer holds?"
    );
    assert!(matches!(
        err,
        TrainError::Step {
            epoch: 0,
            batch: 0,
            source: OptimizerError::NoGradient {
                optimizer: "Adam",
                params: 2
            }
        }
    ));
    assert_eq!(bits(&model.parameters()), mine);
    assert_eq!(bits(&other.parameters()), theirs);
}

/// Two layers, of which `forward` uses only `used`.
struct HalfUsed {
    used: Linear<f32>,
    unused: Linear<f32>,
}

impl Module<f32> for HalfUsed {
    fn forward<'g>(&self, x: Var<'g, f32>) -> Var<'g, f32> {
        self.used.forward(x)
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, f32>)) {
        visit_child("used", &self.used, f);
        visit_child("unused", &self.unused, f);
    }
}

#[test]
fn parameters_without_a_gradient_are_listed_once_by_name_and_the_rest_trains() {
    let mut rng = init::rng(0);
    let model = HalfUsed {
        used: Linear::new(2, 2, &mut rng),
        unused: Linear::new(2, 2, &mut rng),
    };
    let stray = Param::new(Tensor::<f32>::zeros(&[3]));
    let mut params = model.parameters();
    params.push(stray.clone());
    let unused_before = bits(&model.unused.parameters());
    let used_before = bits(&model.used.parameters());
    let mut opt = Optimizer::new(params, Sgd::new(0.1));
    let history = fit(&model, Loss::mse(), &mut opt, &data(), options(), &mut []).unwrap();
    assert_eq!(
        history.without_gradient,
        vec![
            "unused.weight".to_string(),
            "unused.bias".to_string(),
            "optimizer parameter 4".to_string(),
        ]
    );
    assert_eq!(history.epochs.len(), 3);
    assert_eq!(bits(&model.unused.parameters()), unused_before);
    assert_ne!(bits(&model.used.parameters()), used_before);
}

#[test]
fn a_frozen_model_trains_nothing_without_error_or_warning() {
    let model = linear();
    model.freeze();
    let before = bits(&model.parameters());
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    let data = make_regression::<f32>(8, 2, 0.1, 0);
    let data = TensorDataset::new(
        data.x().clone(),
        Targets::Values(Tensor::zeros(&[data.len(), 2])),
    );
    let history = fit(&model, Loss::mse(), &mut opt, &data, options(), &mut []).unwrap();
    assert!(history.without_gradient.is_empty());
    assert_eq!(bits(&model.parameters()), before);
}
