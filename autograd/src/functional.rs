//! Functional derivatives of a function of tensors: [`vjp`], [`jacobian`], [`hessian`] and
//! [`hvp`], as `torch.autograd.functional`.
//!
//! Each takes the function as a closure over `Var`s (the signature [`gradcheck`] takes),
//! builds a fresh graph, and returns plain tensors. Hessians and Hessian-vector products
//! differentiate a gradient recorded with `create_graph`, so they work for every op.
//!
//! A closure written in the call works as it is. One kept in a variable to be used twice
//! needs [`func`], which gives it the signature these functions take (Rust infers a
//! closure's lifetimes from where it is written, and `let f = |v| ...` alone gets none).
//!
//! [`gradcheck`]: crate::gradcheck()

use crate::alloc::alloc;
use crate::float::Float;
use crate::graph::{Graph, Var};
use crate::tensor::Tensor;

/// `f` itself, typed as a function of any graph's `Var`s: lets a closure kept in a
/// variable be passed to [`hessian`], [`hvp`], [`jacobian`], [`vjp`] or
/// [`gradcheck`](crate::gradcheck()) more than once.
///
/// ```
/// use ferrograd::autograd::functional::{func, hessian, hvp};
/// use ferrograd::autograd::Tensor;
/// // Without `func`, this closure would not be accepted by `hessian`.
/// let loss = func(|v| (v[0] * v[0] * v[0]).sum());
/// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
/// let h = hessian(&loss, &x); // diag(6x)
/// assert_eq!(h.to_vec(), vec![6.0, 0.0, 0.0, 12.0]);
/// let (_, hv) = hvp(&loss, &[x], &[Tensor::from_vec(vec![1.0, 1.0], &[2])]);
/// assert_eq!(hv[0].to_vec(), vec![6.0, 12.0]);
/// ```
pub fn func<T: Float, F>(f: F) -> F
where
    F: for<'g> Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    f
}

/// The gradient `Var`s as tensors, zeros where an input was not used.
fn values<T: Float>(grads: Vec<Option<Var<'_, T>>>, inputs: &[Tensor<T>]) -> Vec<Tensor<T>> {
    grads
        .into_iter()
        .zip(inputs)
        .map(|(g, x)| g.map_or_else(|| Tensor::zeros(x.shape()), Var::value))
        .collect()
}

/// A tensor of `shape` with a single 1 at flat position `k`.
fn unit<T: Float>(shape: &[usize], k: usize) -> Tensor<T> {
    let mut data = vec![T::zero(); shape.iter().product()];
    data[k] = T::one();
    Tensor::from_vec(data, shape)
}

/// Runs `f` on `xs` and checks that its output belongs to `g`: a closure can return a `Var`
/// of another (leaked) graph, whose key would name an unrelated node here.
#[track_caller]
fn call<'g, T, F>(op: &str, g: &'g Graph<T>, f: F, xs: &[Var<'g, T>]) -> Var<'g, T>
where
    T: Float,
    F: Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    let y = f(xs);
    g.check_owns(op, format_args!("the function's output"), y);
    y
}

#[track_caller]
fn check_scalar(op: &str, shape: &[usize]) {
    assert!(
        shape.iter().product::<usize>() == 1,
        "{op}: the function must return a single element, got shape {shape:?}"
    );
}

/// The output of `f` at `inputs` and the vector-Jacobian product `vᵀ·∂f/∂xᵢ` for every
/// input: one backward pass.
///
/// # Panics
/// If `v` does not have the output's shape.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::autograd::functional::vjp;
/// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
/// let (y, grads) = vjp(|v| v[0].square(), &[x], &Tensor::from_vec(vec![1.0, 0.5], &[2]));
/// assert_eq!(y.to_vec(), vec![1.0, 4.0]);
/// assert_eq!(grads[0].to_vec(), vec![2.0, 2.0]); // v ⊙ 2x
/// ```
#[track_caller]
pub fn vjp<T, F>(f: F, inputs: &[Tensor<T>], v: &Tensor<T>) -> (Tensor<T>, Vec<Tensor<T>>)
where
    T: Float,
    F: for<'g> Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    let g = Graph::new();
    let xs: Vec<_> = inputs.iter().map(|x| g.var(x.clone())).collect();
    let y = call("vjp", &g, f, &xs);
    assert!(
        y.shape() == v.shape(),
        "vjp: v of shape {:?} does not match the output of shape {:?}",
        v.shape(),
        y.shape()
    );
    let grads = g.grad_with(&[y], std::slice::from_ref(v), &xs, false);
    (y.value(), values(grads, inputs))
}

