//! Positional encodings added to a sequence of embeddings: the fixed sinusoidal table of
//! "Attention Is All You Need" and a learned table.

use ferrograd_autograd::{Float, Param, Tensor, Var};
use rand::Rng;

use crate::init::Init;
use crate::module::{Module, Slot};

/// Checks that `x` is `[.., L, d_model]` with `L ≤ max_len`; returns `L`.
#[track_caller]
fn sequence_length<T: Float>(layer: &str, x: Var<'_, T>, table: &Param<T>) -> usize {
    let (s, t) = (x.shape(), table.shape());
    let (max_len, d) = (t[0], t[1]);
    assert!(
        s.len() >= 2 && s[s.len() - 1] == d,
        "{layer}: input of shape {s:?} must be [.., L, {d}] (d_model {d})"
    );
    let l = s[s.len() - 2];
    assert!(
        l <= max_len,
        "{layer}: the sequence of length {l} (input {s:?}) is longer than max_len {max_len}"
    );
    l
}

/// Adds the sinusoidal position table of "Attention Is All You Need" (as PyTorch's
/// Transformer tutorial's `PositionalEncoding`): `PE[pos, 2i] = sin(pos / 10000^(2i/d))`,
/// `PE[pos, 2i+1] = cos(pos / 10000^(2i/d))`, `d = d_model`; rows `0..L` are added to an
/// input of `L` positions.
///
/// The table is a buffer named `pe` (`[max_len, d_model]`): saved with the model, never
/// trained. Unlike the tutorial's module, this one applies no dropout (add a
/// [`Dropout`](crate::Dropout) after it) and its table is batch first, without the
/// tutorial's middle axis of 1. An odd `d_model` is allowed: the last column is a sine.
///
/// # Shapes
/// - input `[.., L, d_model]` with `L ≤ max_len` (batch first: `[N, L, d_model]`)
/// - output: the input's shape
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Module, ModuleExt, SinusoidalPositionalEncoding};
/// let pe = SinusoidalPositionalEncoding::<f64>::new(4, 100);
/// assert_eq!(pe.num_params(), 0);
/// let g = Graph::new();
/// let y = pe.forward(g.constant(Tensor::zeros(&[2, 3, 4]))).value();
/// assert_eq!(y.get(&[0, 0, 1]), 1.0); // cos(0)
/// assert_eq!(y.get(&[1, 2, 0]), 2f64.sin());
/// assert!((y.get(&[1, 2, 3]) - (2.0 / 100f64).cos()).abs() < 1e-12); // 10000^(2/4) = 100
/// ```
pub struct SinusoidalPositionalEncoding<T: Float = f32> {
    pe: Param<T>,
}

impl<T: Float> SinusoidalPositionalEncoding<T> {
    /// The table for `d_model` features and up to `max_len` positions (computed in `f64`).
    ///
    /// # Panics
    /// If the table's size overflows `usize`.
    #[track_caller]
    pub fn new(d_model: usize, max_len: usize) -> Self {
        let size = max_len.checked_mul(d_model).unwrap_or_else(|| {
            panic!("SinusoidalPositionalEncoding::new: a table of {max_len} x {d_model} overflows usize")
        });
        let mut table = Vec::with_capacity(size);
        for pos in 0..max_len {
            for j in 0..d_model {
                let even = (j - j % 2) as f64;
                let angle = pos as f64 * (-(10000f64.ln()) * even / d_model as f64).exp();
                table.push(T::from_f64(if j % 2 == 0 {
                    angle.sin()
                } else {
                    angle.cos()
                }));
            }
        }
        let pe = Param::new(Tensor::from_vec(table, &[max_len, d_model]));
        pe.set_requires_grad(false);
        SinusoidalPositionalEncoding { pe }
    }

    /// The table, `[max_len, d_model]`.
    pub fn table(&self) -> &Param<T> {
        &self.pe
    }
}

impl<T: Float> Module<T> for SinusoidalPositionalEncoding<T> {
    /// # Panics
    /// If the input is not `[.., L, d_model]` or `L` exceeds `max_len`
    /// (`SinusoidalPositionalEncoding: the sequence of length 9 (input [2, 9, 4]) is longer than max_len 8`).
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let l = sequence_length("SinusoidalPositionalEncoding", x, &self.pe);
        let y = x + x.graph().param(&self.pe).narrow(0, 0, l);
        crate::module_ext::traced(self, y)
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        f("pe", Slot::Buffer(&self.pe));
    }
}

/// Adds a learned vector per position (as GPT-2's and BERT's position embeddings): rows
/// `0..L` of a `[max_len, d_model]` parameter `weight` are added to an input of `L`
/// positions. Initialised `N(0, 1)`, as `torch.nn.Embedding(max_len, d_model)` (whose
/// weights load as they are); GPT-2 and BERT draw theirs with std 0.02
/// ([`LearnedPositionalEncoding::with_init`]).
///
/// # Shapes
/// - input `[.., L, d_model]` with `L ≤ max_len` (batch first: `[N, L, d_model]`)
/// - output: the input's shape
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{LearnedPositionalEncoding, Module, ModuleExt, init};
/// let pos = LearnedPositionalEncoding::<f32>::new(4, 16, &mut init::rng(0));
/// assert_eq!(pos.num_params(), 16 * 4);
/// let g = Graph::new();
/// let y = pos.forward(g.constant(Tensor::zeros(&[2, 3, 4])));
/// assert_eq!(y.shape(), vec![2, 3, 4]);
/// assert_eq!(y.value().get(&[1, 2, 3]), pos.weight().value().get(&[2, 3]));
/// ```
pub struct LearnedPositionalEncoding<T: Float = f32> {
    weight: Param<T>,
}

