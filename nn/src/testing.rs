//! Gradient checks for whole modules: the input gradient and every parameter's gradient
//! against central finite differences in `f64`.

use ferrograd_autograd::{BackwardOptions, GradcheckOptions, Graph, Tensor, gradcheck};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::{Module, ModuleExt};

/// Checks `module`'s gradients at `input`: the input's with
/// [`gradcheck`](ferrograd_autograd::gradcheck()), and each parameter's by perturbing its
/// elements one at a time. The output is scalarised with seeded random weights. Leaves the
/// parameters' values as they were and their gradients cleared.
///
/// # Errors
/// A message naming the parameter (by its dotted name) or the input, the element, and the
/// analytic and numeric values.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::nn::{Linear, init, testing::check_module};
/// let layer = Linear::<f64>::new(3, 2, &mut init::rng(0));
/// check_module(&layer, &Tensor::from_vec(vec![0.1, -0.2, 0.3], &[1, 3])).unwrap();
/// ```
pub fn check_module<M: Module<f64>>(module: &M, input: &Tensor<f64>) -> Result<(), String> {
    let opts = GradcheckOptions::default();
    gradcheck(|v| module.forward(v[0]), std::slice::from_ref(input), &opts)
        .map_err(|e| format!("input: {e}"))?;
    module.zero_grad();
    check_module_params(module, input)
}

/// The parameter half of [`check_module`], for modules whose input is not differentiable
/// (an [`Embedding`](crate::Embedding)'s ids).
///
/// # Errors
/// A message naming the parameter, the element, and the analytic and numeric values.
pub fn check_module_params<M: Module<f64>>(module: &M, input: &Tensor<f64>) -> Result<(), String> {
    let opts = GradcheckOptions::default();

    let weighted = || {
        let g = Graph::new();
        let _no_grad = g.no_grad();
        let y = module.forward(g.constant(input.clone())).value();
        let w = weights(y.shape());
        y.to_vec()
            .iter()
            .zip(w.to_vec())
            .map(|(a, b)| a * b)
            .sum::<f64>()
    };
    let g = Graph::new();
    let y = module.forward(g.constant(input.clone()));
    y.backward_with(BackwardOptions::new().seed(weights(&y.shape())));
    g.clear();
    for (name, p) in module.named_parameters() {
        let analytic = p
            .grad()
            .map(|t| t.to_vec())
            .unwrap_or_else(|| vec![0.0; p.numel()]);
        let original = p.value();
        let base = original.to_vec();
        for (i, &a) in analytic.iter().enumerate() {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                p.set_value(Tensor::from_vec(v, original.shape()));
                weighted()
            };
            let numeric = (at(opts.eps) - at(-opts.eps)) / (2.0 * opts.eps);
            p.set_value(original.clone());
            if (a - numeric).abs() > opts.atol + opts.rtol * numeric.abs() {
                module.zero_grad();
                return Err(format!(
                    "parameter {name} element {i}: analytic {a:e} vs numeric {numeric:e}"
                ));
            }
        }
    }
    module.zero_grad();
    Ok(())
}

fn weights(shape: &[usize]) -> Tensor<f64> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(99))
}
