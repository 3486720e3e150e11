//! fit / evaluate / predict with callbacks, on small synthetic problems.

use ferrograd_autograd::Tensor;
use ferrograd_data::dataset::{Dataset, Targets, TensorDataset};
use ferrograd_data::split::train_test_split;
use ferrograd_data::synthetic::{make_blobs, make_regression};
use ferrograd_nn::loss::CrossEntropy;
use ferrograd_nn::{Linear, Module, ModuleExt, ReLU, Sequential, init};
use ferrograd_optim::schedule::{MonitorMode, ReduceLrOnPlateau, StepLr};
use ferrograd_optim::*;
use ferrograd_train::callbacks::*;
use ferrograd_train::metrics::*;
use ferrograd_train::*;

fn mlp(inputs: usize, outputs: usize, seed: u64) -> Sequential<f32> {
    let mut rng = init::rng(seed);
    Sequential::new()
        .add(Linear::new(inputs, 16, &mut rng))
        .add(ReLU)
        .add(Linear::new(16, outputs, &mut rng))
}

#[test]
fn fit_classifies_blobs_and_predict_agrees_with_evaluate() {
    let data = make_blobs::<f32>(300, 2, 3, 1.0, 7);
    let split = train_test_split(data.len(), 0.2, 0, Some(data.y().classes()));
    let (train, test) = (data.subset(&split.train), data.subset(&split.test));
    let model = mlp(2, 3, 0);
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.01));
    let options = FitOptions::new()
        .epochs(30)
        .batch_size(16)
        .metric(Accuracy::new())
        .metric(Accuracy::top_k(2))
        .validation(Validation::Data(test.clone()));
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &train,
        options,
        &mut [],
    )
    .unwrap();
    let loss = history.get("loss");
    assert!(loss[29] < loss[0] / 4.0, "{loss:?}");
    // The stated target: blobs of std 1 are separable to at least 95%.
    let eval = evaluate(
        &model,
        CrossEntropy::new(),
        &test,
        &mut [&mut Accuracy::new()],
        32,
    );
    assert!(eval["accuracy"] >= 0.95, "{eval:?}");
    assert_eq!(
        eval["accuracy"],
        *history.get("val_accuracy").last().unwrap()
    );
    let svg = std::env::temp_dir().join(format!("ferrograd-history-{}.svg", std::process::id()));
    history.plot(&svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    // The words of the <text> elements: captions, axis labels, legend entries.
    let words: Vec<&str> = text
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next())
        .map(str::trim)
        .collect();
    for label in [
        "loss",
        "val_loss",
        "accuracy",
        "val_accuracy",
        "lr",
        "epoch",
    ] {
        assert!(
            words.contains(&label),
            "{label} missing from the plot: {words:?}"
        );
    }
    std::fs::remove_file(&svg).ok();
    let logits = predict(&model, test.x(), 7);
    assert_eq!(logits.shape(), &[test.len(), 3]);
    assert_eq!(
        {
            let mut accuracy = metrics::Accuracy::new();
            accuracy.update(&logits, test.y());
            accuracy.result()
        },
        eval["accuracy"]
    );
}

#[test]
fn fit_regression_reaches_the_noise_floor() {
    let data = make_regression::<f32>(256, 3, 0.1, 1);
    let model = Linear::<f32>::new(3, 1, &mut init::rng(0));
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.05).momentum(0.9));
    let options = FitOptions::new()
        .epochs(40)
        .batch_size(32)
        .metric(Mae::new());
    let history = fit(&model, Loss::mse(), &mut opt, &data, options, &mut []).unwrap();
    // Noise of std 0.1 gives an MSE floor of 0.01.
    assert!(
        *history.get("loss").last().unwrap() < 0.02,
        "{:?}",
        history.get("loss")
    );
}

#[test]
fn a_diverging_loss_stops_with_an_error_naming_epoch_and_batch() {
    let data = make_regression::<f32>(64, 3, 0.0, 1);
    let model = Linear::<f32>::new(3, 1, &mut init::rng(0));
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(10.0));
    let err = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        FitOptions::new().epochs(50).batch_size(8),
        &mut [],
    )
    .unwrap_err();
    let TrainError::NonFinite { epoch, batch, .. } = err else {
        panic!("{err}")
    };
    assert!(err.to_string().starts_with("the loss is "), "{err}");
    assert!(err.to_string().ends_with(&format!(
        "at epoch {epoch}, batch {batch}: training stopped"
    )));
    assert!(
        model
            .parameters()
            .iter()
            .all(|p| p.value().to_vec().iter().all(|v| v.is_finite()))
    );
}