/// The Jacobian of `f` with respect to each input: for input `i`, a tensor of shape
/// `output.shape ++ inputs[i].shape` whose element `[j.., k..]` is `∂yⱼ/∂xᵢₖ`. Runs one
/// backward pass per output element.
///
/// # Panics
/// If a Jacobian is too large to allocate (checked before the first backward pass), or the
/// function returns a `Var` of another graph.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::autograd::functional::jacobian;
/// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
/// let w = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
/// let j = jacobian(|v| v[1].matmul(v[0]), &[x, w]);
/// assert_eq!(j[0].shape(), &[3, 2]);
/// assert_eq!(j[0].to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]); // ∂(Wx)/∂x = W
/// assert_eq!(j[1].shape(), &[3, 3, 2]);
/// ```
#[track_caller]
pub fn jacobian<T, F>(f: F, inputs: &[Tensor<T>]) -> Vec<Tensor<T>>
where
    T: Float,
    F: for<'g> Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    let g = Graph::new();
    let xs: Vec<_> = inputs.iter().map(|x| g.var(x.clone())).collect();
    let y = call("jacobian", &g, f, &xs);
    let out = y.shape();
    // Each Jacobian is allocated (through the size check) before the first backward pass,
    // and the rows are written straight into it.
    let shapes: Vec<Vec<usize>> = inputs
        .iter()
        .map(|x| [out.as_slice(), x.shape()].concat())
        .collect();
    let mut data: Vec<Vec<T>> = shapes.iter().map(|s| alloc("jacobian", s)).collect();
    for k in 0..out.iter().product() {
        let row = values(g.grad_with(&[y], &[unit(&out, k)], &xs, false), inputs);
        for (d, r) in data.iter_mut().zip(&row) {
            d.extend(r.view().iter().copied());
        }
    }
    data.into_iter()
        .zip(&shapes)
        .map(|(d, s)| Tensor::from_vec(d, s))
        .collect()
}

/// The Hessian of a scalar function at `input`: a tensor of shape `input.shape ++
/// input.shape` holding `∂²f/∂xⱼ∂xₖ`. Records the gradient once (`create_graph`) and
/// differentiates it once per element.
///
/// # Panics
/// If `f` returns more than one element or a `Var` of another graph, or the Hessian is too
/// large to allocate (checked before `f` runs).
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::autograd::functional::hessian;
/// // f(x) = x₀²·x₁ has Hessian [[2x₁, 2x₀], [2x₀, 0]].
/// let h = hessian(|v| (v[0].narrow(0, 0, 1).square() * v[0].narrow(0, 1, 1)).sum(),
///                 &Tensor::from_vec(vec![3.0f64, 5.0], &[2]));
/// assert_eq!(h.to_vec(), vec![10.0, 6.0, 6.0, 0.0]);
/// ```
#[track_caller]
pub fn hessian<T, F>(f: F, input: &Tensor<T>) -> Tensor<T>
where
    T: Float,
    F: for<'g> Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    let shape = input.shape();
    let both = [shape, shape].concat();
    // Allocated (through the size check) before anything runs; rows are written into it.
    let mut data = alloc::<T>("hessian", &both);
    let g = Graph::new();
    let x = g.var(input.clone());
    let y = call("hessian", &g, f, &[x]);
    check_scalar("hessian", &y.shape());
    let n = input.numel();
    match g.grad(&[y], &[x], true)[0] {
        None => data.resize(n * n, T::zero()),
        Some(dy) => {
            for k in 0..n {
                let row = g.grad_with(&[dy], &[unit(shape, k)], &[x], false);
                let row = values(row, std::slice::from_ref(input)).remove(0);
                data.extend(row.view().iter().copied());
            }
        }
    }
    Tensor::from_vec(data, &both)
}

