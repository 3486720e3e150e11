//! [`Sequential`]: layers applied in order.

use ferrograd_autograd::{Float, Graph, Tensor, Var};

use crate::module::{Module, Slot, visit_child};
use crate::module_ext::{ModuleExt, Summary, SummaryRow};
/// Layers applied one after another, as `torch.nn.Sequential` / Keras' `Sequential`.
/// Parameter names are the layer's index: `0.weight`, `2.bias`.
///
/// ```
/// use ferrograd_autograd::{Graph, Tensor};
/// use ferrograd_nn::{Linear, ModuleExt, ReLU, Sequential, Module};
/// let mut rng = ferrograd_nn::init::rng(0);
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
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        self.layers.iter().fold(x, |x, layer| layer.forward(x))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        for (i, layer) in self.layers.iter().enumerate() {
            visit_child(&i.to_string(), layer.as_ref(), f);
        }
    }
}

impl<T: Float> Sequential<T> {
    /// The forward pass, recording one summary row per layer.
    fn traced<'g>(&self, mut x: Var<'g, T>, rows: &mut Vec<SummaryRow>) -> Var<'g, T> {
        for layer in &self.layers {
            x = layer.forward(x);
            let mut params = 0;
            layer.visit(&mut |_, slot| {
                if let Slot::Param(p) = slot {
                    params += p.numel();
                }
            });
            rows.push(SummaryRow {
                layer: layer.name(),
                output: x.shape(),
                params,
            });
        }
        x
    }

    /// [`ModuleExt::summary`] with one row per layer.
    pub fn summary(&self, input_shape: &[usize]) -> Summary {
        let g = Graph::new();
        let _no_grad = g.no_grad();
        let mut rows = Vec::new();
        self.traced(g.constant(Tensor::zeros(input_shape)), &mut rows);
        Summary::new(rows, &self.parameters())
    }
}
