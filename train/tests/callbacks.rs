//! The callback hooks of `fit`: their order and indices, per-batch learning-rate schedules,
//! stopping from a batch hook, resuming, and `EarlyStopping` / `ReduceLrOnPlateau` used
//! directly as callbacks.

use ferrograd_autograd::Tensor;
use ferrograd_data::dataset::{Targets, TensorDataset};
use ferrograd_data::synthetic::make_regression;
use ferrograd_nn::{Linear, ModuleExt, init};
use ferrograd_optim::schedule::{LrSchedule, MonitorMode, OneCycle, ReduceLrOnPlateau};
use ferrograd_optim::{EarlyStopping, Optimizer, Sgd};
use ferrograd_train::callbacks::LrScheduler;
use ferrograd_train::{
    Callback, CallbackError, Context, FitOptions, Logs, Loss, TrainError, Validation, fit,
};

/// Records every hook call as a line: the hook, its index, and the context's epoch and step.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    /// `lr` of each batch's logs, and the context's rate, at `on_batch_end`.
    batch_lrs: Vec<(f64, f64)>,
    /// The first weight after each batch.
    weights: Vec<f32>,
    /// Asks to stop at the end of this (epoch, batch).
    stop_at: Option<(usize, usize)>,
}

impl Callback for Recorder {
    fn on_train_begin(&mut self, ctx: &mut Context<'_>) -> Result<(), CallbackError> {
        self.events
            .push(format!("train_begin e{} s{}", ctx.epoch(), ctx.step()));
        Ok(())
    }
    fn on_train_end(&mut self, logs: &Logs, ctx: &mut Context<'_>) -> Result<(), CallbackError> {
        let keys: Vec<&str> = logs.keys().map(String::as_str).collect();
        self.events
            .push(format!("train_end e{} {}", ctx.epoch(), keys.join(",")));
        Ok(())
    }
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut Context<'_>) -> Result<(), CallbackError> {
        self.events
            .push(format!("epoch_begin {epoch} s{}", ctx.step()));
        Ok(())
    }
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _: &Logs,
        ctx: &mut Context<'_>,
    ) -> Result<(), CallbackError> {
        self.events
            .push(format!("epoch_end {epoch} s{}", ctx.step()));
        Ok(())
    }
    fn on_batch_begin(&mut self, batch: usize, ctx: &mut Context<'_>) -> Result<(), CallbackError> {
        self.events.push(format!(
            "batch_begin {batch} e{} s{}",
            ctx.epoch(),
            ctx.step()
        ));
        Ok(())
    }
    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        ctx: &mut Context<'_>,
    ) -> Result<(), CallbackError> {
        assert!(logs["loss"].is_finite() && logs["loss"] >= 0.0, "{logs:?}");
        self.events.push(format!(
            "batch_end {batch} e{} s{}",
            ctx.epoch(),
            ctx.step()
        ));
        self.batch_lrs.push((logs["lr"], ctx.lr()));
        self.weights
            .push(ctx.model().parameters()[0].value().to_vec()[0]);
        if self.stop_at == Some((ctx.epoch(), batch)) {
            ctx.stop_training();
        }
        Ok(())
    }
}

/// 10 samples: batches of 4 give 3 batches an epoch (4, 4, 2).
fn ten_samples() -> TensorDataset<f32> {
    make_regression::<f32>(10, 2, 0.1, 3)
}

fn model_and_sgd(lr: f64) -> (Linear<f32>, Optimizer<Sgd, f32>) {
    let model = Linear::<f32>::new(2, 1, &mut init::rng(0));
    let opt = Optimizer::new(model.parameters(), Sgd::new(lr));
    (model, opt)
}

#[test]
fn hooks_run_in_keras_order_with_epoch_batch_and_step_indices() {
    let (model, mut opt) = model_and_sgd(0.01);
    let mut rec = Recorder::default();
    let options = FitOptions::new().epochs(2).batch_size(4);
    fit(
        &model,
        Loss::mse(),
        &mut opt,
        &ten_samples(),
        options,
        &mut [&mut rec],
    )
    .unwrap();
    let want = [
        "train_begin e0 s0",
        "epoch_begin 0 s0",
        "batch_begin 0 e0 s0",
        "batch_end 0 e0 s0",
        "batch_begin 1 e0 s1",
        "batch_end 1 e0 s1",
        "batch_begin 2 e0 s2",
        "batch_end 2 e0 s2",
        "epoch_end 0 s3",
        "epoch_begin 1 s3",
        "batch_begin 0 e1 s3",
        "batch_end 0 e1 s3",
        "batch_begin 1 e1 s4",
        "batch_end 1 e1 s4",
        "batch_begin 2 e1 s5",
        "batch_end 2 e1 s5",
        "epoch_end 1 s6",
        "train_end e1 loss,lr",
    ];
    assert_eq!(rec.events, want);
}