/// The value of a scalar function and its Hessian-vector products `H·v` for every input
/// (one vector per input), without forming the Hessian: two backward passes.
///
/// # Panics
/// If `f` returns more than one element, or `vs` does not match the inputs in number and
/// shapes.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::autograd::functional::hvp;
/// // f(x) = Σ x³: H = diag(6x).
/// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
/// let v = Tensor::from_vec(vec![1.0, 1.0], &[2]);
/// let (f, hv) = hvp(|v| v[0].powf(3.0).sum(), &[x], &[v]);
/// assert_eq!(f, 9.0);
/// assert_eq!(hv[0].to_vec(), vec![6.0, 12.0]);
/// ```
#[track_caller]
pub fn hvp<T, F>(f: F, inputs: &[Tensor<T>], vs: &[Tensor<T>]) -> (T, Vec<Tensor<T>>)
where
    T: Float,
    F: for<'g> Fn(&[Var<'g, T>]) -> Var<'g, T>,
{
    assert!(
        vs.len() == inputs.len() && vs.iter().zip(inputs).all(|(v, x)| v.shape() == x.shape()),
        "hvp: the vectors must match the inputs in number and shape"
    );
    let g = Graph::new();
    let xs: Vec<_> = inputs.iter().map(|x| g.var(x.clone())).collect();
    let y = call("hvp", &g, f, &xs);
    check_scalar("hvp", &y.shape());
    let dot = g
        .grad(&[y], &xs, true)
        .into_iter()
        .zip(vs)
        .filter_map(|(gx, v)| gx.map(|gx| (gx * g.constant(v.clone())).sum()))
        .reduce(|a, b| a + b);
    let hv = match dot {
        Some(dot) => values(g.grad(&[dot], &xs, false), inputs),
        None => inputs.iter().map(|x| Tensor::zeros(x.shape())).collect(),
    };
    (y.item(), hv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::OpFn;

    #[test]
    fn hessian_of_a_quadratic_form_is_symmetric_part_times_two() {
        // f(x) = xᵀAx has Hessian A + Aᵀ.
        let a = Tensor::from_vec(vec![1.0f64, 2.0, 0.0, 3.0], &[2, 2]);
        let x = Tensor::from_vec(vec![0.7, -0.4], &[2]);
        let h = hessian(
            |v| {
                let a = v[0].graph().constant(a.clone());
                v[0].matmul(a.matmul(v[0]))
            },
            &x,
        );
        assert_eq!(h.to_vec(), vec![2.0, 2.0, 2.0, 6.0]);
    }

    #[test]
    fn hvp_matches_hessian_times_vector() {
        let f: OpFn = |v| (v[0].tanh() * v[0].exp()).sum();
        let x = Tensor::from_vec(vec![0.3, -0.8, 1.1], &[3]);
        let v = Tensor::from_vec(vec![1.0, -2.0, 0.5], &[3]);
        let h = hessian(f, &x);
        let (_, hv) = hvp(f, std::slice::from_ref(&x), std::slice::from_ref(&v));
        for i in 0..3 {
            let want: f64 = (0..3).map(|j| h.get(&[i, j]) * v.get(&[j])).sum();
            assert!((hv[0].get(&[i]) - want).abs() < 1e-12);
        }
    }

    #[test]
    fn jacobian_rows_are_vjps_with_unit_vectors() {
        let f: OpFn = |v| v[0].softmax(0);
        let x = Tensor::from_vec(vec![0.1, 0.5, -0.3], &[3]);
        let j = &jacobian(f, std::slice::from_ref(&x))[0];
        let (s, _) = vjp(f, std::slice::from_ref(&x), &Tensor::zeros(&[3]));
        // Softmax Jacobian: diag(s) − s sᵀ.
        for r in 0..3 {
            for c in 0..3 {
                let want = if r == c { s.get(&[r]) } else { 0.0 } - s.get(&[r]) * s.get(&[c]);
                assert!((j.get(&[r, c]) - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn unused_inputs_get_zero_derivatives() {
        let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
        let j = jacobian(|v| v[0] * 2.0, &[x.clone(), x.clone()]);
        assert_eq!(j[1].to_vec(), vec![0.0; 4]);
        assert_eq!(hessian(|v| v[0].sum(), &x).to_vec(), vec![0.0; 4]);
    }

    #[test]
    #[should_panic(expected = "hessian: the function must return a single element, got shape [2]")]
    fn hessian_panics_on_a_vector_function() {
        hessian(|v| v[0] * 2.0, &Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    }

    /// A `Var` of a leaked graph: the only way a closure generic over the graph's lifetime
    /// can return a `Var` of another graph.
    fn stray() -> Var<'static, f64> {
        let other: &'static Graph<f64> = Box::leak(Box::new(Graph::new()));
        other.var(Tensor::zeros(&[2]))
    }

    #[test]
    fn every_functional_checks_the_function_returns_a_var_of_its_graph() {
        let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
        let stray = stray();
        let msg = |r: std::thread::Result<()>| *r.unwrap_err().downcast::<String>().unwrap();
        let catch = |f: &dyn Fn()| msg(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        let one = std::slice::from_ref(&x);
        assert_eq!(
            catch(&|| drop(vjp(|_| stray, one, &x))),
            "vjp: the function's output belongs to a different graph"
        );
        assert_eq!(
            catch(&|| drop(jacobian(|_| stray, one))),
            "jacobian: the function's output belongs to a different graph"
        );
        assert_eq!(
            catch(&|| drop(hessian(|_| stray, &x))),
            "hessian: the function's output belongs to a different graph"
        );
        assert_eq!(
            catch(&|| drop(hvp(|_| stray, one, one))),
            "hvp: the function's output belongs to a different graph"
        );
    }

    /// 2^24 zeros (calloc: cheap in a debug build); a square matrix of them is 2^48 elements.
    fn long() -> Tensor<f32> {
        Tensor::from_array(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1 << 24])))
    }

    #[test]
    #[should_panic(
        expected = "hessian: cannot allocate shape [16777216, 16777216] (2.81e14 elements, 1.13 PB of f32)"
    )]
    fn hessian_checks_its_size_before_anything_runs() {
        hessian(|_| unreachable!("f must not run"), &long());
    }

    #[test]
    #[should_panic(
        expected = "jacobian: cannot allocate shape [16777216, 16777216] (2.81e14 elements, 1.13 PB of f32)"
    )]
    fn jacobian_checks_its_size_before_the_first_backward_pass() {
        jacobian(|v| v[0].reshape(&[-1]), &[long()]);
    }

    #[test]
    #[should_panic(expected = "vjp: v of shape [3] does not match the output of shape [2]")]
    fn vjp_panics_on_a_mismatched_vector() {
        vjp(
            |v| v[0] * 2.0,
            &[Tensor::from_vec(vec![1.0f64, 2.0], &[2])],
            &Tensor::zeros(&[3]),
        );
    }
}