impl<T: Float> LearnedPositionalEncoding<T> {
    /// A table of `max_len` positions of `d_model` features, `N(0, 1)`. The arguments come
    /// in [`SinusoidalPositionalEncoding::new`]'s order, so the two swap for each other.
    ///
    /// # Panics
    /// If the table is too large to allocate (the message names the layer and the shape).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(d_model: usize, max_len: usize, rng: &mut R) -> Self {
        Self::with_init(
            d_model,
            max_len,
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
            rng,
        )
    }

    /// A table drawn by `init` (GPT-2: `Init::Normal { mean: 0.0, std: 0.02 }`).
    ///
    /// # Panics
    /// If the table is too large to allocate.
    #[track_caller]
    pub fn with_init<R: Rng + ?Sized>(
        d_model: usize,
        max_len: usize,
        init: Init,
        rng: &mut R,
    ) -> Self {
        let weight = init.param(
            "LearnedPositionalEncoding::new",
            "weight",
            &[max_len, d_model],
            rng,
        );
        LearnedPositionalEncoding { weight }
    }

    /// The table, `[max_len, d_model]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }
}

impl<T: Float> Module<T> for LearnedPositionalEncoding<T> {
    /// # Panics
    /// If the input is not `[.., L, d_model]` or `L` exceeds `max_len`.
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let l = sequence_length("LearnedPositionalEncoding", x, &self.weight);
        let y = x + x.graph().param(&self.weight).narrow(0, 0, l);
        crate::module_ext::traced(self, y)
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        f("weight", Slot::Param(&self.weight));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleExt;
    use crate::init;
    use crate::testing::check_module;
    use ferrograd_autograd::Graph;

    #[test]
    fn sinusoidal_table_has_the_known_values() {
        // PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).
        let pe = SinusoidalPositionalEncoding::<f64>::new(6, 50)
            .table()
            .value();
        assert_eq!(pe.shape(), &[50, 6]);
        for (pos, j) in [(0, 0), (0, 1), (7, 2), (7, 3), (49, 4), (49, 5)] {
            let angle = pos as f64 / 10000f64.powf((j - j % 2) as f64 / 6.0);
            let want = if j % 2 == 0 { angle.sin() } else { angle.cos() };
            assert!((pe.get(&[pos, j]) - want).abs() < 1e-12, "PE[{pos}, {j}]");
        }
        // An odd d_model ends in a sine column.
        let odd = SinusoidalPositionalEncoding::<f64>::new(3, 4)
            .table()
            .value();
        assert!((odd.get(&[1, 2]) - (1.0 / 10000f64.powf(2.0 / 3.0)).sin()).abs() < 1e-12);
    }

    #[test]
    fn sinusoidal_table_is_a_buffer() {
        let pe = SinusoidalPositionalEncoding::<f32>::new(4, 8);
        assert_eq!(pe.num_params(), 0);
        let names: Vec<String> = pe.state().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["pe"]);
        let g = Graph::new();
        let x = g.var(Tensor::zeros(&[1, 2, 4]));
        pe.forward(x).sum().backward();
        assert!(pe.table().grad().is_none());
        assert_eq!(x.grad().unwrap().to_vec(), vec![1.0; 8]);
    }

    #[test]
    fn positional_encodings_grads_match_finite_diff() {
        let x = Tensor::rand_normal(&[2, 3, 4], 0.0, 1.0, &mut init::rng(1));
        check_module(&SinusoidalPositionalEncoding::<f64>::new(4, 5), &x).unwrap();
        let learned = LearnedPositionalEncoding::<f64>::new(4, 5, &mut init::rng(2));
        check_module(&learned, &x).unwrap();
        // Positions past the sequence get no gradient.
        let g = Graph::new();
        learned.forward(g.constant(x)).sum().backward();
        let grad = learned.weight().grad().unwrap().to_vec();
        assert_eq!(grad[..12], [2.0; 12]);
        assert_eq!(grad[12..], [0.0; 8]);
    }

    #[test]
    #[should_panic(
        expected = "SinusoidalPositionalEncoding: the sequence of length 9 (input [2, 9, 4]) is longer than max_len 8"
    )]
    fn sinusoidal_panics_past_max_len() {
        let pe = SinusoidalPositionalEncoding::<f32>::new(4, 8);
        let g = Graph::new();
        pe.forward(g.constant(Tensor::zeros(&[2, 9, 4])));
    }

    #[test]
    #[should_panic(
        expected = "LearnedPositionalEncoding: input of shape [2, 3, 5] must be [.., L, 4] (d_model 4)"
    )]
    fn learned_panics_on_wrong_features() {
        let pos = LearnedPositionalEncoding::<f32>::new(4, 8, &mut init::rng(0));
        let g = Graph::new();
        pos.forward(g.constant(Tensor::zeros(&[2, 3, 5])));
    }
}
