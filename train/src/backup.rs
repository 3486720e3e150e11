//! Resumable training ([`FitOptions::backup`](crate::FitOptions::backup)): one file holds
//! everything `fit` needs to go on exactly where it stopped — the model's parameters and
//! buffers, its random streams (dropout), the optimizer's state and learning rate, every
//! callback's state, the epoch and the history so far.
//!
//! The file is safetensors (written atomically with
//! [`write_atomic`](ferrograd_nn::serialize::write_atomic)): tensors `model.<name>`,
//! `optimizer.<param>.<buffer>` and `callback.<index>.<key>.<i>`, and string metadata for
//! the rest. Numbers are written in Rust's shortest round-trip form, so every value comes
//! back bit for bit (NaN and infinities included).

use std::collections::BTreeMap;
use std::path::Path;

use ferrograd_autograd::{Float, Tensor};
use ferrograd_nn::serialize::{self, TensorFile, save_tensors};
use ferrograd_nn::{Module, ModuleExt, RngState};
use ferrograd_optim::{CallbackState, Optimizer, OptimizerState, Rule};

use crate::callbacks::{Callback, Logs};
use crate::history::History;

/// The format name and version written into every backup.
const FORMAT: &str = "ferrograd fit backup";
/// 2: the optimizer's `initial_lr` (what schedules scale) is saved.
const VERSION: &str = "2";

/// The options that decide the batches: a backup made with others cannot resume exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Plan {
    pub(crate) batch_size: usize,
    pub(crate) shuffle: Option<u64>,
}

impl Plan {
    fn describe(&self) -> String {
        let shuffle = self.shuffle.map_or("none".into(), |s| s.to_string());
        format!("batch_size {}, shuffle {shuffle}", self.batch_size)
    }
}

/// Everything a backup is written from and restored into.
pub(crate) struct Training<'a, 'c, T: Float, M, R> {
    pub(crate) model: &'a M,
    pub(crate) optimizer: &'a mut Optimizer<R, T>,
    pub(crate) callbacks: &'a mut [&'c mut dyn Callback<T>],
}

/// Writes the backup: training goes on at `epoch` with `history` so far.
pub(crate) fn save<T: Float, M: Module<T>, R: Rule<T>>(
    path: &Path,
    t: &Training<'_, '_, T, M, R>,
    plan: Plan,
    epoch: usize,
    history: &History,
) -> Result<(), String> {
    let mut meta = BTreeMap::new();
    let mut put = |k: &str, v: String| meta.insert(k.to_string(), v);
    put("format", FORMAT.into());
    put("version", VERSION.into());
    put("epoch", epoch.to_string());
    put("plan", plan.describe());
    let opt = t.optimizer.state();
    put("optimizer", t.optimizer.rule().name().into());
    put("optimizer.step", opt.step.to_string());
    put("optimizer.lr", opt.lr.to_string());
    put("optimizer.initial_lr", opt.initial_lr.to_string());
    let counts: Vec<String> = opt.buffers.iter().map(|b| b.len().to_string()).collect();
    put("optimizer.buffers", counts.join(","));
    put("history", history_json(history));
    for (name, state) in t.model.rng_states() {
        put(&format!("rng.{name}"), state.to_string());
    }
    put("callbacks", t.callbacks.len().to_string());
    let mut tensors: Vec<(String, Tensor<T>)> = t
        .model
        .state()
        .into_iter()
        .map(|(n, p)| (format!("model.{n}"), p.value()))
        .collect();
    for (i, bufs) in opt.buffers.into_iter().enumerate() {
        for (j, b) in bufs.into_iter().enumerate() {
            tensors.push((format!("optimizer.{i}.{j}"), b));
        }
    }
    for (k, cb) in t.callbacks.iter().enumerate() {
        let mut state = CallbackState::default();
        cb.save_state(&mut state);
        for (key, value) in state.values() {
            put(&format!("callback.{k}.value.{key}"), value.to_string());
        }
        for (key, list) in state.tensor_lists() {
            put(
                &format!("callback.{k}.tensors.{key}"),
                list.len().to_string(),
            );
            for (i, t) in list.iter().enumerate() {
                tensors.push((format!("callback.{k}.{key}.{i}"), t.cast()));
            }
        }
    }
    save_tensors(path, tensors, meta).map_err(|e| e.to_string())
}

