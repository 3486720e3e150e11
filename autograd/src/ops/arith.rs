//! add, sub, mul, div, neg — with NumPy broadcasting — and the `std::ops` operators.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::float::Float;
use crate::grads;
use crate::graph::{BackwardCtx, Grads, Var};
use crate::kernels::{checked_broadcast, par_map2};

// The inherent add/sub/mul/div/neg carry the docs; the operator impls below call them.
#[allow(clippy::should_implement_trait)]
impl<'g, T: Float> Var<'g, T> {
    /// Records a broadcasting binary element-wise op after checking the shapes.
    #[track_caller]
    pub(crate) fn binary<B>(
        self,
        rhs: Var<'g, T>,
        op: &'static str,
        f: impl Fn(T, T) -> T + Sync,
        backward: B,
    ) -> Var<'g, T>
    where
        B: for<'a, 'h> Fn(&BackwardCtx<'a, 'h, T>, Var<'h, T>) -> Grads<'h, T> + 'static,
    {
        let (a, b) = (self.shape_for(op), rhs.shape_for(op));
        let out = checked_broadcast(op, &a, &b);
        self.graph().custom_op(
            op,
            &[self, rhs],
            |v| crate::Tensor::from_array(par_map2(&v[0].view(), &v[1].view(), &out, f)),
            backward,
        )
    }

    /// Element-wise `self + rhs`, broadcasting; also the `+` operator.
    ///
    /// Backward: the gradient passes to both inputs, summed over broadcast axes.
    /// Saves nothing.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let a = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
    /// let b = g.var(Tensor::from_vec(vec![10.0, 20.0], &[2]));
    /// let c = a + b; // b is broadcast over the rows
    /// assert_eq!(c.value().to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
    /// c.sum().backward();
    /// assert_eq!(b.grad().unwrap().to_vec(), vec![2.0, 2.0]); // summed back over rows
    /// ```
    #[track_caller]
    pub fn add(self, rhs: Var<'g, T>) -> Var<'g, T> {
        self.binary(
            rhs,
            "add",
            |a, b| a + b,
            |ctx, g| {
                grads![
                    ctx.needs_grad(0).then(|| g.sum_to_like(ctx.input(0))),
                    ctx.needs_grad(1).then(|| g.sum_to_like(ctx.input(1))),
                ]
            },
        )
    }

    /// Element-wise `self − rhs`, broadcasting; also the `-` operator.
    ///
    /// Backward: `grad` to `self`, `−grad` to `rhs`, summed over broadcast axes.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let d = g.var(Tensor::from_vec(vec![5.0, 7.0], &[2])) - g.scalar(1.0);
    /// assert_eq!(d.value().to_vec(), vec![4.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn sub(self, rhs: Var<'g, T>) -> Var<'g, T> {
        self.binary(
            rhs,
            "sub",
            |a, b| a - b,
            |ctx, g| {
                grads![
                    ctx.needs_grad(0).then(|| g.sum_to_like(ctx.input(0))),
                    ctx.needs_grad(1).then(|| (-g).sum_to_like(ctx.input(1))),
                ]
            },
        )
    }

    /// Element-wise `self · rhs`, broadcasting; also the `*` operator.
    ///
    /// Backward: `grad · rhs` to `self` and `grad · self` to `rhs`, summed over broadcast
    /// axes. Saves the inputs.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.var(Tensor::from_vec(vec![2.0, 3.0], &[2]));
    /// let b = g.var(Tensor::from_vec(vec![5.0, 7.0], &[2]));
    /// (a * b).sum().backward();
    /// assert_eq!(a.grad().unwrap().to_vec(), vec![5.0, 7.0]);
    /// assert_eq!(b.grad().unwrap().to_vec(), vec![2.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn mul(self, rhs: Var<'g, T>) -> Var<'g, T> {
        self.binary(
            rhs,
            "mul",
            |a, b| a * b,
            |ctx, g| {
                let (a, b) = (ctx.input(0), ctx.input(1));
                grads![
                    ctx.needs_grad(0).then(|| (g * b).sum_to_like(a)),
                    ctx.needs_grad(1).then(|| (g * a).sum_to_like(b)),
                ]
            },
        )
    }

