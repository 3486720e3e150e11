//! Gradient checks for whole modules: the input gradient and every parameter's gradient
//! against central finite differences in `f64`.

use ferrograd_autograd::ndarray::Dimension;
use ferrograd_autograd::{
    BackwardOptions, GradcheckError, GradcheckOptions, Graph, Tensor, gradcheck,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::{Module, ModuleExt};

/// A module gradient that disagrees with central finite differences, from
/// [`check_module`] or [`check_module_params`]: the input's or a named parameter's.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleCheckError {
    /// The gradient with respect to the input is wrong; the [`GradcheckError`] names the
    /// element, both values and the tolerances.
    #[error("input: {source}")]
    Input {
        /// The failed check of the input.
        #[source]
        source: GradcheckError,
    },
    /// A parameter's gradient is wrong at one element: the first that fails
    /// `|analytic − numeric| ≤ atol + rtol · |numeric|` (a NaN on either side fails).
    #[error(
        "parameter {name} element {index:?}: analytic {analytic:e} vs numeric {numeric:e} (|diff| {:e} > atol {atol:e} + rtol {rtol:e} * |numeric|)",
        (analytic - numeric).abs()
    )]
    Parameter {
        /// The parameter's dotted name (`encoder.fc.weight`).
        name: String,
        /// The multi-dimensional index of the element.
        index: Vec<usize>,
        /// The gradient computed by backward.
        analytic: f64,
        /// The gradient estimated by central differences.
        numeric: f64,
        /// The absolute tolerance used.
        atol: f64,
        /// The relative tolerance used.
        rtol: f64,
    },
}

/// Checks `module`'s gradients at `input`: the input's with
/// [`gradcheck`](ferrograd_autograd::gradcheck()), and each parameter's by perturbing its
/// elements one at a time. The output is scalarised with seeded random weights. Leaves the
/// parameters' values as they were and their gradients cleared.
///
/// # Errors
/// [`ModuleCheckError::Input`] (wrapping the [`GradcheckError`]) if the input's gradient
/// is wrong, else [`ModuleCheckError::Parameter`] naming the first parameter (by its dotted
/// name) and element whose gradient is wrong, with the analytic and numeric values.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::nn::{Linear, init, testing::check_module};
/// let layer = Linear::<f64>::new(3, 2, &mut init::rng(0));
/// check_module(&layer, &Tensor::from_vec(vec![0.1, -0.2, 0.3], &[1, 3])).unwrap();
/// ```
pub fn check_module<M: Module<f64>>(
    module: &M,
    input: &Tensor<f64>,
) -> Result<(), ModuleCheckError> {
    let opts = GradcheckOptions::default();
    gradcheck(|v| module.forward(v[0]), std::slice::from_ref(input), &opts)
        .map_err(|source| ModuleCheckError::Input { source })?;
    module.zero_grad();
    check_module_params(module, input)
}

/// The parameter half of [`check_module`], for modules whose input is not differentiable
/// (an [`Embedding`](crate::Embedding)'s ids).
///
/// # Errors
/// [`ModuleCheckError::Parameter`] naming the first parameter and element whose gradient
/// is wrong, with the analytic and numeric values.
pub fn check_module_params<M: Module<f64>>(
    module: &M,
    input: &Tensor<f64>,
) -> Result<(), ModuleCheckError> {
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
        // Row-major, as `to_vec`: element i of `analytic` is at `index`.
        for ((index, &x0), &a) in original.view().indexed_iter().zip(&analytic) {
            let at = |delta: f64| {
                let mut v = original.clone();
                v.view_mut()[&index] = x0 + delta;
                p.set_value(v);
                weighted()
            };
            let numeric = (at(opts.eps) - at(-opts.eps)) / (2.0 * opts.eps);
            p.set_value(original.clone());
            if !opts.agrees(a, numeric) {
                module.zero_grad();
                return Err(ModuleCheckError::Parameter {
                    name,
                    index: index.as_array_view().to_vec(),
                    analytic: a,
                    numeric,
                    atol: opts.atol,
                    rtol: opts.rtol,
                });
            }
        }
    }
    module.zero_grad();
    Ok(())
}

fn weights(shape: &[usize]) -> Tensor<f64> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(99))
}

#[cfg(test)]
mod tests {
    use ferrograd_autograd::{Param, Var, grads};

    use super::*;
    use crate::Slot;

    /// `y = x ⊙ weight` (same shapes) whose backward scales the input's gradient by
    /// `input_factor` and the weight's by `weight_factor` (1 is right).
    struct Scale {
        weight: Param<f64>,
        input_factor: f64,
        weight_factor: f64,
    }