/// History as JSON, every number as its round-trip text (JSON has no NaN).
fn history_json(history: &History) -> String {
    let epochs: Vec<BTreeMap<&String, String>> = history
        .epochs
        .iter()
        .map(|logs| logs.iter().map(|(k, v)| (k, v.to_string())).collect())
        .collect();
    serde_json::json!({ "epochs": epochs, "without_gradient": history.without_gradient })
        .to_string()
}

fn parse_history(text: &str) -> Result<History, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("`history` is not valid JSON: {e}"))?;
    let bad = || "`history` does not have the layout a backup writes".to_string();
    let mut history = History::default();
    for logs in value["epochs"].as_array().ok_or_else(bad)? {
        let mut parsed = Logs::new();
        for (k, v) in logs.as_object().ok_or_else(bad)? {
            let v = v.as_str().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            parsed.insert(k.clone(), v);
        }
        history.epochs.push(parsed);
    }
    for name in value["without_gradient"].as_array().ok_or_else(bad)? {
        history
            .without_gradient
            .push(name.as_str().ok_or_else(bad)?.to_string());
    }
    Ok(history)
}

/// Why a backup cannot be restored: the file (the message names it) or its contents.
enum Failure {
    File(serialize::Error),
    Content(String),
}

impl From<serialize::Error> for Failure {
    fn from(e: serialize::Error) -> Self {
        Failure::File(e)
    }
}

impl From<ferrograd_optim::StateError> for Failure {
    fn from(e: ferrograd_optim::StateError) -> Self {
        Failure::Content(e.to_string())
    }
}

impl From<String> for Failure {
    fn from(m: String) -> Self {
        Failure::Content(m)
    }
}

impl Failure {
    /// The message, naming `path`.
    fn message(self, path: &Path) -> String {
        match self {
            Failure::File(e) => e.to_string(),
            Failure::Content(m) => format!("{}: {m}", path.display()),
        }
    }
}

/// What a backup restores, read and checked before anything is changed.
struct Restored<T: Float> {
    epoch: usize,
    history: History,
    optimizer: OptimizerState<T>,
    rng: Vec<(String, RngState)>,
    callbacks: Vec<CallbackState>,
}