    /// Element-wise `self / rhs`, broadcasting; also the `/` operator.
    ///
    /// Backward: `grad / rhs` to `self` and `−grad · out / rhs` to `rhs`, summed over
    /// broadcast axes. Saves `rhs` and the output. Division by zero follows IEEE.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.var(Tensor::scalar(6.0));
    /// let b = g.var(Tensor::scalar(3.0));
    /// (a / b).backward();
    /// assert_eq!(a.grad().unwrap().item(), 1.0 / 3.0);
    /// assert_eq!(b.grad().unwrap().item(), -6.0 / 9.0);
    /// ```
    #[track_caller]
    pub fn div(self, rhs: Var<'g, T>) -> Var<'g, T> {
        self.binary(
            rhs,
            "div",
            |a, b| a / b,
            |ctx, g| {
                let (a, b) = (ctx.input(0), ctx.input(1));
                grads![
                    ctx.needs_grad(0).then(|| (g / b).sum_to_like(a)),
                    ctx.needs_grad(1)
                        .then(|| (-(g * ctx.output()) / b).sum_to_like(b)),
                ]
            },
        )
    }

    /// Element-wise `−self`; also the unary `-` operator. Backward: `−grad`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// assert_eq!((-g.scalar(2.0)).item(), -2.0);
    /// ```
    #[track_caller]
    pub fn neg(self) -> Var<'g, T> {
        self.unary("neg", |a| -a, |_, g| grads![Some(-g)])
    }

    /// `self + c` for a scalar `c`; also `var + c` and `c + var`. Backward: `grad`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// assert_eq!((g.scalar(2.0) + 1.5).item(), 3.5);
    /// assert_eq!((1.5 + g.scalar(2.0)).item(), 3.5);
    /// ```
    #[track_caller]
    pub fn add_scalar(self, c: T) -> Var<'g, T> {
        self.unary("add_scalar", move |a| a + c, |_, g| grads![Some(g)])
    }

    /// `self · c` for a scalar `c`; also `var * c`, `c * var` and `var / c`.
    /// Backward: `grad · c`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// assert_eq!((g.scalar(2.0) * 3.0).item(), 6.0);
    /// assert_eq!((g.scalar(3.0) / 2.0).item(), 1.5);
    /// ```
    #[track_caller]
    pub fn mul_scalar(self, c: T) -> Var<'g, T> {
        self.unary(
            "mul_scalar",
            move |a| a * c,
            move |_, g| grads![Some(g.mul_scalar(c))],
        )
    }
}

macro_rules! var_binary_ops {
    ($($trait:ident $method:ident),*) => {$(
        impl<'g, T: Float> $trait for Var<'g, T> {
            type Output = Var<'g, T>;
            #[track_caller]
            fn $method(self, rhs: Var<'g, T>) -> Var<'g, T> {
                Var::$method(self, rhs)
            }
        }
    )*};
}
var_binary_ops!(Add add, Sub sub, Mul mul, Div div);

impl<'g, T: Float> Neg for Var<'g, T> {
    type Output = Var<'g, T>;
    #[track_caller]
    fn neg(self) -> Var<'g, T> {
        Var::neg(self)
    }
}

impl<'g, T: Float> Add<T> for Var<'g, T> {
    type Output = Var<'g, T>;
    #[track_caller]
    fn add(self, c: T) -> Var<'g, T> {
        self.add_scalar(c)
    }
}

impl<'g, T: Float> Sub<T> for Var<'g, T> {
    type Output = Var<'g, T>;
    #[track_caller]
    fn sub(self, c: T) -> Var<'g, T> {
        self.add_scalar(-c)
    }
}

impl<'g, T: Float> Mul<T> for Var<'g, T> {
    type Output = Var<'g, T>;
    #[track_caller]
    fn mul(self, c: T) -> Var<'g, T> {
        self.mul_scalar(c)
    }
}