    impl Module<f64> for Scale {
        fn forward<'g>(&self, x: Var<'g, f64>) -> Var<'g, f64> {
            let (fx, fw) = (self.input_factor, self.weight_factor);
            x.graph().custom_op(
                "scale",
                &[x, x.graph().param(&self.weight)],
                |v| {
                    let data = v[0]
                        .to_vec()
                        .into_iter()
                        .zip(v[1].to_vec())
                        .map(|(a, b)| a * b);
                    Tensor::from_vec(data.collect(), v[0].shape())
                },
                move |ctx, g| grads![Some(g * ctx.input(1) * fx), Some(g * ctx.input(0) * fw)],
            )
        }

        fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, f64>)) {
            f("weight", Slot::Param(&self.weight));
        }
    }

    fn scale(input_factor: f64, weight_factor: f64) -> Scale {
        Scale {
            weight: Param::new(Tensor::from_vec(
                vec![0.5, -1.0, 2.0, 1.5, -0.5, 1.0],
                &[2, 3],
            )),
            input_factor,
            weight_factor,
        }
    }

    /// Zero except at `[1, 2]`: a weight gradient (`g · x`) off by a factor agrees with finite
    /// differences (both 0) everywhere else.
    fn input() -> Tensor<f64> {
        Tensor::from_vec(vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.5], &[2, 3])
    }

    #[test]
    fn check_module_passes_a_right_module_and_clears_its_gradients() {
        let module = scale(1.0, 1.0);
        check_module(&module, &input()).unwrap();
        assert!(module.weight.grad().is_none());
    }

    #[test]
    fn check_module_names_the_wrong_parameter_element() {
        let module = scale(1.0, 0.5);
        let err = check_module(&module, &input()).unwrap_err();
        let ModuleCheckError::Parameter {
            name,
            index,
            analytic,
            numeric,
            atol,
            rtol,
        } = &err
        else {
            panic!("expected ModuleCheckError::Parameter, got {err:?}");
        };
        assert_eq!((name.as_str(), index.as_slice()), ("weight", &[1, 2][..]));
        assert!(
            (analytic / numeric - 0.5).abs() < 1e-6,
            "{analytic} {numeric}"
        );
        let opts = GradcheckOptions::default();
        assert_eq!((*atol, *rtol), (opts.atol, opts.rtol));
        assert!(
            err.to_string()
                .starts_with("parameter weight element [1, 2]: analytic "),
            "{err}"
        );
        assert!(
            err.to_string()
                .ends_with(" > atol 1e-5 + rtol 1e-3 * |numeric|)"),
            "{err}"
        );
        // The parameter is restored and its gradient cleared.
        assert_eq!(module.weight.value(), scale(1.0, 1.0).weight.value());
        assert!(module.weight.grad().is_none());
    }

    #[test]
    fn check_module_reports_a_wrong_input_gradient_with_gradchecks_error_as_its_source() {
        let err = check_module(&scale(0.5, 1.0), &input()).unwrap_err();
        let ModuleCheckError::Input { source } = &err else {
            panic!("expected ModuleCheckError::Input, got {err:?}");
        };
        assert_eq!((source.check, source.input), ("gradcheck", 0));
        // Every input element has a non-zero weight, so the first is already wrong.
        assert_eq!(source.index, vec![0, 0]);
        assert_eq!(err.to_string(), format!("input: {source}"));
        assert!(
            err.to_string()
                .starts_with("input: gradcheck: input 0 element [0, 0]: analytic "),
            "{err}"
        );
        let inner = std::error::Error::source(&err).expect("a source");
        assert_eq!(inner.to_string(), source.to_string());
    }

    #[test]
    fn check_module_params_ignores_the_input_and_fails_on_a_nan_gradient() {
        // A wrong input gradient is not checked by the parameter half.
        check_module_params(&scale(0.5, 1.0), &input()).unwrap();
        let err = check_module_params(&scale(1.0, f64::NAN), &input()).unwrap_err();
        match err {
            ModuleCheckError::Parameter {
                ref name,
                ref index,
                analytic,
                ..
            } => {
                assert_eq!((name.as_str(), index.as_slice()), ("weight", &[0, 0][..]));
                assert!(analytic.is_nan());
            }
            other => panic!("expected ModuleCheckError::Parameter, got {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("parameter weight element [0, 0]: analytic NaN vs numeric 0e0"),
            "{err}"
        );
    }
}
