//! Recurrent layers: `SimpleRnn`, `Lstm`, `Gru` — batch-first, stacked, returning the
//! sequence or the last hidden state, with optional initial states.
//!
//! The three share one loop ([`Recurrent`]); each differs only in its cell (`step`). The
//! input projection of every time step runs as one matrix product before the loop. Weights
//! are named and laid out as PyTorch's (`weight_ih_l0 [G·H, in]`, `weight_hh_l0 [G·H, H]`,
//! `bias_ih_l0`, `bias_hh_l0`; gates in PyTorch's order), so checkpoints map one to one.

use ferrograd_autograd::{Float, Param, Tensor, Var};
use rand::Rng;

use super::lstm_cell::lstm_cell;
use crate::init::Init;
use crate::module::{Module, Slot};

/// Which recurrence a [`Recurrent`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    Rnn { relu: bool },
    Lstm,
    Gru,
}

impl Cell {
    /// Gates per hidden unit.
    fn gates(self) -> usize {
        match self {
            Cell::Rnn { .. } => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
}

/// One layer's weights.
struct LayerWeights<T: Float> {
    w_ih: Param<T>,
    w_hh: Param<T>,
    b_ih: Param<T>,
    b_hh: Param<T>,
}

/// The hidden state of every layer after a sequence (and the cell state for an LSTM): each
/// `[N, H]`, layer 0 first. Pass it back as the initial state to continue a sequence.
#[derive(Clone, Debug)]
pub struct RecurrentState<'g, T: Float> {
    /// Hidden state per layer.
    pub h: Vec<Var<'g, T>>,
    /// Cell state per layer (LSTM only).
    pub c: Option<Vec<Var<'g, T>>>,
}

/// The engine shared by the recurrent layers.
struct Recurrent<T: Float> {
    name: &'static str,
    cell: Cell,
    hidden: usize,
    input: usize,
    layers: Vec<LayerWeights<T>>,
    return_sequences: bool,
}

impl<T: Float> Recurrent<T> {
    /// Sets the bias of the gate in rows `[H, 2H)` of every layer (the LSTM's forget gate,
    /// the GRU's update gate) to `b`: `bias_ih` there to `b`, `bias_hh` to 0.
    fn set_second_gate_bias(&self, b: f64) {
        let h = self.hidden;
        for w in &self.layers {
            for (param, value) in [(&w.b_ih, T::from_f64(b)), (&w.b_hh, T::zero())] {
                let mut bias = param.value().to_vec();
                bias[h..2 * h].fill(value);
                let len = bias.len();
                param.set_value(Tensor::from_vec(bias, &[len]));
            }
        }
    }

    #[track_caller]
    fn new<R: Rng + ?Sized>(
        name: &'static str,
        cell: Cell,
        input: usize,
        hidden: usize,
        num_layers: usize,
        rng: &mut R,
    ) -> Self {
        assert!(num_layers > 0, "{name}: num_layers must be positive");
        // As PyTorch (`hidden_size must be greater than zero`): a layer of no units has no
        // output, and its init bound would be 1/√0.
        assert!(hidden > 0, "{name}: hidden_size must be positive");
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = Init::Uniform {
            low: -bound,
            high: bound,
        };
        let gh = cell.gates().checked_mul(hidden).unwrap_or_else(|| {
            panic!(
                "{name}::new: {} gates × hidden_size {hidden} overflows usize",
                cell.gates()
            )
        });
        let op = format!("{name}::new");
        let mut layers = Vec::with_capacity(num_layers.min(1024));
        for l in 0..num_layers {
            let fan = if l == 0 { input } else { hidden };
            let mut param =
                |what: &str, shape: &[usize]| init.param(&op, &format!("{what}_l{l}"), shape, rng);
            layers.push(LayerWeights {
                w_ih: param("weight_ih", &[gh, fan]),
                w_hh: param("weight_hh", &[gh, hidden]),
                b_ih: param("bias_ih", &[gh]),
                b_hh: param("bias_hh", &[gh]),
            });
        }
        Recurrent {
            name,
            cell,
            hidden,
            input,
            layers,
            return_sequences: false,
        }
    }