#[test]
fn early_stopping_in_fit_restores_the_best_weights() {
    // Labels are noise: validation loss stops improving almost at once.
    let x = Tensor::<f32>::rand_normal(&[120, 2], 0.0, 1.0, &mut init::rng(3));
    let y: Vec<usize> = (0..120).map(|i| (i * 7919) % 2).collect();
    let data = TensorDataset::new(x, Targets::Classes(y));
    let split = train_test_split(120, 0.5, 1, None);
    let model = mlp(2, 2, 1);
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.05));
    // EarlyStopping is itself the callback (Keras' one type per concept).
    let mut stop = EarlyStopping::new(MonitorMode::Min)
        .monitor("val_loss")
        .patience(3)
        .restore_best_weights(true);
    let val = data.subset(&split.test);
    let options = FitOptions::new()
        .epochs(200)
        .batch_size(10)
        .validation(Validation::Data(val.clone()));
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &data.subset(&split.train),
        options,
        &mut [&mut stop],
    )
    .unwrap();
    let epochs = history.epochs.len();
    assert!(epochs < 200, "stopped early");
    let best = stop.best_epoch().unwrap();
    assert_eq!(epochs, best + 4, "stops patience epochs after the best");
    let val_loss = history.get("val_loss");
    let restored = evaluate(&model, CrossEntropy::new(), &val, &mut [], 10)["loss"];
    assert!(
        (restored - val_loss[best]).abs() < 1e-6,
        "{restored} vs {}",
        val_loss[best]
    );
}

#[test]
fn schedules_plateau_checkpoint_and_csv_callbacks() {
    let dir = std::env::temp_dir().join(format!("ferrograd-fit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = make_regression::<f32>(64, 2, 0.1, 2);
    let model = Linear::<f32>::new(2, 1, &mut init::rng(0));
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    let mut sched = LrScheduler::new(StepLr {
        step_size: 2,
        gamma: 0.5,
    });
    let mut ckpt =
        ModelCheckpoint::best_only(dir.join("best.safetensors"), "loss", MonitorMode::Min);
    let mut csv = CsvLogger::new(dir.join("log.csv"));
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        FitOptions::new().epochs(5).batch_size(16),
        &mut [&mut sched, &mut ckpt, &mut csv],
    )
    .unwrap();
    assert_eq!(history.get("lr"), vec![0.1, 0.1, 0.05, 0.05, 0.025]);
    // The checkpoint holds the best epoch's weights: loading it into a fresh model works.
    let fresh = Linear::<f32>::new(2, 1, &mut init::rng(9));
    fresh.load(dir.join("best.safetensors")).unwrap();
    let log = std::fs::read_to_string(dir.join("log.csv")).unwrap();
    assert!(log.starts_with("epoch,loss,lr\n0,"), "{log}");
    assert_eq!(log.lines().count(), 6);
    history.save(dir.join("history.json")).unwrap();
    let json = std::fs::read_to_string(dir.join("history.json")).unwrap();
    assert!(json.contains("\"lr\": [\n    0.1,"), "{json}");
    // Saving is atomic: a directory in the way is refused, and nothing is written.
    let err = history.save(&dir).unwrap_err().to_string();
    assert!(
        err.ends_with("is a directory, not a regular file; refusing to replace it"),
        "{err}"
    );

    // ReduceLrOnPlateau: a frozen model's loss cannot improve after the first epoch, so
    // with patience 0 the rate halves after every later epoch.
    model.freeze();
    // ReduceLrOnPlateau is itself the callback.
    let mut plateau = ReduceLrOnPlateau::new(MonitorMode::Min)
        .monitor("loss")
        .patience(0)
        .factor(0.5);
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.5));
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        FitOptions::new().epochs(4),
        &mut [&mut plateau],
    )
    .unwrap();
    assert_eq!(history.get("lr"), vec![0.5, 0.5, 0.25, 0.125]);
    assert_eq!(opt.lr(), 0.0625);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_missing_monitor_is_a_callback_error_naming_the_keys() {
    let data = make_regression::<f32>(16, 2, 0.1, 2);
    let model = Linear::<f32>::new(2, 1, &mut init::rng(0));
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.01));
    // The default monitor is `val_loss`; without validation data it is not logged.
    let mut stop = EarlyStopping::new(MonitorMode::Min);
    let err = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        FitOptions::new(),
        &mut [&mut stop],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "epoch 0: callback 0 (EarlyStopping) failed in on_epoch_end: monitored metric `val_loss` is not in the logs (available: [\"loss\", \"lr\"])"
    );
    let TrainError::Callback {
        epoch: 0,
        index: 0,
        callback,
        hook: "on_epoch_end",
        source,
    } = err
    else {
        panic!("not an on_epoch_end error of callback 0: {err:?}");
    };
    let CallbackError::MissingMetric { metric, available } = *source else {
        panic!("not a missing metric: {source:?}");
    };
    assert_eq!(callback, "EarlyStopping");
    assert_eq!(metric, "val_loss");
    assert_eq!(available, ["loss", "lr"]);
}

