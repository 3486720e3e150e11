//! [`Sequential`]: layers applied in order.

use std::ops::Index;

use ferrograd_autograd::{Float, Var};

use crate::module::{Module, Slot, visit_child};
/// Layers applied one after another, as `torch.nn.Sequential` / Keras' `Sequential`.
/// Parameter names are the layer's index: `0.weight`, `2.bias`. Any [`Module`] is a layer,
/// a `Sequential` included: a body and a head as two nested stacks (`0.1.weight` is layer 1
/// of the body) can be frozen or replaced as wholes, `model[0].freeze()`,
/// `model.replace(1, new_head)` (see the transfer-learning recipe in `ferrograd::guide`).
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Linear, ModuleExt, ReLU, Sequential, Module};
/// let mut rng = ferrograd::nn::init::rng(0);
/// let model = Sequential::<f32>::new()
///     .add(Linear::new(3, 16, &mut rng))
///     .add(ReLU)
///     .add(Linear::new(16, 1, &mut rng));
/// let g = Graph::new();
/// let y = model.forward(g.constant(Tensor::zeros(&[5, 3])));
/// assert_eq!(y.shape(), vec![5, 1]);
/// let summary = model.summary(&[5, 3]);
/// assert_eq!(summary.total, 3 * 16 + 16 + 16 + 1);
/// println!("{summary}");
/// ```
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Module<T> + Send + Sync>>,
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty stack (its forward is the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer (Keras' `model.add`; not an arithmetic `+`).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<T> + Send + Sync + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True if there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layer at position `i`, or `None` past the end; `model[i]` panics instead.
    ///
    /// ```
    /// use ferrograd::nn::{Linear, Module, ReLU, Sequential, init};
    /// let model = Sequential::<f32>::new()
    ///     .add(Linear::new(2, 4, &mut init::rng(0)))
    ///     .add(ReLU);
    /// assert_eq!(model.get(1).map(|layer| layer.name()), Some("ReLU".to_string()));
    /// assert!(model.get(2).is_none());
    /// ```
    pub fn get(&self, i: usize) -> Option<&dyn Module<T>> {
        self.layers.get(i).map(|layer| &**layer as &dyn Module<T>)
    }

    /// The layers in order (also `for layer in &model`).
    ///
    /// ```
    /// use ferrograd::nn::{Linear, Module, ReLU, Sequential, init};
    /// let model = Sequential::<f32>::new()
    ///     .add(Linear::new(2, 4, &mut init::rng(0)))
    ///     .add(ReLU);
    /// let names: Vec<String> = model.iter().map(|layer| layer.name()).collect();
    /// assert_eq!(names, ["Linear", "ReLU"]);
    /// ```
    pub fn iter(&self) -> SequentialIter<'_, T> {
        SequentialIter {
            layers: self.layers.iter(),
        }
    }

    /// Puts `layer` at position `i` in place of the layer there, and returns the old one,
    /// as PyTorch's `model[i] = layer`.
    ///
    /// Parameter names follow the position, so the new layer's parameters take the old
    /// one's names (`2.weight`, `2.bias`) and a weights file saved afterwards loads into
    /// any model with the same layers. They are new [`Param`](ferrograd_autograd::Param)s:
    /// an optimizer built before the replacement still holds the old ones, so build it
    /// afterwards.
    ///
    /// # Panics
    /// If `i` is not below [`Sequential::len`].
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Linear, Module, ModuleExt, ReLU, Sequential, init};
    /// let mut rng = init::rng(0);
    /// let mut model = Sequential::<f32>::new()
    ///     .add(Linear::new(3, 8, &mut rng))
    ///     .add(ReLU)
    ///     .add(Linear::new(8, 10, &mut rng));
    /// // Fine-tuning: freeze the first layer and put a new 2-class head in place of the last.
    /// model[0].freeze();
    /// let old_head = model.replace(2, Linear::new(8, 2, &mut rng));
    /// assert_eq!(old_head.num_params(), 8 * 10 + 10);
    /// assert!(model[0].parameters().iter().all(|p| !p.requires_grad()));
    /// assert!(model[2].parameters().iter().all(|p| p.requires_grad()));
    /// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    /// let g = Graph::new();
    /// assert_eq!(model.forward(g.constant(Tensor::zeros(&[5, 3]))).shape(), vec![5, 2]);
    /// ```
    #[track_caller]
    pub fn replace(
        &mut self,
        i: usize,
        layer: impl Module<T> + Send + Sync + 'static,
    ) -> Box<dyn Module<T> + Send + Sync> {
        let len = self.layers.len();
        match self.layers.get_mut(i) {
            Some(slot) => std::mem::replace(slot, Box::new(layer)),
            None => panic!("Sequential::replace: index {i} is out of range for {len} layers"),
        }
    }
}