/// `lr(base, step) = base·0.1·(step + 1)`, except 0 on steps 2 and 4.
struct ByStep;

impl LrSchedule for ByStep {
    fn lr(&self, base: f64, step: usize) -> f64 {
        if step == 2 || step == 4 {
            0.0
        } else {
            base * 0.1 * (step + 1) as f64
        }
    }
}

#[test]
fn a_per_batch_schedule_sets_the_rate_of_every_step_before_it_runs() {
    let (model, mut opt) = model_and_sgd(1.0);
    let mut sched = LrScheduler::new(ByStep).per_batch(true);
    let mut rec = Recorder::default();
    let options = FitOptions::new().epochs(2).batch_size(4);
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &ten_samples(),
        options,
        &mut [&mut sched, &mut rec],
    )
    .unwrap();
    let lrs: Vec<f64> = rec.batch_lrs.iter().map(|&(logged, _)| logged).collect();
    let want: Vec<f64> = (0..6).map(|s| ByStep.lr(1.0, s)).collect();
    assert_eq!(lrs, want);
    assert!(rec.batch_lrs.iter().all(|(logged, ctx)| logged == ctx));
    // The rate applies to the batch it was set for: with lr 0 on steps 2 and 4 the weights
    // do not move in those steps, and do in the others.
    let w = &rec.weights;
    assert_eq!(w[2], w[1], "step 2 ran at lr 0");
    assert_eq!(w[4], w[3], "step 4 ran at lr 0");
    assert_ne!(w[1], w[0]);
    assert_ne!(w[3], w[2]);
    // An epoch's `lr` is the rate of its last batch.
    assert_eq!(
        history.get("lr"),
        vec![ByStep.lr(1.0, 2), ByStep.lr(1.0, 5)]
    );
}

#[test]
fn one_cycle_per_batch_changes_the_rate_every_step_and_ends_at_its_floor() {
    let (model, mut opt) = model_and_sgd(0.1);
    let cycle = OneCycle::new(12);
    let mut sched = LrScheduler::new(cycle).per_batch(true);
    let mut rec = Recorder::default();
    let options = FitOptions::new().epochs(4).batch_size(4);
    fit(
        &model,
        Loss::mse(),
        &mut opt,
        &ten_samples(),
        options,
        &mut [&mut sched, &mut rec],
    )
    .unwrap();
    let lrs: Vec<f64> = rec.batch_lrs.iter().map(|&(l, _)| l).collect();
    assert_eq!(lrs, (0..12).map(|s| cycle.lr(0.1, s)).collect::<Vec<_>>());
    assert!(lrs.windows(2).all(|w| w[0] != w[1]), "{lrs:?}");
    assert_eq!(opt.lr(), cycle.lr(0.1, 11));

    // Per epoch (the default), the same schedule moves once an epoch.
    let (model, mut opt) = model_and_sgd(0.1);
    let mut sched = LrScheduler::new(cycle);
    let mut rec = Recorder::default();
    let options = FitOptions::new().epochs(2).batch_size(4);
    fit(
        &model,
        Loss::mse(),
        &mut opt,
        &ten_samples(),
        options,
        &mut [&mut sched, &mut rec],
    )
    .unwrap();
    let lrs: Vec<f64> = rec.batch_lrs.iter().map(|&(l, _)| l).collect();
    let (a, b) = (cycle.lr(0.1, 0), cycle.lr(0.1, 1));
    assert_eq!(lrs, [a, a, a, b, b, b]);
}

#[test]
fn stopping_in_a_batch_hook_ends_the_epoch_then_runs_epoch_and_train_end() {
    let (model, mut opt) = model_and_sgd(0.01);
    let mut rec = Recorder {
        stop_at: Some((1, 0)),
        ..Recorder::default()
    };
    let options = FitOptions::new().epochs(5).batch_size(4);
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &ten_samples(),
        options,
        &mut [&mut rec],
    )
    .unwrap();
    assert_eq!(history.epochs.len(), 2);
    let tail: Vec<&str> = rec
        .events
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "batch_begin 0 e1 s3",
            "batch_end 0 e1 s3",
            "epoch_end 1 s6",
            "train_end e1 loss,lr"
        ]
    );
}