#[test]
fn a_failing_callback_is_named_by_index_name_and_hook() {
    /// Fails when epoch 1 begins, with an I/O error of its own.
    struct FailsAtBegin;
    impl Callback for FailsAtBegin {
        fn on_epoch_begin(
            &mut self,
            epoch: usize,
            _: &mut Context<'_>,
        ) -> Result<(), CallbackError> {
            if epoch == 1 {
                return Err(CallbackError::custom(std::io::Error::other(
                    "no space left",
                )));
            }
            Ok(())
        }
        fn on_epoch_end(
            &mut self,
            _: usize,
            _: &Logs,
            _: &mut Context<'_>,
        ) -> Result<(), CallbackError> {
            Ok(())
        }
    }
    let data = make_regression::<f32>(16, 2, 0.1, 2);
    let model = Linear::<f32>::new(2, 1, &mut init::rng(0));
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.01));
    let err = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        FitOptions::new().epochs(3),
        &mut [&mut TerminateOnNaN, &mut FailsAtBegin],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "epoch 1: callback 1 (FailsAtBegin) failed in on_epoch_begin: no space left"
    );
    let TrainError::Callback { source, .. } = &err else {
        panic!("not a callback error: {err:?}");
    };
    let CallbackError::Custom(inner) = &**source else {
        panic!("not a custom callback error: {source:?}");
    };
    assert_eq!(
        inner
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind),
        Some(std::io::ErrorKind::Other)
    );
}

#[test]
fn a_callback_state_missing_a_key_is_a_state_error_naming_it() {
    let mut stop = EarlyStopping::<f32>::new(MonitorMode::Min);
    let mut state = CallbackState::default();
    state.set("best", 0.5);
    let err = Callback::load_state(&mut stop, &state).unwrap_err();
    assert!(
        matches!(&err, CallbackError::State(StateError::Missing { key }) if key == "wait"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "`wait` is missing");
    state.set("wait", "x");
    assert_eq!(
        Callback::load_state(&mut stop, &state)
            .unwrap_err()
            .to_string(),
        "`wait` = \"x\" is not a valid usize"
    );

    let mut checkpoint = ModelCheckpoint::every_epoch("unused.safetensors");
    assert!(matches!(
        Callback::<f32>::load_state(&mut checkpoint, &CallbackState::default()),
        Err(CallbackError::State(StateError::Missing { .. }))
    ));
}

#[test]
fn csv_logger_names_the_file_it_cannot_write() {
    let dir = std::env::temp_dir().join(format!("ferrograd-csv-missing-{}", std::process::id()));
    let path = dir.join("no-such-dir").join("log.csv");
    let data = make_regression::<f32>(16, 2, 0.1, 2);
    let model = Linear::<f32>::new(2, 1, &mut init::rng(0));
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.01));
    let mut log = CsvLogger::new(&path);
    let err = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        FitOptions::new(),
        &mut [&mut log],
    )
    .unwrap_err();
    let TrainError::Callback { source, .. } = &err else {
        panic!("not a callback error: {err:?}");
    };
    let CallbackError::Io { path: p, .. } = &**source else {
        panic!("not an I/O callback error: {source:?}");
    };
    assert_eq!(p, &path);
    assert!(err.to_string().contains("log.csv: "), "{err}");
}

