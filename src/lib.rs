#![doc = include_str!("../README.md")]
//!
//! # This crate
//!
//! The facade re-exports the member crates: [`autograd`] (tensors, the tape, gradient
//! checking), [`nn`] (modules, layers, losses), [`optim`] (optimizers, schedules, early
//! stopping), [`data`] (datasets and loaders) and [`train`] (`fit`, callbacks, metrics).
//! Most programs need only the [`prelude`].
//!
//! ```
//! use ferrograd::prelude::*;
//!
//! let g = Graph::<f64>::new();
//! let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
//! let y = (x * x).sum();
//! y.backward();
//! assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 4.0]);
//! ```

pub use ferrograd_autograd as autograd;
pub use ferrograd_data as data;
pub use ferrograd_nn as nn;
pub use ferrograd_optim as optim;
pub use ferrograd_train as train;

pub mod guide;

/// The thread count of ferrograd's kernels, as `torch.set_num_threads` (see
/// [`autograd::threads`]).
pub use ferrograd_autograd::{NUM_THREADS_ENV, num_threads, set_num_threads};

/// Everything a tutorial or a training script uses, from every crate, in one line:
/// `use ferrograd::prelude::*;`.
///
/// It holds the tape (`Graph`, `Tensor`, `Var`, `Param`), the layers and the [`Module`]
/// traits, the optimizers, learning-rate schedules, early stopping and clipping, the
/// training loop (`fit`, `evaluate`, `predict`, callbacks, metrics), and the data tools
/// (datasets, loaders, splits, scalers, MNIST). Modules come in by name: `init`
/// (initialisers and the seeded generator), `loss` (the loss functions for hand loops;
/// `CrossEntropy` also comes in directly, the loss `fit` takes for classes), `callbacks`,
/// `schedule` and `metrics` (`metrics::Accuracy`, ...). The [`guide`] has a recipe for
/// each common task.
///
/// ```
/// use ferrograd::prelude::*;
///
/// // A model, an optimizer and data, all from the prelude.
/// let model = Sequential::<f32>::new()
///     .add(Linear::new(2, 8, &mut init::rng(0)))
///     .add(ReLU)
///     .add(Linear::new(8, 1, &mut init::rng(1)));
/// let mut opt = Optimizer::new(model.parameters(), Adam::new(0.05));
/// let data = TensorDataset::new(
///     Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]),
///     Targets::Values(Tensor::from_vec(vec![0.0, 1.0, 1.0, 2.0], &[4, 1])),
/// );
/// let options = FitOptions::new().epochs(200).batch_size(4);
/// let history = fit(&model, Loss::mse(), &mut opt, &data, options, &mut []).unwrap();
/// assert!(history.get("loss")[199] < 0.05);
/// ```
///
/// [`Module`]: crate::nn::Module
pub mod prelude {
    pub use ferrograd_autograd::{
        Attention, AttnMask, BackwardOptions, ConvOptions, Float, GradcheckOptions, Graph, Param,
        Size2, Tensor, Var, gradcheck, gradgradcheck, grads, num_threads, set_num_threads,
    };
    pub use ferrograd_data::dataset::{DataLoader, Dataset, DatasetExt, Targets, TensorDataset};
    pub use ferrograd_data::mnist::{Mnist, Split};
    pub use ferrograd_data::preprocess::{LabelEncoder, MinMaxScaler, StandardScaler, one_hot};
    pub use ferrograd_data::split::{
        Fold, KFold, StratifiedKFold, cross_validate, train_test_split,
    };
    pub use ferrograd_nn::{
        AvgPool2d, BatchNorm1d, BatchNorm2d, CELU, Conv1d, Conv2d, Dropout, ELU, Embedding,
        Flatten, GELU, GLU, Gru, Hardswish, Hardtanh, Lambda, LayerNorm, LeakyReLU, Linear,
        LogSigmoid, LogSoftmax, Lstm, MaxPool2d, Mish, Module, ModuleExt, PReLU, ReLU, ReLU6, SELU,
        Sequential, SiLU, Sigmoid, SimpleRnn, Slot, Softmax, Softplus, Tanh, init, loss,
        loss::CrossEntropy, visit_child,
    };
    pub use ferrograd_nn::{
        KeyPadding, LearnedPositionalEncoding, MhaOptions, MultiheadAttention,
        SinusoidalPositionalEncoding, TransformerActivation, TransformerConfig,
        TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
    };
    pub use ferrograd_optim::schedule::{
        self, CosineAnnealing, ExponentialLr, LrSchedule, MonitorMode, MultiStepLr, OneCycle,
        ReduceLrOnPlateau, StepLr, Warmup,
    };
    pub use ferrograd_optim::{
        Adagrad, Adam, EarlyStopping, Optimizer, ParamGroup, Penalty, RmsProp, Sgd, clip_grad_norm,
        clip_grad_value,
    };
    pub use ferrograd_train::callbacks::{
        self, CsvLogger, LrScheduler, ModelCheckpoint, TerminateOnNaN,
    };
    pub use ferrograd_train::{
        Callback, CallbackError, FitOptions, History, Loss, Metric, Validation, evaluate, fit,
        metrics, predict, predict_inputs,
    };
}