    /// One time step of layer `w`: `xw` is the input projection with the biases `[N, G·H]`
    /// (see `run`), `w_hh_t` the layer's `W_hhᵀ`, one node for all steps (so the steps'
    /// gradients for it add up in its own layout, and reach `W_hh` once, transposed).
    fn step<'g>(
        &self,
        w: &LayerWeights<T>,
        w_hh_t: Var<'g, T>,
        xw: Var<'g, T>,
        h: Var<'g, T>,
        c: Option<Var<'g, T>>,
    ) -> (Var<'g, T>, Option<Var<'g, T>>) {
        let g = h.graph();
        let hw = h.matmul(w_hh_t);
        // `b_hh` is in `xw` already, except for the GRU, which gates it (see `run`).
        let hw = if self.cell == Cell::Gru {
            hw + g.param(&w.b_hh)
        } else {
            hw
        };
        match self.cell {
            Cell::Rnn { relu } => {
                let pre = xw + hw;
                (if relu { pre.relu() } else { pre.tanh() }, None)
            }
            Cell::Lstm => {
                let c = c.expect("an LSTM carries a cell state");
                let hc = lstm_cell(xw, hw, c);
                let (h, c) = (hc.narrow(0, 0, 1).squeeze(0), hc.narrow(0, 1, 1).squeeze(0));
                (h, Some(c))
            }
            Cell::Gru => {
                let xs = xw.chunk(3, 1);
                let hs = hw.chunk(3, 1);
                let r = (xs[0] + hs[0]).sigmoid();
                let z = (xs[1] + hs[1]).sigmoid();
                let n = (xs[2] + r * hs[2]).tanh();
                // h' = (1 − z)·n + z·h
                (n + z * (h - n), None)
            }
        }
    }

    #[track_caller]
    fn run<'g>(
        &self,
        x: Var<'g, T>,
        initial: Option<&RecurrentState<'g, T>>,
    ) -> (Var<'g, T>, RecurrentState<'g, T>) {
        let s = x.shape();
        let &[n, steps, features] = s.as_slice() else {
            panic!(
                "{}: input must be [N, T, features] (batch first), got shape {s:?}",
                self.name
            );
        };
        assert!(
            features == self.input,
            "{}: input of shape {s:?} has {features} features, the layer expects {}",
            self.name,
            self.input
        );
        assert!(steps > 0, "{}: the sequence is empty", self.name);
        let g = x.graph();
        let zeros = || g.constant(ferrograd_autograd::Tensor::zeros(&[n, self.hidden]));
        if let Some(init) = initial {
            assert!(
                init.h.len() == self.layers.len()
                    && init.h.iter().all(|h| h.shape() == [n, self.hidden])
                    && (self.cell == Cell::Lstm) == init.c.is_some(),
                "{}: the initial state must hold {} states of shape [{n}, {}]{}",
                self.name,
                self.layers.len(),
                self.hidden,
                if self.cell == Cell::Lstm {
                    " for h and for c"
                } else {
                    ""
                }
            );
        }
        let mut seq = x;
        let (mut hs, mut cs) = (Vec::new(), Vec::new());
        for (l, w) in self.layers.iter().enumerate() {
            let mut h = initial.map_or_else(zeros, |s| s.h[l]);
            let mut c = (self.cell == Cell::Lstm).then(|| {
                initial
                    .and_then(|s| s.c.as_ref())
                    .map_or_else(zeros, |c| c[l])
            });
            // Every step's input projection in one product: [N, T, in] → [N, T, G·H], with
            // both biases added once here instead of `b_hh` at every step (the GRU's reset
            // gate multiplies `h·W_hhᵀ + b_hh`, so it adds `b_hh` per step).
            let bias = if self.cell == Cell::Gru {
                g.param(&w.b_ih)
            } else {
                g.param(&w.b_ih) + g.param(&w.b_hh)
            };
            let xw = seq.matmul(g.param(&w.w_ih).transpose(0, 1)) + bias;
            let w_hh_t = g.param(&w.w_hh).transpose(0, 1);
            let mut outputs = Vec::with_capacity(steps);
            for t in 0..steps {
                (h, c) = self.step(w, w_hh_t, xw.narrow(1, t, 1).squeeze(1), h, c);
                outputs.push(h);
            }
            hs.push(h);
            cs.extend(c);
            if l + 1 < self.layers.len() || self.return_sequences {
                seq = g.stack(&outputs, 1);
            }
        }
        let out = if self.return_sequences {
            seq
        } else {
            *hs.last().expect("at least one layer")
        };
        let state = RecurrentState {
            h: hs,
            c: (self.cell == Cell::Lstm).then_some(cs),
        };
        (out, state)
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        for (l, w) in self.layers.iter().enumerate() {
            f(&format!("weight_ih_l{l}"), Slot::Param(&w.w_ih));
            f(&format!("weight_hh_l{l}"), Slot::Param(&w.w_hh));
            f(&format!("bias_ih_l{l}"), Slot::Param(&w.b_ih));
            f(&format!("bias_hh_l{l}"), Slot::Param(&w.b_hh));
        }
    }
}