#[test]
fn plot_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("ferrograd-plot-errors-{}", std::process::id()));
    let empty = dir.join("empty.svg");
    let err = History::default().plot(&empty).unwrap_err();
    assert!(
        matches!(&err, PlotError::Empty { path } if path == &empty),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: the history is empty", empty.display())
    );

    let mut history = History::default();
    history.epochs.push(Logs::from([("loss".to_string(), 1.0)]));
    let unwritable = dir.join("no-such-dir").join("plot.svg");
    let err = history.plot(&unwritable).unwrap_err();
    assert!(
        matches!(&err, PlotError::Io { path, .. } if path == &unwritable),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", unwritable.display())),
        "{err}"
    );
}

/// Every mode switch of `model`, in visiting order.
fn modes(model: &Sequential<f32>) -> Vec<bool> {
    let mut out = Vec::new();
    model.visit(&mut |_, slot| {
        if let ferrograd_nn::Slot::Mode(m) = slot {
            out.push(m.is_training());
        }
    });
    out
}

#[test]
fn evaluate_and_predict_give_the_model_back_in_the_mode_it_had() {
    let mut rng = init::rng(0);
    let model = Sequential::<f32>::new()
        .add(Linear::new(2, 8, &mut rng))
        .add(ferrograd_nn::BatchNorm1d::new(8))
        .add(ReLU)
        .add(ferrograd_nn::Dropout::new(0.5, 1))
        .add(Linear::new(8, 3, &mut rng));
    let data = make_blobs::<f32>(12, 2, 3, 1.0, 0);
    let loss = CrossEntropy::new();
    assert_eq!(modes(&model), [true, true], "layers start in training mode");

    evaluate(&model, &loss, &data, &mut [], 4);
    assert_eq!(modes(&model), [true, true], "train mode after evaluate");
    try_evaluate(&model, &loss, &data, &mut [], 4).unwrap();
    assert_eq!(modes(&model), [true, true], "train mode after try_evaluate");
    predict(&model, data.x(), 4);
    assert_eq!(modes(&model), [true, true], "train mode after predict");

    model.eval();
    let first = predict(&model, data.x(), 4);
    evaluate(&model, &loss, &data, &mut [], 4);
    assert_eq!(modes(&model), [false, false], "eval mode after evaluate");
    predict(&model, data.x(), 5);
    assert_eq!(modes(&model), [false, false], "eval mode after predict");
    // In eval mode dropout is off and batch norm uses its running statistics: the same
    // outputs however the rows are batched.
    assert_eq!(predict(&model, data.x(), 5), first);

    // A mixed model (only dropout switched to eval) gets each layer's mode back.
    model.train();
    model.visit(&mut |name, slot| {
        if let ferrograd_nn::Slot::Mode(m) = slot {
            m.set_training(!name.starts_with("3."));
        }
    });
    let mixed = modes(&model);
    assert_eq!(mixed, [true, false]);
    evaluate(&model, &loss, &data, &mut [], 4);
    predict(&model, data.x(), 4);
    assert_eq!(modes(&model), mixed);
}

#[test]
fn terminate_on_nan_stops_on_a_non_finite_log() {
    let data = make_regression::<f32>(16, 2, 0.1, 2);
    let model = Linear::<f32>::new(2, 1, &mut init::rng(0));
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.01));
    // A validation set with a NaN target makes val_loss NaN.
    let val = TensorDataset::new(
        Tensor::zeros(&[2, 2]),
        Targets::Values(Tensor::from_vec(vec![f32::NAN, 0.0], &[2, 1])),
    );
    let mut term = TerminateOnNaN;
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        FitOptions::new()
            .epochs(5)
            .validation(Validation::Data(val)),
        &mut [&mut term],
    )
    .unwrap();
    assert_eq!(history.epochs.len(), 1);
    assert!(history.get("val_loss")[0].is_nan());
}

