//! `Embedding`: a lookup table of learned vectors.

use ferrograd_autograd::ndarray::{ArrayD, IxDyn};
use ferrograd_autograd::{Float, Graph, Param, Var};
use rand::Rng;

use crate::init::Init;
use crate::module::{Module, Slot};

/// A table of `num_embeddings` vectors of size `dim`, as `torch.nn.Embedding` / Keras'
/// `Embedding`; initialised `N(0, 1)` as PyTorch does.
///
/// [`Embedding::lookup`] takes integer ids. As a [`Module`] (for a [`Sequential`](crate::Sequential))
/// it takes ids stored as floats, as Keras does, and panics on a value that is not a valid id.
///
/// # Shapes
/// - input: ids of any shape `[..]`
/// - weight `[num_embeddings, dim]`
/// - output `[.., dim]`
///
/// ```
/// use ferrograd::autograd::Graph;
/// use ferrograd::autograd::ndarray::{ArrayD, IxDyn};
/// use ferrograd::nn::{Embedding, init};
/// let emb = Embedding::<f32>::new(100, 16, &mut init::rng(0));
/// let g = Graph::new();
/// let ids = ArrayD::from_shape_vec(IxDyn(&[2, 5]), vec![1, 2, 3, 4, 5, 5, 4, 3, 2, 1]).unwrap();
/// assert_eq!(emb.lookup(&g, &ids).shape(), vec![2, 5, 16]);
/// ```
pub struct Embedding<T: Float = f32> {
    weight: Param<T>,
}

impl<T: Float> Embedding<T> {
    /// A table with `N(0, 1)` entries (no fan, so an empty table is simply empty).
    ///
    /// # Panics
    /// If the table is too large to allocate (the message names the layer and the shape).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(num_embeddings: usize, dim: usize, rng: &mut R) -> Self {
        let weight = Init::Normal {
            mean: 0.0,
            std: 1.0,
        }
        .param("Embedding::new", "weight", &[num_embeddings, dim], rng);
        Embedding { weight }
    }

    /// The table, `[num_embeddings, dim]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The vectors of `ids`, entered in `graph`.
    ///
    /// # Panics
    /// If an id is `num_embeddings` or more.
    #[track_caller]
    pub fn lookup<'g>(&self, graph: &'g Graph<T>, ids: &ArrayD<usize>) -> Var<'g, T> {
        graph.param(&self.weight).embedding(ids)
    }
}

impl<T: Float> Module<T> for Embedding<T> {
    /// # Panics
    /// If a value is not a non-negative whole number below `num_embeddings`.
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let value = x.value();
        let rows = self.weight.shape()[0];
        let ids: Vec<usize> = value
            .to_vec()
            .iter()
            .map(|&v| {
                let f = v.as_f64();
                assert!(
                    f >= 0.0 && f.fract() == 0.0 && f < rows as f64,
                    "Embedding: input value {f} is not an id below num_embeddings {rows}"
                );
                f as usize
            })
            .collect();
        let ids = ArrayD::from_shape_vec(IxDyn(value.shape()), ids).expect("same shape");
        crate::module_ext::traced(self, self.lookup(x.graph(), &ids))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        f("weight", Slot::Param(&self.weight));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init;
    use ferrograd_autograd::{Graph, Tensor};

    #[test]
    fn embedding_gradient_accumulates_per_row() {
        let emb = Embedding::<f64>::new(4, 2, &mut init::rng(0));
        let g = Graph::new();
        let ids = g.constant(Tensor::from_vec(vec![3.0, 1.0, 3.0], &[3]));
        emb.forward(ids).sum().backward();
        assert_eq!(
            emb.weight().grad().unwrap().to_vec(),
            vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 2.0, 2.0]
        );
    }

    #[test]
    fn embedding_grads_match_finite_diff() {
        let emb = Embedding::<f64>::new(5, 3, &mut init::rng(4));
        let ids = Tensor::from_vec(vec![4.0, 0.0, 4.0, 2.0], &[2, 2]);
        crate::testing::check_module_params(&emb, &ids).unwrap();
    }

    #[test]
    #[should_panic(expected = "Embedding: input value 1.5 is not an id below num_embeddings 4")]
    fn embedding_panics_on_a_fractional_id() {
        let emb = Embedding::<f32>::new(4, 2, &mut init::rng(0));
        let g = Graph::new();
        emb.forward(g.constant(Tensor::from_vec(vec![1.5], &[1])));
    }
}