/// Defines a public recurrent layer over [`Recurrent`].
macro_rules! recurrent_layer {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name<T: Float = f32>(Recurrent<T>);

        impl<T: Float> $name<T> {
            /// Returns the whole output sequence `[N, T, H]` (Keras' `return_sequences=True`;
            /// PyTorch's `output`) instead of the last hidden state `[N, H]`.
            pub fn return_sequences(mut self, yes: bool) -> Self {
                self.0.return_sequences = yes;
                self
            }

            /// Runs the sequence from `initial` (zeros if `None`) and returns the output
            /// (as [`Module::forward`]) and every layer's final state.
            ///
            /// # Panics
            /// If the input is not `[N, T, input_size]` with `T > 0`, or `initial` does not
            /// hold one `[N, H]` state per layer (and cell states exactly for an LSTM).
            #[track_caller]
            pub fn forward_with_state<'g>(
                &self,
                x: Var<'g, T>,
                initial: Option<&RecurrentState<'g, T>>,
            ) -> (Var<'g, T>, RecurrentState<'g, T>) {
                self.0.run(x, initial)
            }
        }

        impl<T: Float> Module<T> for $name<T> {
            #[track_caller]
            fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
                crate::module_ext::traced(self, self.0.run(x, None).0)
            }

            fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
                self.0.visit(f);
            }
        }
    };
}

recurrent_layer!(
    /// An Elman RNN, `h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)` (or ReLU), as
    /// `torch.nn.RNN(batch_first=True)` / Keras' `SimpleRNN`. Weights `U(±1/√H)`.
    ///
    /// # Shapes
    /// - input `[N, T, input_size]` (batch first)
    /// - output `[N, H]`, the last layer's last hidden state, or `[N, T, H]` with
    ///   [`return_sequences`](SimpleRnn::return_sequences)
    /// - state: `h` per layer `[N, H]`
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Module, SimpleRnn, init};
    /// let rnn = SimpleRnn::<f32>::new(3, 8, 2, &mut init::rng(0)).return_sequences(true);
    /// let g = Graph::new();
    /// assert_eq!(rnn.forward(g.constant(Tensor::zeros(&[4, 5, 3]))).shape(), vec![4, 5, 8]);
    /// ```
    SimpleRnn
);

impl<T: Float> SimpleRnn<T> {
    /// `num_layers` stacked tanh layers from `input_size` features to `hidden_size` units.
    ///
    /// # Panics
    /// If `num_layers` or `hidden_size` is 0, or a weight is too large to allocate (the
    /// message names the layer, the weight and its shape).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        rng: &mut R,
    ) -> Self {
        SimpleRnn(Recurrent::new(
            "SimpleRnn",
            Cell::Rnn { relu: false },
            input_size,
            hidden_size,
            num_layers,
            rng,
        ))
    }

    /// The same layer with ReLU instead of tanh (`nonlinearity="relu"`).
    pub fn relu(mut self) -> Self {
        self.0.cell = Cell::Rnn { relu: true };
        self
    }
}

recurrent_layer!(
    /// A long short-term memory layer, as `torch.nn.LSTM(batch_first=True)` / Keras' `LSTM`:
    /// gates `i, f, g, o` (PyTorch's order) from `x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh`,
    /// `c' = σ(f)·c + σ(i)·tanh(g)`, `h' = σ(o)·tanh(c')`. Weights `U(±1/√H)`.
    ///
    /// # Shapes
    /// - input `[N, T, input_size]` (batch first)
    /// - output `[N, H]` or `[N, T, H]` with [`return_sequences`](Lstm::return_sequences)
    /// - state: `h` and `c` per layer, `[N, H]`
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Lstm, Module, ModuleExt, init};
    /// let lstm = Lstm::<f32>::new(10, 20, 1, &mut init::rng(0));
    /// // torch.nn.LSTM(10, 20).num_parameters = 4·20·(10 + 20) + 2·4·20
    /// assert_eq!(lstm.num_params(), 4 * 20 * 30 + 160);
    /// let g = Graph::new();
    /// let (out, state) = lstm.forward_with_state(g.constant(Tensor::zeros(&[2, 7, 10])), None);
    /// assert_eq!(out.shape(), vec![2, 20]);
    /// assert_eq!(state.c.unwrap()[0].shape(), vec![2, 20]);
    /// ```
    Lstm
);