#[test]
fn an_f64_model_trains_with_fit_like_an_f32_one() {
    use ferrograd_data::dataset::Targets;
    let x: Vec<f64> = (0..64).map(|i| f64::from(i) / 32.0 - 1.0).collect();
    let y: Vec<f64> = x.iter().map(|v| 3.0 * v - 0.5).collect();
    let data = TensorDataset::new(
        Tensor::from_vec(x, &[64, 1]),
        Targets::Values(Tensor::from_vec(y, &[64, 1])),
    );
    let model = Linear::<f64>::new(1, 1, &mut init::rng(0));
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.05));
    let mut stop = EarlyStopping::<f64>::new(MonitorMode::Min)
        .monitor("loss")
        .min_delta(1e-9)
        .patience(20)
        .restore_best_weights(true);
    let options = FitOptions::new()
        .epochs(200)
        .batch_size(16)
        .validation(Validation::Split(0.25));
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        options,
        &mut [&mut stop],
    )
    .unwrap();
    let losses = history.get("loss");
    assert!(
        losses.iter().cloned().fold(f64::INFINITY, f64::min) < 1e-3,
        "{losses:?}"
    );
    let w = model.weight().value().to_vec()[0];
    assert!((w - 3.0).abs() < 0.1, "weight {w}");
    assert!(evaluate(&model, Loss::mse(), &data, &mut [], 16)["loss"] < 1e-2);
}

/// A model of two inputs: `a · x1 + b · x2`.
#[derive(ferrograd_nn::Module)]
#[module(crate = ferrograd_nn, inputs = 2)]
struct TwoInputs {
    a: Linear<f32>,
    b: Linear<f32>,
}

impl TwoInputs {
    fn forward<'g>(
        &self,
        x1: ferrograd_autograd::Var<'g>,
        x2: ferrograd_autograd::Var<'g>,
    ) -> ferrograd_autograd::Var<'g> {
        self.a.forward(x1) + self.b.forward(x2)
    }
}

#[test]
fn a_model_of_two_inputs_trains_validates_and_predicts() {
    let n = 64;
    let x1 = make_regression::<f32>(n, 3, 0.0, 1).x().clone();
    let x2 = make_regression::<f32>(n, 2, 0.0, 2).x().clone();
    // y = sum(x1) - 2 · x2[:, 0]
    let y: Vec<f32> = (0..n)
        .map(|i| (0..3).map(|j| x1.get(&[i, j])).sum::<f32>() - 2.0 * x2.get(&[i, 0]))
        .collect();
    let data = TensorDataset::new(x1.clone(), Targets::Values(Tensor::from_vec(y, &[n, 1])))
        .with_input(x2.clone());
    let mut rng = init::rng(0);
    let model = TwoInputs {
        a: Linear::new(3, 1, &mut rng),
        b: Linear::new(2, 1, &mut rng),
    };
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.05));
    let options = FitOptions::new()
        .epochs(150)
        .batch_size(16)
        .metric(Mae::new())
        .validation(Validation::Split(0.25));
    let history = fit(&model, Loss::mse(), &mut opt, &data, options, &mut []).unwrap();
    assert!(
        *history.get("val_mae").last().unwrap() < 0.05,
        "{history:?}"
    );
    let out = predict_inputs(&model, &[x1, x2], 10);
    assert_eq!(out.shape(), &[n, 1]);
    let logs = evaluate(&model, Loss::mse(), &data, &mut [&mut Mse::new()], 10);
    assert!((logs["mse"] - logs["loss"]).abs() < 1e-9);
}

#[test]
#[should_panic(expected = "Sequential: forward takes one input, the batch has 2")]
fn a_model_of_one_input_given_two_names_both_counts() {
    let data = make_regression::<f32>(8, 2, 0.0, 1);
    let data = data.clone().with_input(data.x().clone());
    let model = mlp(2, 1, 0);
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    let _ = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        FitOptions::new(),
        &mut [],
    );
}

#[test]
#[should_panic(
    expected = "Loss::distillation: a batch needs two targets, the labels and the teacher's logits; it has 1"
)]
fn distillation_without_a_teacher_target_says_so() {
    let data = make_blobs::<f32>(8, 2, 3, 1.0, 0);
    let model = mlp(2, 3, 0);
    let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    let loss = Loss::distillation(2.0, 0.5);
    let _ = fit(&model, &loss, &mut opt, &data, FitOptions::new(), &mut []);
}