impl<'g, T: Float> Div<T> for Var<'g, T> {
    type Output = Var<'g, T>;
    #[track_caller]
    fn div(self, c: T) -> Var<'g, T> {
        self.mul_scalar(T::one() / c)
    }
}

macro_rules! scalar_lhs_ops {
    ($($t:ty),*) => {$(
        impl<'g> Add<Var<'g, $t>> for $t {
            type Output = Var<'g, $t>;
            #[track_caller]
            fn add(self, x: Var<'g, $t>) -> Var<'g, $t> {
                x.add_scalar(self)
            }
        }
        impl<'g> Sub<Var<'g, $t>> for $t {
            type Output = Var<'g, $t>;
            #[track_caller]
            fn sub(self, x: Var<'g, $t>) -> Var<'g, $t> {
                (-x).add_scalar(self)
            }
        }
        impl<'g> Mul<Var<'g, $t>> for $t {
            type Output = Var<'g, $t>;
            #[track_caller]
            fn mul(self, x: Var<'g, $t>) -> Var<'g, $t> {
                x.mul_scalar(self)
            }
        }
        impl<'g> Div<Var<'g, $t>> for $t {
            type Output = Var<'g, $t>;
            #[track_caller]
            fn div(self, x: Var<'g, $t>) -> Var<'g, $t> {
                x.reciprocal().mul_scalar(self)
            }
        }
    )*};
}
scalar_lhs_ops!(f32, f64);

#[cfg(test)]
mod tests {
    use crate::testing::{self, broadcast_shapes, check_gradgrads, check_grads, tensor_of};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    fn pair(range: std::ops::Range<f64>) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
        broadcast_shapes()
            .prop_flat_map(move |(a, b)| (tensor_of(a, range.clone()), tensor_of(b, range.clone())))
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn add_grad_matches_finite_diff((a, b) in pair(-2.0..2.0)) {
            check_grads(|v| v[0] + v[1], &[a, b])?;
        }

        #[test]
        fn sub_grad_matches_finite_diff((a, b) in pair(-2.0..2.0)) {
            check_grads(|v| v[0] - v[1], &[a, b])?;
        }

        #[test]
        fn mul_grad_and_gradgrad_match_finite_diff((a, b) in pair(-2.0..2.0)) {
            check_grads(|v| v[0] * v[1], &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0] * v[1], &[a, b])?;
        }

        #[test]
        fn div_grad_and_gradgrad_match_finite_diff((a, b) in pair(0.5..2.0)) {
            check_grads(|v| v[0] / v[1], &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0] / v[1], &[a, b])?;
        }

        #[test]
        fn scalar_ops_grad_matches_finite_diff(a in testing::tensor(testing::shape(), 0.5..2.0)) {
            check_grads(|v| (2.0 - v[0]) * 3.0 + 1.0 / v[0] - v[0] / 4.0 + (-v[0]), &[a])?;
        }
    }

    #[test]
    #[should_panic(expected = "mul: lhs [2, 3] and rhs [2] cannot be broadcast together")]
    fn mul_panics_on_incompatible_shapes() {
        let g = Graph::<f32>::new();
        let _ = g.var(Tensor::zeros(&[2, 3])) * g.var(Tensor::zeros(&[2]));
    }

    #[test]
    #[should_panic(expected = "add: an input belongs to a different graph")]
    fn add_panics_on_vars_from_two_graphs() {
        let (g1, g2) = (Graph::<f32>::new(), Graph::<f32>::new());
        let _ = g1.scalar(1.0) + g2.scalar(1.0);
    }

    #[test]
    fn broadcast_known_values() {
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2, 1]));
        let b = g.var(Tensor::from_vec(vec![10.0, 20.0, 30.0], &[3]));
        let c = a * b;
        assert_eq!(c.shape(), vec![2, 3]);
        assert_eq!(c.value().to_vec(), vec![10.0, 20.0, 30.0, 20.0, 40.0, 60.0]);
        c.sum().backward();
        assert_eq!(a.grad().unwrap().to_vec(), vec![60.0, 60.0]);
        assert_eq!(b.grad().unwrap().to_vec(), vec![3.0, 3.0, 3.0]);
    }
}