impl<T: Float> Lstm<T> {
    /// `num_layers` stacked layers from `input_size` features to `hidden_size` units.
    ///
    /// # Panics
    /// If `num_layers` or `hidden_size` is 0, or a weight is too large to allocate (the
    /// message names the layer, the weight and its shape).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        rng: &mut R,
    ) -> Self {
        Lstm(Recurrent::new(
            "Lstm",
            Cell::Lstm,
            input_size,
            hidden_size,
            num_layers,
            rng,
        ))
    }

    /// Starts every layer's forget gate with bias `b` (`bias_ih` = `b`, `bias_hh` = 0 on
    /// those rows), so the cell keeps its state until it learns to forget: Keras'
    /// `unit_forget_bias=True` is `b = 1`; for lags of `T` steps, "chrono" initialisation
    /// suggests about `ln T`.
    ///
    /// ```
    /// use ferrograd::nn::{Lstm, ModuleExt, init};
    /// let lstm = Lstm::<f32>::new(3, 4, 1, &mut init::rng(0)).forget_bias(1.0);
    /// let bias = lstm.named_parameters()[2].1.value().to_vec(); // bias_ih_l0, gates i f g o
    /// assert_eq!(bias[4..8], [1.0; 4]);
    /// ```
    pub fn forget_bias(self, b: f64) -> Self {
        self.0.set_second_gate_bias(b);
        self
    }
}

recurrent_layer!(
    /// A gated recurrent unit layer, as `torch.nn.GRU(batch_first=True)`: gates `r, z, n`
    /// (PyTorch's order), `n = tanh(x_n + r·(h·W_hnᵀ + b_hn))`, `h' = (1 − z)·n + z·h`.
    /// Weights `U(±1/√H)`. (Keras' default `reset_after=True` GRU is the same cell.)
    ///
    /// # Shapes
    /// - input `[N, T, input_size]` (batch first)
    /// - output `[N, H]` or `[N, T, H]` with [`return_sequences`](Gru::return_sequences)
    /// - state: `h` per layer `[N, H]`
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Gru, Module, init};
    /// let gru = Gru::<f32>::new(4, 6, 1, &mut init::rng(0));
    /// let g = Graph::new();
    /// assert_eq!(gru.forward(g.constant(Tensor::zeros(&[3, 2, 4]))).shape(), vec![3, 6]);
    /// ```
    Gru
);

