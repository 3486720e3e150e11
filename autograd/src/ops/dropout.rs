//! Dropout with an explicit random number generator (the layer, which knows train and eval
//! mode, lives in `ferrograd-nn`).

use rand::{Rng, RngExt};

use crate::float::Float;
use crate::graph::Var;
use crate::tensor::Tensor;

impl<'g, T: Float> Var<'g, T> {
    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 − p)`, so the
    /// expected value is unchanged ("inverted" dropout, as `torch.nn.functional.dropout` in
    /// training). The mask is drawn from `rng`: the same seed gives the same mask.
    ///
    /// Backward: the gradient times the same scaled mask. `p = 0` returns `self`; `p = 1`
    /// returns zeros.
    ///
    /// The mask is multiplied in, not selected (as PyTorch): a NaN or infinite input that is
    /// dropped gives NaN, so dropout never hides a NaN, and an infinite gradient reaching a
    /// dropped element gives NaN too.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1]`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use rand::SeedableRng;
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::ones(&[1000]));
    /// let y = x.dropout(0.25, &mut rand::rngs::StdRng::seed_from_u64(0));
    /// let kept = y.value().to_vec().iter().filter(|&&v| v != 0.0).count();
    /// assert!((700..800).contains(&kept));
    /// assert!(y.value().to_vec().iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-12));
    /// ```
    #[track_caller]
    pub fn dropout<R: Rng + ?Sized>(self, p: f64, rng: &mut R) -> Var<'g, T> {
        assert!(
            (0.0..=1.0).contains(&p),
            "dropout: p must be in [0, 1], got {p}"
        );
        if p == 0.0 {
            return self;
        }
        let shape = self.shape_for("dropout");
        let n: usize = shape.iter().product();
        let scale = if p < 1.0 {
            T::from_f64(1.0 / (1.0 - p))
        } else {
            T::zero()
        };
        let mask = (0..n)
            .map(|_| {
                if rng.random::<f64>() < p {
                    T::zero()
                } else {
                    scale
                }
            })
            .collect();
        self * self
            .graph()
            .constant_named("dropout_mask", Tensor::from_vec(mask, &shape))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_grads, tensor};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn dropout_grad_matches_finite_diff(x in tensor(testing::shape(), -2.0..2.0), seed in 0u64..1000) {
            // The same seed on every evaluation gives the same mask.
            check_grads(|v| v[0].dropout(0.5, &mut StdRng::seed_from_u64(seed)).square(), &[x])?;
        }
    }

    #[test]
    fn dropout_edge_probabilities() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::ones(&[4]));
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(x.dropout(0.0, &mut rng).value().to_vec(), vec![1.0; 4]);
        let y = x.dropout(1.0, &mut rng);
        assert_eq!(y.value().to_vec(), vec![0.0; 4]);
        y.sum().backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; 4]);
    }

    #[test]
    fn dropout_does_not_hide_nan() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::full(&[64], f64::NAN));
        let y = x.dropout(0.5, &mut StdRng::seed_from_u64(3));
        assert!(y.value().to_vec().iter().all(|v| v.is_nan()));
    }

    #[test]
    #[should_panic(expected = "dropout: p must be in [0, 1], got 1.5")]
    fn dropout_panics_on_bad_p() {
        let g = Graph::<f32>::new();
        g.var(Tensor::ones(&[4]))
            .dropout(1.5, &mut StdRng::seed_from_u64(0));
    }
}
