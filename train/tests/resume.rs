//! Resumable training (`FitOptions::backup`): a run killed with SIGKILL in the middle of an
//! epoch, in a real child process, resumes from its last backup and ends exactly as a run
//! that never stopped — the same history, weights, CSV log and best checkpoint, bit for bit.
//! A backup that does not fit the training is refused and changes nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrograd_autograd::Tensor;
use ferrograd_data::synthetic::make_moons;
use ferrograd_nn::loss::{self, CrossEntropy};
use ferrograd_nn::{BatchNorm1d, Dropout, Linear, ModuleExt, ReLU, Sequential, init};
use ferrograd_optim::schedule::{MonitorMode, ReduceLrOnPlateau};
use ferrograd_optim::{Adam, EarlyStopping, Optimizer, Penalty};
use ferrograd_train::callbacks::{CsvLogger, ModelCheckpoint};
use ferrograd_train::metrics::Accuracy;
use ferrograd_train::{FitOptions, History, Loss, TrainError, Validation, fit};

/// Set in the child: the directory it trains in.
const CHILD_DIR: &str = "FERROGRAD_RESUME_CHILD_DIR";
/// The loss evaluation (training and validation batches, counted from 1) at which the
/// child announces itself and waits to be killed: epoch 3 of 6, its seventh batch (an
/// epoch is 8 training and 3 validation batches).
const KILL_AT: usize = 40;
const KILL_ME: &str = "ready to be killed";

static LOSS_CALLS: AtomicUsize = AtomicUsize::new(0);

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrograd-resume-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a training run leaves: its history (or error), final weights and files.
#[derive(Debug, PartialEq)]
struct Outcome {
    history: Result<History, String>,
    weights: Vec<Tensor<f32>>,
    log: String,
    best: Vec<u8>,
}

/// One training run in `dir`, built from scratch as a script would be: a model with
/// batch norm (buffers) and dropout (a random stream), Adam with weight decay, validation,
/// metrics, early stopping that restores the best weights, a plateau schedule, a CSV log
/// and a best-only checkpoint, all resumable through `dir/backup.safetensors`.
fn train(dir: &Path, batch_size: usize) -> Outcome {
    let mut rng = init::rng(7);
    let model = Sequential::<f32>::new()
        .add(Linear::new(2, 24, &mut rng))
        .add(BatchNorm1d::new(24))
        .add(ReLU)
        .add(Dropout::new(0.25, 3))
        .add(Linear::new(24, 2, &mut rng));
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.03)).penalty(Penalty::l2(1e-3));
    let in_child = std::env::var_os(CHILD_DIR).is_some();
    let loss = Loss::custom("cross_entropy", move |out, y| {
        let n = LOSS_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        if in_child && n == KILL_AT {
            println!("{KILL_ME}");
            std::thread::sleep(std::time::Duration::from_secs(600));
        }
        loss::cross_entropy(out, y.classes(), &CrossEntropy::new())
    });
    let mut early = EarlyStopping::new(MonitorMode::Min)
        .monitor("val_loss")
        .patience(4)
        .restore_best_weights(true);
    let mut plateau = ReduceLrOnPlateau::new(MonitorMode::Min)
        .monitor("val_loss")
        .patience(0)
        .factor(0.5);
    let mut log = CsvLogger::new(dir.join("log.csv"));
    let mut best = ModelCheckpoint::best_only(
        dir.join("best.safetensors"),
        "val_accuracy",
        MonitorMode::Max,
    );
    let options = FitOptions::new()
        .epochs(6)
        .batch_size(batch_size)
        .validation(Validation::Split(0.25))
        .metric(Accuracy::new())
        .backup(dir.join("backup.safetensors"));
    let history = fit(
        &model,
        &loss,
        &mut opt,
        &make_moons(160, 0.25, 1),
        options,
        &mut [&mut early, &mut plateau, &mut log, &mut best],
    );
    Outcome {
        history: history.map_err(|e| e.to_string()),
        weights: model.state().iter().map(|(_, p)| p.value()).collect(),
        log: std::fs::read_to_string(dir.join("log.csv")).unwrap_or_default(),
        best: std::fs::read(dir.join("best.safetensors")).unwrap_or_default(),
    }
}

/// The child's side: trains until the parent kills it (run only by the test below).
#[test]
#[ignore = "the child process of a_run_killed_mid_epoch_resumes_bit_for_bit"]
fn child_trains_until_killed() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        train(Path::new(&dir), 16);
        panic!("the child finished training: it should have been killed at loss call {KILL_AT}");
    }
}

