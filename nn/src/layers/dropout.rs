//! `Dropout`: active in training mode, the identity in evaluation mode.

use ferrograd_autograd::{Float, Var};

use crate::module::{Mode, Module, Slot};
use crate::module_ext::ModuleExt;
use crate::rng::LayerRng;

/// Zeroes each element with probability `p` in training mode and scales the rest by
/// `1 / (1 − p)`; passes the input through unchanged in evaluation mode
/// ([`ModuleExt::eval`](crate::ModuleExt::eval)). As `torch.nn.Dropout` / Keras' `Dropout`.
/// The layer owns a seeded random stream ([`LayerRng`], visited as `rng`), so a seeded
/// model drops the same elements every run, and a training checkpoint saves the stream's
/// position so a resumed run drops what the uninterrupted one would have.
///
/// # Shapes
/// - input: any
/// - output: the input's shape
///
/// # Panics
/// [`Dropout::new`] panics if `p` is not in `[0, 1]`.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Dropout, Module, ModuleExt};
/// let drop = Dropout::new(0.5, 0);
/// let g = Graph::<f32>::new();
/// let x = g.constant(Tensor::ones(&[100]));
/// assert!(drop.forward(x).value().to_vec().contains(&0.0));
/// drop.eval(); // no float type to name: the layer has none
/// assert_eq!(drop.forward(x).value(), x.value());
/// assert!(!drop.is_training());
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    mode: Mode,
    rng: LayerRng,
}

impl Dropout {
    /// A dropout layer with drop probability `p` and its RNG seeded with `seed`.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1]`.
    pub fn new(p: f64, seed: u64) -> Self {
        assert!(
            (0.0..=1.0).contains(&p),
            "Dropout: p must be in [0, 1], got {p}"
        );
        Dropout {
            p,
            mode: Mode::default(),
            rng: LayerRng::new(seed),
        }
    }

    /// Training mode: drop elements ([`ModuleExt::train`](crate::ModuleExt::train), callable
    /// on the bare layer, which works with every float type and so cannot pick one of
    /// `ModuleExt`'s impls by itself).
    pub fn train(&self) {
        ModuleExt::<f32>::train(self);
    }

    /// Evaluation mode: the identity ([`ModuleExt::eval`](crate::ModuleExt::eval), callable
    /// on the bare layer).
    pub fn eval(&self) {
        ModuleExt::<f32>::eval(self);
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.mode.is_training()
    }
}

impl<T: Float> Module<T> for Dropout {
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        if !self.mode.is_training() {
            return crate::module_ext::traced(self, x);
        }
        crate::module_ext::traced(self, self.rng.with(|rng| x.dropout(self.p, rng)))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        f("mode", Slot::Mode(&self.mode));
        f("rng", Slot::Rng(&self.rng));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrograd_autograd::{Graph, Tensor};

    #[test]
    fn the_same_seed_drops_the_same_elements() {
        let g = Graph::<f32>::new();
        let x = g.constant(Tensor::ones(&[64]));
        let a = Dropout::new(0.3, 9).forward(x).value();
        let b = Dropout::new(0.3, 9).forward(x).value();
        assert_eq!(a, b);
    }

    #[test]
    fn train_mode_returns_after_eval() {
        let d = Dropout::new(1.0, 0);
        let g = Graph::<f32>::new();
        let x = g.constant(Tensor::ones(&[4]));
        d.eval();
        assert_eq!(d.forward(x).value().to_vec(), vec![1.0; 4]);
        d.train();
        assert_eq!(d.forward(x).value().to_vec(), vec![0.0; 4]);
        // The trait's switch, for one float type, reaches the same mode.
        ModuleExt::<f64>::eval(&d);
        assert!(!d.is_training());
    }

    #[test]
    #[should_panic(expected = "Dropout: p must be in [0, 1], got -0.1")]
    fn dropout_panics_on_bad_p() {
        Dropout::new(-0.1, 0);
    }
}