#[test]
fn early_stopping_used_directly_as_a_callback_stops_training() {
    // A learning rate of 0: the loss never improves after epoch 0.
    let (model, mut opt) = model_and_sgd(0.0);
    let mut stop = EarlyStopping::new(MonitorMode::Min)
        .monitor("loss")
        .patience(2);
    let options = FitOptions::new().epochs(20).batch_size(4).shuffle(None);
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &ten_samples(),
        options,
        &mut [&mut stop],
    )
    .unwrap();
    assert_eq!(history.epochs.len(), 3);
    assert_eq!(stop.best_epoch(), Some(0));
    assert_eq!(stop.stopped_epoch(), Some(2));
    assert_eq!(Callback::name(&stop), "EarlyStopping");
}

#[test]
fn reduce_lr_on_plateau_used_directly_as_a_callback_lowers_the_rate() {
    let data = ten_samples();
    let (model, mut opt) = model_and_sgd(0.0);
    // Monitors `val_loss` by default: validation data makes it logged.
    let mut plateau = ReduceLrOnPlateau::new(MonitorMode::Min)
        .patience(0)
        .factor(0.5);
    let options = FitOptions::new()
        .epochs(4)
        .batch_size(4)
        .validation(Validation::Data(data.clone()));
    opt.set_lr(0.8);
    model.freeze(); // nothing improves
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        options,
        &mut [&mut plateau],
    )
    .unwrap();
    assert_eq!(history.get("lr"), vec![0.8, 0.8, 0.4, 0.2]);
    assert_eq!(opt.lr(), 0.1);
    assert_eq!(Callback::<f32>::name(&plateau), "ReduceLrOnPlateau");
}

/// Fails at the end of epoch `.0`.
struct FailAt(usize);

impl Callback for FailAt {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _: &Logs,
        _: &mut Context<'_>,
    ) -> Result<(), CallbackError> {
        if epoch == self.0 {
            return Err("interrupted".into());
        }
        Ok(())
    }
}

#[test]
fn a_resumed_run_calls_train_begin_at_the_saved_epoch_and_keeps_per_batch_steps() {
    let path = std::env::temp_dir().join(format!(
        "ferrograd-callbacks-resume-{}.safetensors",
        std::process::id()
    ));
    std::fs::remove_file(&path).ok();
    let run = |fail: usize| {
        let (model, mut opt) = model_and_sgd(0.1);
        let mut sched = LrScheduler::new(OneCycle::new(12)).per_batch(true);
        let mut rec = Recorder::default();
        let options = FitOptions::new().epochs(4).batch_size(4).backup(&path);
        let result = fit(
            &model,
            Loss::mse(),
            &mut opt,
            &ten_samples(),
            options,
            &mut [&mut sched, &mut FailAt(fail), &mut rec],
        );
        (result, rec, model.parameters()[0].value())
    };
    let (whole, whole_rec, whole_w) = run(99);
    let whole = whole.unwrap();
    let (err, rec, _) = run(1);
    assert!(matches!(err, Err(TrainError::Callback { epoch: 1, .. })));
    assert!(!rec.events.iter().any(|e| e.starts_with("train_end")));
    let (resumed, rec, w) = run(99);
    assert_eq!(resumed.unwrap(), whole);
    assert_eq!(w, whole_w);
    // The backup was made after epoch 0: training begins again at epoch 1, step 3.
    assert_eq!(rec.events[0], "train_begin e1 s3");
    assert_eq!(rec.events[1], "epoch_begin 1 s3");
    assert_eq!(rec.batch_lrs[..], whole_rec.batch_lrs[3..]);
    assert!(!path.exists());
}

#[test]
fn a_failing_batch_hook_is_named() {
    struct FailsInBatch;
    impl Callback for FailsInBatch {
        fn on_batch_end(
            &mut self,
            batch: usize,
            _: &Logs,
            _: &mut Context<'_>,
        ) -> Result<(), CallbackError> {
            if batch == 1 {
                return Err("bad batch".into());
            }
            Ok(())
        }
    }
    let (model, mut opt) = model_and_sgd(0.01);
    let data = TensorDataset::new(
        Tensor::zeros(&[8, 2]),
        Targets::Values(Tensor::zeros(&[8, 1])),
    );
    let err = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &data,
        FitOptions::new().batch_size(4),
        &mut [&mut FailsInBatch],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "epoch 0: callback 0 (FailsInBatch) failed in on_batch_end: bad batch"
    );
}