#[test]
fn a_run_killed_mid_epoch_resumes_bit_for_bit() {
    let whole = train(&tmp_dir("whole"), 16);
    let history = whole.history.as_ref().unwrap();
    assert_eq!(
        history.epochs.len(),
        6,
        "the reference run must not stop early"
    );
    assert!(!tmp_dir("whole").join("backup.safetensors").exists());

    let dir = tmp_dir("killed");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_trains_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DIR, &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let ready = stdout.lines().map_while(Result::ok).any(|l| l == KILL_ME);
    assert!(ready, "the child ended without reaching the kill point");
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status}");
    }
    let backup = dir.join("backup.safetensors");
    assert!(backup.exists(), "no backup after three epochs");
    let partial_log = std::fs::read_to_string(dir.join("log.csv")).unwrap();
    assert!(partial_log.lines().count() < whole.log.lines().count());

    let resumed = train(&dir, 16);
    assert_eq!(resumed, whole);
    assert!(!backup.exists(), "a finished run deletes its backup");
    std::fs::remove_dir_all(&dir).ok();
}

/// Trains to the end of epoch 1 and stops there with an error (an interrupted run whose
/// backup holds epoch 1), returning the directory.
fn interrupted_after_epoch_one(name: &str) -> PathBuf {
    let dir = tmp_dir(name);
    let path = dir.join("backup.safetensors");
    let mut rng = init::rng(7);
    let model = Sequential::<f32>::new().add(Linear::new(2, 2, &mut rng));
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.03));
    let mut fail = Failing(2);
    let options = FitOptions::new().epochs(4).batch_size(16).backup(&path);
    let data = make_moons(64, 0.2, 0);
    let err = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &data,
        options,
        &mut [&mut fail],
    );
    assert!(matches!(err, Err(TrainError::Callback { epoch: 2, .. })));
    assert!(path.exists());
    dir
}

/// Fails at the end of epoch `.0`.
struct Failing(usize);

impl ferrograd_train::Callback for Failing {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _: &ferrograd_train::Logs,
        _: &mut ferrograd_train::Context<'_>,
    ) -> Result<(), ferrograd_train::CallbackError> {
        if epoch == self.0 {
            return Err("stop".into());
        }
        Ok(())
    }
}

/// Resumes the backup in `dir` with `batch_size` and `callbacks` callbacks; returns the
/// error and whether the model and optimizer were left exactly as built.
fn resume_refused(dir: &Path, batch_size: usize, callbacks: usize) -> (String, bool) {
    let mut rng = init::rng(7);
    let model = Sequential::<f32>::new().add(Linear::new(2, 2, &mut rng));
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.03));
    let before = (model.parameters()[0].value(), opt.state());
    let options = FitOptions::new()
        .epochs(4)
        .batch_size(batch_size)
        .backup(dir.join("backup.safetensors"));
    let (mut a, mut b) = (Failing(9), Failing(9));
    let mut all: Vec<&mut dyn ferrograd_train::Callback> = vec![&mut a, &mut b];
    let err = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &make_moons(64, 0.2, 0),
        options,
        &mut all[..callbacks],
    )
    .unwrap_err();
    let unchanged = before == (model.parameters()[0].value(), opt.state());
    (err.to_string(), unchanged)
}

#[test]
fn a_backup_made_with_other_options_is_refused_and_changes_nothing() {
    let dir = interrupted_after_epoch_one("options");
    let (e, unchanged) = resume_refused(&dir, 8, 1);
    assert!(
        e.ends_with(
            "made with batch_size 16, shuffle 0, but these options have batch_size 8, shuffle 0: resume with the same options, or delete the backup to start over"
        ),
        "{e}"
    );
    assert!(
        e.starts_with("fit backup: ") && e.contains("backup.safetensors"),
        "{e}"
    );
    assert!(unchanged);
    let (e, unchanged) = resume_refused(&dir, 16, 2);
    assert!(
        e.ends_with(
            "made with 1 callbacks, fit was given 2: pass the same callbacks in the same order"
        ),
        "{e}"
    );
    assert!(unchanged);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_truncated_or_foreign_backup_is_refused_and_changes_nothing() {
    let dir = interrupted_after_epoch_one("corrupt");
    let path = dir.join("backup.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let (e, unchanged) = resume_refused(&dir, 16, 1);
    assert!(e.contains("not a valid safetensors file"), "{e}");
    assert!(unchanged);

    // A model's weights file is not a backup.
    let model = Sequential::<f32>::new().add(Linear::new(2, 2, &mut init::rng(0)));
    model.save(&path).unwrap();
    let (e, unchanged) = resume_refused(&dir, 16, 1);
    assert!(
        e.ends_with("backup.safetensors: `format` is missing"),
        "{e}"
    );
    assert!(unchanged);
    std::fs::remove_dir_all(&dir).ok();
}