/// Reads everything but the model's tensors (those [`TensorFile::load_module`] reads and
/// checks itself) and checks it against the training it is to resume.
fn read<T: Float, M: Module<T>, R: Rule<T>>(
    file: &mut TensorFile,
    t: &Training<'_, '_, T, M, R>,
    plan: Plan,
) -> Result<Restored<T>, Failure> {
    // The metadata is read as a state of named values, as a callback's is.
    let mut meta = CallbackState::default();
    for (key, value) in file.metadata() {
        meta.set(&key, value);
    }
    let text = |key: &str| meta.get::<String>(key);
    if text("format")? != FORMAT {
        return Err(format!("not a fit backup (format {:?})", text("format")?).into());
    }
    if text("version")? != VERSION {
        return Err(format!(
            "backup version {:?}, this build reads version {VERSION}",
            text("version")?
        )
        .into());
    }
    let saved_plan = text("plan")?;
    if saved_plan != plan.describe() {
        return Err(format!(
            "made with {saved_plan}, but these options have {}: resume with the same options, or delete the backup to start over",
            plan.describe()
        )
        .into());
    }
    let rule = t.optimizer.rule().name();
    if text("optimizer")? != rule {
        return Err(format!("made with the optimizer {}, not {rule}", text("optimizer")?).into());
    }
    let counts: Vec<usize> = text("optimizer.buffers")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| format!("`optimizer.buffers` holds {s:?}"))
        })
        .collect::<Result<_, _>>()?;
    let params: Vec<Vec<usize>> = t.optimizer.params().map(|p| p.shape()).collect();
    if counts.len() != params.len() {
        return Err(format!(
            "the optimizer had {} parameters, this one has {}",
            counts.len(),
            params.len()
        )
        .into());
    }
    let mut buffers = Vec::with_capacity(counts.len());
    for (i, (&n, shape)) in counts.iter().zip(&params).enumerate() {
        let bufs = (0..n)
            .map(|j| file.tensor(&format!("optimizer.{i}.{j}"), Some(shape)))
            .collect::<Result<Vec<_>, _>>()?;
        buffers.push(bufs);
    }
    let optimizer = OptimizerState {
        step: meta.get("optimizer.step")?,
        lr: meta.get("optimizer.lr")?,
        initial_lr: meta.get("optimizer.initial_lr")?,
        buffers,
    };
    let rng = meta
        .values()
        .filter_map(|(k, v)| k.strip_prefix("rng.").map(|name| (name, v)))
        .map(|(name, v)| {
            Ok((
                name.to_string(),
                v.parse().map_err(|e| format!("`rng.{name}`: {e}"))?,
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let n: usize = meta.get("callbacks")?;
    if n != t.callbacks.len() {
        return Err(format!(
            "made with {n} callbacks, fit was given {}: pass the same callbacks in the same order",
            t.callbacks.len()
        )
        .into());
    }
    let mut callbacks = vec![CallbackState::default(); n];
    for (key, value) in meta.values() {
        let Some(rest) = key.strip_prefix("callback.") else {
            continue;
        };
        let (k, rest) = rest
            .split_once('.')
            .ok_or_else(|| format!("bad key `{key}`"))?;
        let state = k
            .parse::<usize>()
            .ok()
            .and_then(|k| callbacks.get_mut(k))
            .ok_or_else(|| format!("`{key}` names no callback"))?;
        if let Some(name) = rest.strip_prefix("value.") {
            state.set(name, value);
        } else if let Some(name) = rest.strip_prefix("tensors.") {
            let len: usize = meta.get(key)?;
            let list = (0..len)
                .map(|i| file.tensor::<T>(&format!("callback.{k}.{name}.{i}"), None))
                .collect::<Result<Vec<_>, _>>()?;
            state.set_tensors(name, list);
        } else {
            return Err(format!("bad key `{key}`").into());
        }
    }
    Ok(Restored {
        epoch: meta.get("epoch")?,
        history: parse_history(&text("history")?)?,
        optimizer,
        rng,
        callbacks,
    })
}

/// Restores the training at `path` into `t`: all of it, or (on an error) none of it.
/// Returns the epoch to go on from and the history so far.
pub(crate) fn restore<T: Float, M: Module<T>, R: Rule<T>>(
    path: &Path,
    t: &mut Training<'_, '_, T, M, R>,
    plan: Plan,
) -> Result<(usize, History), String> {
    let fail = |f: Failure| f.message(path);
    let mut file = TensorFile::open(path).map_err(|e| fail(e.into()))?;
    let restored = read(&mut file, t, plan).map_err(fail)?;
    // Each part below is all-or-nothing; a failure rolls back the parts before it.
    let model_before: Vec<_> = t
        .model
        .state()
        .into_iter()
        .map(|(_, p)| p.value())
        .collect();
    let optimizer_before = t.optimizer.state();
    let rng_before = t.model.rng_states();
    let undo_model = |t: &Training<'_, '_, T, M, R>| {
        for ((_, p), v) in t.model.state().into_iter().zip(&model_before) {
            p.set_value(v.clone());
        }
    };
    file.load_module(t.model, "model.", true)
        .map_err(|e| fail(e.into()))?;
    if let Err(e) = t.optimizer.load_state(restored.optimizer) {
        undo_model(t);
        return Err(fail(e.to_string().into()));
    }
    let undo_optimizer = |t: &mut Training<'_, '_, T, M, R>| {
        undo_model(t);
        t.optimizer
            .load_state(optimizer_before.clone())
            .expect("the optimizer's own state loads");
    };
    if let Err(e) = t.model.set_rng_states(&restored.rng) {
        undo_optimizer(t);
        return Err(fail(e.to_string().into()));
    }
    let callbacks_before: Vec<CallbackState> = t
        .callbacks
        .iter()
        .map(|cb| {
            let mut s = CallbackState::default();
            cb.save_state(&mut s);
            s
        })
        .collect();
    for (k, state) in restored.callbacks.iter().enumerate() {
        if let Err(e) = t.callbacks[k].load_state(state) {
            undo_optimizer(t);
            t.model
                .set_rng_states(&rng_before)
                .expect("the model's own streams");
            for (cb, s) in t.callbacks.iter_mut().zip(&callbacks_before).take(k) {
                cb.load_state(s).expect("a callback's own state loads");
            }
            let name = t.callbacks[k].name();
            return Err(fail(format!("callback {k} ({name}): {e}").into()));
        }
    }
    Ok((restored.epoch, restored.history))
}