/// The layer at position `i`: `model[0].freeze()` freezes the first layer.
///
/// # Panics
/// If `i` is not below [`Sequential::len`] ([`Sequential::get`] returns `None` instead).
///
/// ```
/// use ferrograd::nn::{Linear, ModuleExt, ReLU, Sequential, init};
/// let mut rng = init::rng(0);
/// let model = Sequential::<f32>::new()
///     .add(Linear::new(4, 8, &mut rng))
///     .add(ReLU)
///     .add(Linear::new(8, 2, &mut rng));
/// // Freeze everything but the last layer.
/// for layer in model.iter().take(model.len() - 1) {
///     layer.freeze();
/// }
/// assert!(model[0].parameters().iter().all(|p| !p.requires_grad()));
/// assert!(model[2].parameters().iter().all(|p| p.requires_grad()));
/// assert_eq!(model.parameters().iter().filter(|p| p.requires_grad()).count(), 2);
/// ```
impl<T: Float> Index<usize> for Sequential<T> {
    type Output = dyn Module<T>;

    #[track_caller]
    fn index(&self, i: usize) -> &Self::Output {
        match self.layers.get(i) {
            Some(layer) => &**layer,
            None => panic!(
                "Sequential: index {i} is out of range for {} layers",
                self.len()
            ),
        }
    }
}

/// An iterator over a [`Sequential`]'s layers, in order ([`Sequential::iter`]).
pub struct SequentialIter<'a, T: Float> {
    layers: std::slice::Iter<'a, Box<dyn Module<T> + Send + Sync>>,
}

impl<'a, T: Float> Iterator for SequentialIter<'a, T> {
    type Item = &'a dyn Module<T>;

    fn next(&mut self) -> Option<Self::Item> {
        self.layers.next().map(|layer| &**layer as &dyn Module<T>)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.layers.size_hint()
    }
}

impl<T: Float> DoubleEndedIterator for SequentialIter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.layers
            .next_back()
            .map(|layer| &**layer as &dyn Module<T>)
    }
}

impl<T: Float> ExactSizeIterator for SequentialIter<'_, T> {}

impl<'a, T: Float> IntoIterator for &'a Sequential<T> {
    type Item = &'a dyn Module<T>;
    type IntoIter = SequentialIter<'a, T>;

    fn into_iter(self) -> SequentialIter<'a, T> {
        self.iter()
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        self.layers.iter().fold(x, |x, layer| {
            // While a summary runs, a layer that noted no row of its own (a user's module
            // of raw ops) gets one row for itself.
            let rows_before = crate::module_ext::traced_rows();
            let y = layer.forward(x);
            if rows_before.is_some() && crate::module_ext::traced_rows() == rows_before {
                crate::module_ext::traced(layer.as_ref(), y)
            } else {
                y
            }
        })
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        for (i, layer) in self.layers.iter().enumerate() {
            visit_child(&i.to_string(), layer.as_ref(), f);
        }
    }
}

#[cfg(test)]
mod tests {
    use ferrograd_autograd::{Graph, Tensor};

    use crate::{Linear, Module, ModuleExt, ReLU, Sequential, init};

    fn mlp() -> Sequential<f64> {
        let mut rng = init::rng(0);
        Sequential::new()
            .add(Linear::new(3, 4, &mut rng))
            .add(ReLU)
            .add(Linear::new(4, 2, &mut rng))
    }

