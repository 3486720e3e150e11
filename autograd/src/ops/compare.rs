//! Comparisons returning masks, and selection by mask: gt, ge, lt, le, eq, ne, where_,
//! masked_fill.
//!
//! A mask is a constant `Var` of 1s and 0s in the value type (ferrograd has no bool
//! tensors); no gradient flows through a comparison. `where_` takes any mask and treats a
//! nonzero element as true; its backward routes the gradient with the same mask, so it is
//! differentiable to any order.

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::{broadcast_shapes, checked_broadcast, map2};
use crate::tensor::Tensor;

/// Defines a comparison method: a broadcasting constant mask.
macro_rules! comparison {
    ($(#[$doc:meta])* $name:ident, $op:tt) => {
        $(#[$doc])*
        ///
        /// # Panics
        /// If the shapes cannot be broadcast together.
        #[track_caller]
        pub fn $name(self, rhs: Var<'g, T>) -> Var<'g, T> {
            self.compare(stringify!($name), rhs, |a, b| a $op b)
        }
    };
}

impl<'g, T: Float> Var<'g, T> {
    #[track_caller]
    fn compare(self, op: &'static str, rhs: Var<'g, T>, f: impl Fn(T, T) -> bool) -> Var<'g, T> {
        let (a, b) = (self.shape_for(op), rhs.shape_for(op));
        let out = checked_broadcast(op, &a, &b);
        let (x, y) = (self.value(), rhs.value());
        let mask = map2(&x.view(), &y.view(), &out, |p, q| {
            if f(p, q) { T::one() } else { T::zero() }
        });
        self.graph().constant_named(op, Tensor::from_array(mask))
    }

    comparison!(
        /// The mask of `self > rhs`, broadcasting (`torch.gt`); 1 where true, 0 elsewhere.
        ///
        /// ```
        /// use ferrograd::autograd::{Graph, Tensor};
        /// let g = Graph::<f32>::new();
        /// let x = g.var(Tensor::from_vec(vec![-1.0, 0.0, 2.0], &[3]));
        /// assert_eq!(x.gt(g.scalar(0.0)).value().to_vec(), vec![0.0, 0.0, 1.0]);
        /// ```
        gt, >
    );
    comparison!(
        /// The mask of `self >= rhs`, broadcasting (`torch.ge`).
        ///
        /// ```
        /// use ferrograd::autograd::{Graph, Tensor};
        /// let g = Graph::<f32>::new();
        /// let x = g.var(Tensor::from_vec(vec![-1.0, 0.0, 2.0], &[3]));
        /// assert_eq!(x.ge(g.scalar(0.0)).value().to_vec(), vec![0.0, 1.0, 1.0]);
        /// ```
        ge, >=
    );
    comparison!(
        /// The mask of `self < rhs`, broadcasting (`torch.lt`).
        ///
        /// ```
        /// use ferrograd::autograd::{Graph, Tensor};
        /// let g = Graph::<f32>::new();
        /// let x = g.var(Tensor::from_vec(vec![-1.0, 0.0, 2.0], &[3]));
        /// assert_eq!(x.lt(g.scalar(0.0)).value().to_vec(), vec![1.0, 0.0, 0.0]);
        /// ```
        lt, <
    );
    comparison!(
        /// The mask of `self <= rhs`, broadcasting (`torch.le`).
        ///
        /// ```
        /// use ferrograd::autograd::{Graph, Tensor};
        /// let g = Graph::<f32>::new();
        /// let x = g.var(Tensor::from_vec(vec![-1.0, 0.0, 2.0], &[3]));
        /// assert_eq!(x.le(g.scalar(0.0)).value().to_vec(), vec![1.0, 1.0, 0.0]);
        /// ```
        le, <=
    );
    comparison!(
        /// The mask of `self == rhs`, broadcasting (`torch.eq`); NaN equals nothing.
        ///
        /// ```
        /// use ferrograd::autograd::{Graph, Tensor};
        /// let g = Graph::<f32>::new();
        /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, f32::NAN], &[3]));
        /// let y = g.constant(Tensor::from_vec(vec![1.0, 3.0, f32::NAN], &[3]));
        /// assert_eq!(x.eq(y).value().to_vec(), vec![1.0, 0.0, 0.0]);
        /// ```
        eq, ==
    );
    comparison!(
        /// The mask of `self != rhs`, broadcasting (`torch.ne`).
        ///
        /// ```
        /// use ferrograd::autograd::{Graph, Tensor};
        /// let g = Graph::<f32>::new();
        /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
        /// assert_eq!(x.ne(g.scalar(1.0)).value().to_vec(), vec![0.0, 1.0]);
        /// ```
        ne, !=
    );

    /// `self` where `mask` is nonzero, `other` elsewhere, all three broadcasting together;
    /// `torch.where(mask, self, other)`. (The underscore avoids the Rust keyword; nothing is
    /// modified in place.) Unlike `mask·self + (1 − mask)·other`, an infinite or NaN value in
    /// the branch not taken does not leak into the result. As in PyTorch, the branch not
    /// taken still receives a zero gradient, which an op with an infinite derivative there
    /// (`sqrt` at 0) turns into NaN: mask its input too (the "double where").
    ///
    /// Backward: the gradient goes to `self` where the mask is nonzero and to `other`
    /// elsewhere; the mask gets none.
    ///
    /// # Panics
    /// If the three shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![-2.0, 3.0], &[2]));
    /// let y = x.where_(x.gt(g.scalar(0.0)), x * 0.1); // leaky ReLU
    /// assert_eq!(y.value().to_vec(), vec![-0.2, 3.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.1, 1.0]);
    /// ```
    #[track_caller]
    pub fn where_(self, mask: Var<'g, T>, other: Var<'g, T>) -> Var<'g, T> {
        let op = "where";
        let (a, m, b) = (self.shape_for(op), mask.shape_for(op), other.shape_for(op));
        let Some(out) = broadcast_shapes(&a, &m).and_then(|s| broadcast_shapes(&s, &b)) else {
            panic!(
                "{op}: self {:?}, mask {:?} and other {:?} cannot be broadcast together",
                a.as_slice(),
                m.as_slice(),
                b.as_slice()
            );
        };
        self.graph().custom_op(
            op,
            &[self, mask, other],
            |v| Tensor::from_array(select(&v[0].view(), &v[1].view(), &v[2].view(), &out)),
            |ctx, g| {
                let (mask, zero) = (ctx.input(1), ctx.graph().scalar(T::zero()));
                grads![
                    ctx.needs_grad(0)
                        .then(|| g.where_(mask, zero).sum_to_like(ctx.input(0))),
                    None,
                    ctx.needs_grad(2)
                        .then(|| zero.where_(mask, g).sum_to_like(ctx.input(2))),
                ]
            },
        )
    }

    /// `self` where `mask` is nonzero and exactly 0 elsewhere: how a backward rule zeroes the
    /// gradient of a flat region or a kink. A select, not a product with the mask, so an
    /// infinite or NaN gradient arriving where the mask is 0 gives 0 (`inf · 0` is NaN, and
    /// the true derivative of a flat region is 0). Its backward selects again, so a rule
    /// written with it stays differentiable to any order.
    #[track_caller]
    pub(crate) fn keep_where(self, mask: Var<'g, T>) -> Var<'g, T> {
        self.where_(mask, self.graph().scalar(T::zero()))
    }

    /// `self · factor` where `factor` is nonzero and exactly 0 where it is 0 (the select of
    /// [`Var::keep_where`] for a gradient scaled by a constant factor: a tie's 1/2, a
    /// leaky slope, a sign). `factor` is a constant.
    #[track_caller]
    pub(crate) fn scale_or_zero(self, factor: Var<'g, T>) -> Var<'g, T> {
        (self * factor).keep_where(factor)
    }

    /// `value` where `mask` is nonzero, `self` elsewhere, as `torch.masked_fill`. The mask
    /// must broadcast to this shape.
    ///
    /// Backward: the gradient where the mask is zero.
    ///
    /// # Panics
    /// If the mask does not broadcast to this value's shape.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let scores = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]));
    /// let pad = g.constant(Tensor::from_vec(vec![0.0, 0.0, 1.0], &[3]));
    /// let masked = scores.masked_fill(pad, f32::NEG_INFINITY);
    /// assert_eq!(masked.softmax(0).value().get(&[2]), 0.0);
    /// ```
    #[track_caller]
    pub fn masked_fill(self, mask: Var<'g, T>, value: T) -> Var<'g, T> {
        let (s, m) = (self.shape_for("masked_fill"), mask.shape_for("masked_fill"));
        assert!(
            crate::kernels::broadcasts_to(&m, &s),
            "masked_fill: mask {:?} does not broadcast to the input {:?}",
            m.as_slice(),
            s.as_slice()
        );
        self.graph().scalar(value).where_(mask, self)
    }
}

/// `x` where `c` is nonzero, `y` elsewhere, the three broadcast to `out`. Contiguous operands
/// that are full-size or a single element (a gradient, its mask and a scalar 0: every
/// backward select) run as one slice loop; anything else goes through a broadcasting `Zip`.
fn select<T: Float>(
    x: &ArrayViewD<'_, T>,
    c: &ArrayViewD<'_, T>,
    y: &ArrayViewD<'_, T>,
    out: &[usize],
) -> ArrayD<T> {
    let n: usize = out.iter().product();
    // The operand as a slice and its step per output element (0 repeats a single element).
    fn flat<'a, T>(a: &'a ArrayViewD<'_, T>, out: &[usize]) -> Option<(&'a [T], usize)> {
        match a.as_slice() {
            Some(s) if a.shape() == out => Some((s, 1)),
            Some(s) if s.len() == 1 => Some((s, 0)),
            _ => None,
        }
    }
    if let (Some((xs, sx)), Some((cs, sc)), Some((ys, sy))) =
        (flat(x, out), flat(c, out), flat(y, out))
    {
        let data = (0..n)
            .map(|i| {
                if cs[i * sc] != T::zero() {
                    xs[i * sx]
                } else {
                    ys[i * sy]
                }
            })
            .collect();
        return ArrayD::from_shape_vec(IxDyn(out), data).expect("same length");
    }
    let dim = IxDyn(out);
    let [x, c, y] = [x, c, y].map(|a| a.broadcast(dim.clone()).expect("checked"));
    Zip::from(&x)
        .and(&c)
        .and(&y)
        .map_collect(|&x, &c, &y| if c != T::zero() { x } else { y })
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, broadcast_shapes, check_gradgrads, check_grads, tensor_of};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn where_grad_and_gradgrad_match_finite_diff(
            (a, b, m) in broadcast_shapes().prop_flat_map(|(a, b)| {
                (tensor_of(a.clone(), -2.0..2.0), tensor_of(b, -2.0..2.0), tensor_of(a, -1.0..1.0))
            })
        ) {
            let mask = m.map(|v| if v > 0.0 { 1.0 } else { 0.0 });
            check_grads(|v| v[0].where_(v[0].graph().constant(mask.clone()), v[1]).square(), &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0].where_(v[0].graph().constant(mask.clone()), v[1]).square(), &[a, b])?;
        }
    }

    #[test]
    fn where_keeps_infinities_of_the_branch_not_taken_out() {
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::from_vec(vec![f64::NEG_INFINITY, 2.0], &[2]));
        let b = g.var(Tensor::from_vec(vec![1.0, f64::NAN], &[2]));
        let mask = g.constant(Tensor::from_vec(vec![0.0, 1.0], &[2]));
        let y = a.where_(mask, b);
        assert_eq!(y.value().to_vec(), vec![1.0, 2.0]);
        (y * 3.0).sum().backward();
        assert_eq!(a.grad().unwrap().to_vec(), vec![0.0, 3.0]);
        assert_eq!(b.grad().unwrap().to_vec(), vec![3.0, 0.0]);
    }

    #[test]
    fn double_where_keeps_sqrt_at_zero_out_of_the_gradient() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![0.0, 4.0], &[2]));
        let (pos, one, zero) = (x.gt(g.scalar(0.0)), g.scalar(1.0), g.scalar(0.0));
        let y = x.where_(pos, one).sqrt().where_(pos, zero);
        y.sum().backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.25]);
    }

    #[test]
    fn masked_fill_fills_where_the_mask_is_set() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
        let mask = g.constant(Tensor::from_vec(vec![1.0, 0.0], &[2]));
        let y = x.masked_fill(mask, -9.0);
        assert_eq!(y.value().to_vec(), vec![-9.0, 2.0, -9.0, 4.0]);
        y.sum().backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn comparisons_are_constants() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
        let m = x.lt(g.scalar(1.5));
        assert!(!m.requires_grad());
        assert_eq!(m.op_name(), "lt");
    }

    #[test]
    #[should_panic(expected = "gt: lhs [2] and rhs [3] cannot be broadcast together")]
    fn comparison_panics_on_mismatched_shapes() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[2])).gt(g.var(Tensor::zeros(&[3])));
    }

    #[test]
    #[should_panic(
        expected = "where: self [2], mask [3] and other [2] cannot be broadcast together"
    )]
    fn where_panics_on_mismatched_shapes() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::zeros(&[2]));
        x.where_(g.var(Tensor::zeros(&[3])), x);
    }

    #[test]
    #[should_panic(expected = "masked_fill: mask [2, 2] does not broadcast to the input [2]")]
    fn masked_fill_panics_on_a_larger_mask() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[2]))
            .masked_fill(g.var(Tensor::zeros(&[2, 2])), 0.0);
    }
}