impl<T: Float> Gru<T> {
    /// `num_layers` stacked layers from `input_size` features to `hidden_size` units.
    ///
    /// # Panics
    /// If `num_layers` or `hidden_size` is 0, or a weight is too large to allocate (the
    /// message names the layer, the weight and its shape).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        rng: &mut R,
    ) -> Self {
        Gru(Recurrent::new(
            "Gru",
            Cell::Gru,
            input_size,
            hidden_size,
            num_layers,
            rng,
        ))
    }

    /// Starts every layer's update gate `z` with bias `b` (`bias_ih` = `b`, `bias_hh` = 0
    /// on those rows): a positive `b` makes `h' ≈ h` at first, so the unit keeps its
    /// state until it learns to overwrite it, as [`Lstm::forget_bias`] does.
    ///
    /// ```
    /// use ferrograd::nn::{Gru, ModuleExt, init};
    /// let gru = Gru::<f32>::new(3, 4, 1, &mut init::rng(0)).update_bias(3.0);
    /// let named = gru.named_parameters(); // bias_ih_l0 and bias_hh_l0 at 2, 3; gates r z n
    /// assert_eq!(named[2].1.value().to_vec()[4..8], [3.0; 4]);
    /// assert_eq!(named[3].1.value().to_vec()[4..8], [0.0; 4]);
    /// ```
    pub fn update_bias(self, b: f64) -> Self {
        self.0.set_second_gate_bias(b);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init;
    use crate::testing::check_module;
    use ferrograd_autograd::{Graph, Tensor};

    fn seq(shape: &[usize]) -> Tensor<f64> {
        let n: usize = shape.iter().product();
        Tensor::from_vec(
            (0..n).map(|i| ((i * 31) % 17) as f64 * 0.1 - 0.8).collect(),
            shape,
        )
    }

    #[test]
    fn recurrent_layers_grads_match_finite_diff() {
        let mut rng = init::rng(5);
        let x = seq(&[2, 3, 2]);
        check_module(&SimpleRnn::<f64>::new(2, 3, 2, &mut rng), &x).unwrap();
        check_module(
            &SimpleRnn::<f64>::new(2, 3, 1, &mut rng)
                .relu()
                .return_sequences(true),
            &x,
        )
        .unwrap();
        check_module(&Lstm::<f64>::new(2, 3, 2, &mut rng), &x).unwrap();
        check_module(
            &Gru::<f64>::new(2, 3, 2, &mut rng).return_sequences(true),
            &x,
        )
        .unwrap();
    }

    #[test]
    fn lstm_step_matches_the_equations() {
        // One step, one unit, hand-set weights: gates i, f, g, o.
        let lstm = Lstm::<f64>::new(1, 1, 1, &mut init::rng(0));
        let w = &lstm.0.layers[0];
        w.w_ih
            .set_value(Tensor::from_vec(vec![0.5, -0.5, 1.0, 2.0], &[4, 1]));
        w.w_hh
            .set_value(Tensor::from_vec(vec![0.1, 0.2, 0.3, 0.4], &[4, 1]));
        w.b_ih.set_value(Tensor::zeros(&[4]));
        w.b_hh
            .set_value(Tensor::from_vec(vec![0.0, 1.0, 0.0, 0.0], &[4]));
        let g = Graph::new();
        let init_state = RecurrentState {
            h: vec![g.constant(Tensor::from_vec(vec![1.0], &[1, 1]))],
            c: Some(vec![g.constant(Tensor::from_vec(vec![2.0], &[1, 1]))]),
        };
        let x = g.constant(Tensor::from_vec(vec![1.0], &[1, 1, 1]));
        let (h, state) = lstm.forward_with_state(x, Some(&init_state));
        let s = |v: f64| 1.0 / (1.0 + (-v).exp());
        let (i, f, gg, o) = (
            s(0.5 + 0.1),
            s(-0.5 + 0.2 + 1.0),
            (1.0f64 + 0.3).tanh(),
            s(2.0 + 0.4),
        );
        let c = f * 2.0 + i * gg;
        assert!((state.c.unwrap()[0].item() - c).abs() < 1e-12);
        assert!((h.item() - o * c.tanh()).abs() < 1e-12);
    }

    #[test]
    fn gru_holds_the_state_when_z_saturates() {
        // z = σ(large) ≈ 1 keeps h.
        let gru = Gru::<f64>::new(1, 1, 1, &mut init::rng(0));
        let w = &gru.0.layers[0];
        w.b_ih
            .set_value(Tensor::from_vec(vec![0.0, 50.0, 0.0], &[3]));
        let g = Graph::new();
        let h0 = RecurrentState {
            h: vec![g.constant(Tensor::from_vec(vec![0.7], &[1, 1]))],
            c: None,
        };
        let (h, _) = gru.forward_with_state(g.constant(Tensor::ones(&[1, 4, 1])), Some(&h0));
        assert!((h.item() - 0.7).abs() < 1e-9);
    }

    #[test]
    fn parameter_names_follow_pytorch() {
        use crate::ModuleExt;
        let gru = Gru::<f32>::new(2, 3, 2, &mut init::rng(0));
        let names: Vec<String> = gru.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names[..4],
            ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
        );
        assert_eq!(names[4], "weight_ih_l1");
        assert_eq!(gru.named_parameters()[4].1.shape(), vec![9, 3]);
    }

    #[test]
    #[should_panic(expected = "Lstm: input of shape [2, 5, 4] has 4 features, the layer expects 3")]
    fn lstm_panics_on_wrong_features() {
        let lstm = Lstm::<f32>::new(3, 2, 1, &mut init::rng(0));
        let g = Graph::new();
        lstm.forward(g.constant(Tensor::zeros(&[2, 5, 4])));
    }

    #[test]
    #[should_panic(
        expected = "SimpleRnn: input must be [N, T, features] (batch first), got shape [5, 3]"
    )]
    fn rnn_panics_on_2d_input() {
        let rnn = SimpleRnn::<f32>::new(3, 2, 1, &mut init::rng(0));
        let g = Graph::new();
        rnn.forward(g.constant(Tensor::zeros(&[5, 3])));
    }
}