    fn names(model: &Sequential<f64>) -> Vec<String> {
        model.state().into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn indexing_get_and_iter_see_the_same_layers() {
        let model = mlp();
        assert_eq!(model.len(), 3);
        assert!(!model.is_empty() && Sequential::<f32>::new().is_empty());
        let by_iter: Vec<String> = model.iter().map(|l| l.name()).collect();
        let by_index: Vec<String> = (0..model.len()).map(|i| model[i].name()).collect();
        let by_get: Vec<String> = (0..model.len())
            .map(|i| model.get(i).unwrap().name())
            .collect();
        assert_eq!(by_iter, ["Linear", "ReLU", "Linear"]);
        assert_eq!(by_index, by_iter);
        assert_eq!(by_get, by_iter);
        assert_eq!((&model).into_iter().next_back().unwrap().num_params(), 10);
        assert_eq!(model.iter().len(), 3);
        assert!(model.get(3).is_none());
    }

    #[test]
    fn an_indexed_layer_holds_the_same_params_as_the_model() {
        let model = mlp();
        let whole = model.named_parameters();
        let first = model[0].parameters();
        assert!(whole[0].1.same(&first[0]));
        assert!(whole[1].1.same(&first[1]));
        assert_eq!(whole[2].0, "2.weight");
        assert!(whole[2].1.same(&model[2].parameters()[0]));
    }

    #[test]
    fn freezing_a_prefix_stops_its_gradients_only() {
        let model = mlp();
        model[0].freeze();
        let g = Graph::new();
        let y = model.forward(g.constant(Tensor::ones(&[2, 3])));
        y.sum().backward();
        let grads: Vec<(String, bool)> = model
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.grad().is_some()))
            .collect();
        assert_eq!(
            grads,
            [
                ("0.weight".to_string(), false),
                ("0.bias".to_string(), false),
                ("2.weight".to_string(), true),
                ("2.bias".to_string(), true),
            ]
        );
        model[0].unfreeze();
        assert!(model.parameters().iter().all(|p| p.requires_grad()));
    }

    #[test]
    fn replacing_a_layer_keeps_names_by_position() {
        let mut model = mlp();
        let before = names(&model);
        let old = model.replace(2, Linear::new(4, 5, &mut init::rng(1)));
        assert_eq!(old.num_params(), 4 * 2 + 2);
        assert_eq!(names(&model), before);
        let state = model.state();
        assert_eq!(state[2].1.value().shape(), &[5, 4]);
        let g = Graph::new();
        let y = model.forward(g.constant(Tensor::zeros(&[1, 3])));
        assert_eq!(y.shape(), vec![1, 5]);
        // A layer without parameters in place of one with them drops its names.
        model.replace(2, ReLU);
        assert_eq!(names(&model), ["0.weight", "0.bias"]);
    }

    #[test]
    fn a_model_saved_after_a_replacement_loads_into_one_built_that_way() {
        let dir = std::env::temp_dir().join(format!("ferrograd-seq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("replaced.safetensors");
        let mut model = mlp();
        model.replace(2, Linear::new(4, 5, &mut init::rng(1)));
        model.save(&path).unwrap();
        let mut rng = init::rng(7);
        let fresh = Sequential::<f64>::new()
            .add(Linear::new(3, 4, &mut rng))
            .add(ReLU)
            .add(Linear::new(4, 5, &mut rng));
        fresh.load(&path).unwrap();
        for ((n, a), (m, b)) in model.state().iter().zip(fresh.state().iter()) {
            assert_eq!(n, m);
            assert_eq!(a.value(), b.value());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[should_panic(expected = "Sequential: index 3 is out of range for 3 layers")]
    fn indexing_past_the_end_panics() {
        let _ = mlp()[3].name();
    }

    #[test]
    #[should_panic(expected = "Sequential::replace: index 5 is out of range for 3 layers")]
    fn replacing_past_the_end_panics() {
        mlp().replace(5, ReLU);
    }
}
