//! Arithmetic and reductions on a [`Tensor`] without a [`Graph`](crate::Graph): the
//! `std::ops` operators (broadcasting as the [`Var`](crate::Var) ops do), `sum`, `mean`,
//! `max`, `min` over all elements, and `argmax`/`argmin` along an axis.
//!
//! These compute values only and record nothing: use them for predictions, metrics and
//! data preparation. They share the kernels (and so the results, bit for bit, for the
//! element-wise ops) and the shape checks of the graph ops.

use std::ops::{Add, Div, Mul, Neg, Sub};

use ndarray::{ArrayD, Axis};

use crate::alloc::OpScope;
use crate::float::Float;
use crate::kernels::{checked_axis, checked_broadcast, par_map2};
use crate::tensor::Tensor;

/// Whether a candidate `v` replaces the best so far in argmax/argmin: when it is `better`
/// or NaN, unless the best is NaN already (the first NaN wins).
fn takes_over<T: Float>(best: T, v: T, better: bool) -> bool {
    !best.is_nan() && (better || v.is_nan())
}

impl<T: Float> Tensor<T> {
    /// A broadcasting element-wise op after checking the shapes, as [`Var`](crate::Var)'s.
    #[track_caller]
    fn zip_broadcast(&self, rhs: &Self, op: &'static str, f: impl Fn(T, T) -> T + Sync) -> Self {
        let out = checked_broadcast(op, self.shape(), rhs.shape());
        let _scope = OpScope::enter(op);
        Tensor::from_array(par_map2(&self.view(), &rhs.view(), &out, f))
    }

    /// The sum of all elements (0 for an empty tensor), as `torch.sum` over everything.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(t.sum(), 10.0);
    /// assert_eq!(Tensor::<f64>::zeros(&[0, 3]).sum(), 0.0);
    /// ```
    pub fn sum(&self) -> T {
        self.view().sum()
    }

    /// The mean of all elements; NaN for an empty tensor (0 / 0), as `torch.mean`.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// assert_eq!(Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 6.0], &[4]).mean(), 3.0);
    /// assert!(Tensor::<f64>::zeros(&[0]).mean().is_nan());
    /// ```
    pub fn mean(&self) -> T {
        self.sum() / T::from_usize(self.numel())
    }

    /// The largest element, as `torch.max()` over everything; NaN propagates (a tensor
    /// holding NaN has maximum NaN).
    ///
    /// # Panics
    /// If the tensor has no elements.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 7.0, -3.0], &[3]);
    /// assert_eq!(t.max(), 7.0);
    /// assert!(Tensor::from_vec(vec![1.0f32, f32::NAN, 7.0], &[3]).max().is_nan());
    /// ```
    #[track_caller]
    pub fn max(&self) -> T {
        self.extremum("max", T::neg_infinity(), |a, b| b > a)
    }

    /// The smallest element, as `torch.min()` over everything; NaN propagates.
    ///
    /// # Panics
    /// If the tensor has no elements.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// assert_eq!(Tensor::from_vec(vec![1.0f64, 7.0, -3.0], &[3]).min(), -3.0);
    /// ```
    #[track_caller]
    pub fn min(&self) -> T {
        self.extremum("min", T::infinity(), |a, b| b < a)
    }

    #[track_caller]
    fn extremum(&self, op: &str, init: T, better: fn(T, T) -> bool) -> T {
        assert!(
            self.numel() > 0,
            "{op}: cannot reduce over an empty axis of shape {:?}",
            self.shape()
        );
        self.view().fold(init, |acc, &x| {
            if acc.is_nan() || !(better(acc, x) || x.is_nan()) {
                acc
            } else {
                x
            }
        })
    }

    /// The index of the largest element along `axis` (negative counts from the end; `-1` is
    /// the last), as `torch.argmax(dim)`: an array of the input's shape without `axis`.
    /// On ties the first index wins; NaN counts as the largest, as in PyTorch, so a lane
    /// holding NaN gives the index of its first NaN.
    ///
    /// For class scores of shape `[N, C]`, `argmax(-1)` gives the `N` predicted classes.
    /// [`Var::argmax`](crate::Var::argmax) is this on the var's value.
    ///
    /// # Panics
    /// If `axis` is out of range or has size 0.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let scores = Tensor::from_vec(vec![0.1f32, 0.7, 0.2, 0.9, 0.05, 0.05], &[2, 3]);
    /// let classes: Vec<usize> = scores.argmax(-1).into_iter().collect();
    /// assert_eq!(classes, vec![1, 0]);
    /// assert_eq!(scores.argmax(0).shape(), &[3]);
    /// assert_eq!(scores.argmax(0).into_iter().collect::<Vec<_>>(), vec![1, 0, 0]);
    /// let with_nan = Tensor::from_vec(vec![1.0f32, f32::NAN, 5.0], &[3]);
    /// assert_eq!(with_nan.argmax(0).into_iter().collect::<Vec<_>>(), vec![1]);
    /// ```
    #[track_caller]
    pub fn argmax(&self, axis: isize) -> ArrayD<usize> {
        self.arg_extremum("argmax", axis, |best, v| takes_over(best, v, v > best))
    }

    /// The index of the smallest element along `axis`, as `torch.argmin(dim)`; the first on
    /// ties, and a lane holding NaN gives its first NaN (the rules of [`Tensor::argmax`]).
    ///
    /// # Panics
    /// If `axis` is out of range or has size 0.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let t = Tensor::from_vec(vec![3.0f64, 1.0, 1.0, 2.0], &[2, 2]);
    /// assert_eq!(t.argmin(1).into_iter().collect::<Vec<_>>(), vec![1, 0]);
    /// ```
    #[track_caller]
    pub fn argmin(&self, axis: isize) -> ArrayD<usize> {
        self.arg_extremum("argmin", axis, |best, v| takes_over(best, v, v < best))
    }

    #[track_caller]
    fn arg_extremum(&self, op: &str, axis: isize, better: fn(T, T) -> bool) -> ArrayD<usize> {
        let ax = checked_axis(op, axis, self.shape());
        assert!(
            self.shape()[ax] > 0,
            "{op}: axis {axis} of shape {:?} is empty",
            self.shape()
        );
        self.view().map_axis(Axis(ax), |lane| {
            let mut best = 0;
            for (i, &v) in lane.iter().enumerate() {
                if better(lane[best], v) {
                    best = i;
                }
            }
            best
        })
    }
}

// Tensor ∘ tensor, for every mix of owned and borrowed operands (nothing is consumed:
// a tensor is a cheap handle to shared storage).
macro_rules! tensor_binary_ops {
    ($($trait:ident $method:ident $op:literal $f:expr, $doc:literal;)*) => {$(
        #[doc = $doc]
        ///
        /// # Panics
        #[doc = concat!(
            "If the shapes cannot be broadcast together, with a message naming the op and \
             both shapes: `", $op, ": lhs [2, 3] and rhs [2] cannot be broadcast together`."
        )]
        impl<T: Float> $trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                self.zip_broadcast(rhs, $op, $f)
            }
        }

        /// As the operator on two borrowed tensors.
        impl<T: Float> $trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                self.zip_broadcast(&rhs, $op, $f)
            }
        }

        /// As the operator on two borrowed tensors.
        impl<T: Float> $trait<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                self.zip_broadcast(rhs, $op, $f)
            }
        }

        /// As the operator on two borrowed tensors.
        impl<T: Float> $trait<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                self.zip_broadcast(&rhs, $op, $f)
            }
        }
    )*};
}

tensor_binary_ops! {
    Add add "add" |a, b| a + b,
        "Element-wise `lhs + rhs` with NumPy broadcasting, as `Var`'s `+`.\n\n\
         ```\n\
         use ferrograd_autograd::Tensor;\n\
         let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);\n\
         let b = Tensor::from_vec(vec![10.0f32, 20.0], &[2]);\n\
         assert_eq!((&a + &b).to_vec(), vec![11.0, 22.0, 13.0, 24.0]);\n\
         ```";
    Sub sub "sub" |a, b| a - b,
        "Element-wise `lhs − rhs` with NumPy broadcasting, as `Var`'s `-`.\n\n\
         ```\n\
         use ferrograd_autograd::Tensor;\n\
         let a = Tensor::from_vec(vec![5.0f64, 7.0], &[2]);\n\
         assert_eq!((&a - &Tensor::scalar(1.0)).to_vec(), vec![4.0, 6.0]);\n\
         ```";
    Mul mul "mul" |a, b| a * b,
        "Element-wise `lhs · rhs` with NumPy broadcasting, as `Var`'s `*`.\n\n\
         ```\n\
         use ferrograd_autograd::Tensor;\n\
         let col = Tensor::from_vec(vec![1.0f64, 2.0], &[2, 1]);\n\
         let row = Tensor::from_vec(vec![10.0, 20.0, 30.0], &[3]);\n\
         let outer = &col * &row;\n\
         assert_eq!(outer.shape(), &[2, 3]);\n\
         assert_eq!(outer.to_vec(), vec![10.0, 20.0, 30.0, 20.0, 40.0, 60.0]);\n\
         ```";
    Div div "div" |a, b| a / b,
        "Element-wise `lhs / rhs` with NumPy broadcasting, as `Var`'s `/`; division by zero \
         follows IEEE.\n\n\
         ```\n\
         use ferrograd_autograd::Tensor;\n\
         let a = Tensor::from_vec(vec![6.0f32, 1.0], &[2]);\n\
         let b = Tensor::from_vec(vec![3.0f32, 0.0], &[2]);\n\
         assert_eq!((a / b).to_vec(), vec![2.0, f32::INFINITY]);\n\
         ```";
}

// Tensor ∘ scalar, borrowed or owned.
macro_rules! tensor_scalar_ops {
    ($($trait:ident $method:ident $f:expr, $doc:literal;)*) => {$(
        #[doc = $doc]
        impl<T: Float> $trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, c: T) -> Tensor<T> {
                let f = $f;
                self.map(move |a| f(a, c))
            }
        }

        /// As the operator on a borrowed tensor.
        impl<T: Float> $trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, c: T) -> Tensor<T> {
                (&self).$method(c)
            }
        }
    )*};
}

tensor_scalar_ops! {
    Add add |a: T, c: T| a + c,
        "`a + c` for each element `a`.\n\n\
         ```\n\
         use ferrograd_autograd::Tensor;\n\
         let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);\n\
         assert_eq!((&t + 0.5).to_vec(), vec![1.5, 2.5]);\n\
         ```";
    Sub sub |a: T, c: T| a - c,
        "`a − c` for each element `a`.\n\n\
         ```\n\
         use ferrograd_autograd::Tensor;\n\
         let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);\n\
         assert_eq!((t - 1.0).to_vec(), vec![0.0, 1.0]);\n\
         ```";
    Mul mul |a: T, c: T| a * c,
        "`a · c` for each element `a`.\n\n\
         ```\n\
         use ferrograd_autograd::Tensor;\n\
         let t = Tensor::from_vec(vec![1.0f64, -2.0], &[2]);\n\
         assert_eq!((&t * 3.0).to_vec(), vec![3.0, -6.0]);\n\
         ```";
    Div div |a: T, c: T| a / c,
        "`a / c` for each element `a`, a true division (`Var`'s `/ c` multiplies by `1 / c`, \
         which can differ in the last bit).\n\n\
         ```\n\
         use ferrograd_autograd::Tensor;\n\
         let t = Tensor::from_vec(vec![1.0f64, 3.0], &[2]);\n\
         assert_eq!((&t / 2.0).to_vec(), vec![0.5, 1.5]);\n\
         ```";
}

// Scalar ∘ tensor, for the two element types (a blanket `impl<T> Add<Tensor<T>> for T` is
// not allowed by the orphan rules).
macro_rules! scalar_lhs_ops {
    ($($t:ty),*) => {$(
        /// `c + a` for each element `a`.
        impl Add<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn add(self, x: &Tensor<$t>) -> Tensor<$t> {
                x.map(|a| self + a)
            }
        }
        /// `c − a` for each element `a`.
        impl Sub<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn sub(self, x: &Tensor<$t>) -> Tensor<$t> {
                x.map(|a| self - a)
            }
        }
        /// `c · a` for each element `a`.
        impl Mul<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn mul(self, x: &Tensor<$t>) -> Tensor<$t> {
                x.map(|a| self * a)
            }
        }
        /// `c / a` for each element `a`.
        impl Div<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn div(self, x: &Tensor<$t>) -> Tensor<$t> {
                x.map(|a| self / a)
            }
        }
        /// `c + a` for each element `a`.
        impl Add<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn add(self, x: Tensor<$t>) -> Tensor<$t> {
                self + &x
            }
        }
        /// `c − a` for each element `a`.
        impl Sub<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn sub(self, x: Tensor<$t>) -> Tensor<$t> {
                self - &x
            }
        }
        /// `c · a` for each element `a`.
        impl Mul<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn mul(self, x: Tensor<$t>) -> Tensor<$t> {
                self * &x
            }
        }
        /// `c / a` for each element `a`.
        impl Div<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn div(self, x: Tensor<$t>) -> Tensor<$t> {
                self / &x
            }
        }
    )*};
}
scalar_lhs_ops!(f32, f64);

/// `−a` for each element `a`.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// let t = Tensor::from_vec(vec![1.0f32, -2.0], &[2]);
/// assert_eq!((-&t).to_vec(), vec![-1.0, 2.0]);
/// assert_eq!((-t).to_vec(), vec![-1.0, 2.0]);
/// ```
impl<T: Float> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        self.map(|a| -a)
    }
}

/// As the operator on a borrowed tensor.
impl<T: Float> Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        -&self
    }
}

#[cfg(test)]
mod tests {
    use crate::Graph;
    use crate::Tensor;
    use crate::testing::{self, broadcast_shapes, tensor_of};
    use proptest::prelude::*;

    fn pair(range: std::ops::Range<f64>) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
        broadcast_shapes()
            .prop_flat_map(move |(a, b)| (tensor_of(a, range.clone()), tensor_of(b, range.clone())))
    }

    /// Bit patterns, so NaN compares equal to NaN and −0 differs from +0.
    fn bits(t: &Tensor<f64>) -> (Vec<usize>, Vec<u64>) {
        (
            t.shape().to_vec(),
            t.to_vec().iter().map(|x| x.to_bits()).collect(),
        )
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn binary_ops_match_the_graph_ops_exactly((a, b) in pair(-2.0..2.0)) {
            let g = Graph::<f64>::new();
            let (x, y) = (g.constant(a.clone()), g.constant(b.clone()));
            prop_assert_eq!(bits(&(&a + &b)), bits(&(x + y).value()));
            prop_assert_eq!(bits(&(&a - &b)), bits(&(x - y).value()));
            prop_assert_eq!(bits(&(&a * &b)), bits(&(x * y).value()));
            prop_assert_eq!(bits(&(&a / &b)), bits(&(x / y).value()));
            prop_assert_eq!(bits(&(a.clone() * b.clone())), bits(&(x * y).value()));
        }

        #[test]
        fn scalar_ops_and_neg_match_the_graph_ops(a in testing::tensor(testing::shape(), -2.0..2.0)) {
            let g = Graph::<f64>::new();
            let x = g.constant(a.clone());
            prop_assert_eq!(bits(&(&a + 1.5)), bits(&(x + 1.5).value()));
            prop_assert_eq!(bits(&(&a - 1.5)), bits(&(x - 1.5).value()));
            prop_assert_eq!(bits(&(&a * 1.5)), bits(&(x * 1.5).value()));
            prop_assert_eq!(bits(&(2.0 - &a)), bits(&(2.0 - x).value()));
            prop_assert_eq!(bits(&(3.0 * &a)), bits(&(3.0 * x).value()));
            prop_assert_eq!(bits(&(-&a)), bits(&(-x).value()));
            // True division, against the graph's multiplication by the reciprocal.
            prop_assert!((&a / 3.0).allclose(&(x / 3.0).value(), 1e-15, 0.0));
        }

        #[test]
        fn reductions_match_the_graph_ops(a in testing::tensor(testing::shape(), -2.0..2.0)) {
            let g = Graph::<f64>::new();
            let x = g.constant(a.clone());
            // The order of summation differs, so sums agree to rounding; max/min exactly.
            prop_assert!((a.sum() - x.sum().item()).abs() <= 1e-12);
            prop_assert!((a.mean() - x.mean().item()).abs() <= 1e-12);
            prop_assert_eq!(a.max().to_bits(), x.max().item().to_bits());
            prop_assert_eq!(a.min().to_bits(), x.min().item().to_bits());
        }

        #[test]
        fn argmax_matches_the_graph_op((a, axis) in testing::tensor_and_axis(4, -2.0..2.0)) {
            let g = Graph::<f64>::new();
            let x = g.constant(a.clone());
            prop_assert_eq!(a.argmax(axis), x.argmax(axis));
            prop_assert_eq!(a.argmin(axis), x.argmin(axis));
        }
    }

    #[test]
    fn argmax_of_class_scores_gives_one_class_per_row() {
        let scores = Tensor::from_vec(
            vec![0.1f32, 0.7, 0.2, 0.9, 0.05, 0.05, 0.3, 0.3, 0.4],
            &[3, 3],
        );
        let classes: Vec<usize> = scores.argmax(-1).into_iter().collect();
        assert_eq!(classes, vec![1, 0, 2]);
    }

    #[test]
    fn argmax_takes_the_first_of_ties_and_the_first_nan() {
        let t = Tensor::from_vec(vec![1.0f64, 3.0, 3.0], &[3]);
        assert_eq!(t.argmax(0).into_iter().collect::<Vec<_>>(), vec![1]);
        assert_eq!(t.argmin(0).into_iter().collect::<Vec<_>>(), vec![0]);
        let t = Tensor::from_vec(vec![1.0f64, f64::NAN, 9.0, f64::NAN], &[4]);
        assert_eq!(t.argmax(0).into_iter().collect::<Vec<_>>(), vec![1]);
        assert_eq!(t.argmin(0).into_iter().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn argmax_along_a_middle_axis_drops_it() {
        // [2, 3, 2]: along axis 1, each (i, k) picks the row with the largest value.
        let t = Tensor::from_vec(
            vec![
                0.0f32, 5.0, 9.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 8.0, 4.0, 0.0,
            ],
            &[2, 3, 2],
        );
        let idx = t.argmax(1);
        assert_eq!(idx.shape(), &[2, 2]);
        assert_eq!(idx.into_iter().collect::<Vec<_>>(), vec![1, 0, 2, 1]);
    }

    #[test]
    fn argmax_of_a_scalar_along_its_only_axis_is_zero() {
        let t = Tensor::from_vec(vec![4.0f32], &[1]);
        assert_eq!(t.argmax(-1).into_iter().collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    #[should_panic(expected = "argmax: axis 2 is out of range for shape [2, 3]")]
    fn argmax_panics_on_an_axis_out_of_range() {
        Tensor::<f32>::zeros(&[2, 3]).argmax(2);
    }

    #[test]
    #[should_panic(expected = "argmax: axis 1 of shape [2, 0] is empty")]
    fn argmax_panics_on_an_empty_axis() {
        Tensor::<f32>::zeros(&[2, 0]).argmax(1);
    }

    #[test]
    #[should_panic(expected = "max: cannot reduce over an empty axis of shape [0, 2]")]
    fn max_panics_on_an_empty_tensor() {
        Tensor::<f32>::zeros(&[0, 2]).max();
    }

    #[test]
    fn max_and_min_propagate_nan_wherever_it_is() {
        for pos in 0..3 {
            let mut v = vec![1.0f64, 2.0, 3.0];
            v[pos] = f64::NAN;
            let t = Tensor::from_vec(v, &[3]);
            assert!(t.max().is_nan() && t.min().is_nan(), "NaN at {pos}");
        }
        let t = Tensor::from_vec(vec![f64::NEG_INFINITY; 2], &[2]);
        assert_eq!(t.max(), f64::NEG_INFINITY);
    }

    #[test]
    #[should_panic(expected = "mul: lhs [2, 3] and rhs [2] cannot be broadcast together")]
    fn mul_panics_on_incompatible_shapes() {
        let _ = &Tensor::<f32>::zeros(&[2, 3]) * &Tensor::zeros(&[2]);
    }

    #[test]
    fn every_binary_op_names_itself_on_incompatible_shapes() {
        let (a, b) = (Tensor::<f64>::zeros(&[4]), Tensor::<f64>::zeros(&[3, 2]));
        let msg = |f: &dyn Fn() -> Tensor<f64>| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            *r.unwrap_err().downcast::<String>().unwrap()
        };
        let tail = "lhs [4] and rhs [3, 2] cannot be broadcast together";
        assert_eq!(msg(&|| &a + &b), format!("add: {tail}"));
        assert_eq!(msg(&|| &a - &b), format!("sub: {tail}"));
        assert_eq!(msg(&|| a.clone() * b.clone()), format!("mul: {tail}"));
        assert_eq!(msg(&|| &a / b.clone()), format!("div: {tail}"));
    }

    #[test]
    fn operators_leave_their_operands_intact() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
        let b = a.clone();
        let c = &a + &b;
        let d = a.clone() * 2.0;
        assert_eq!(a.to_vec(), vec![1.0, 2.0]);
        assert_eq!(c.to_vec(), vec![2.0, 4.0]);
        assert_eq!(d.to_vec(), vec![2.0, 4.0]);
    }

    #[test]
    fn a_broadcast_too_large_names_the_op() {
        let (a, b) = (
            Tensor::<f32>::zeros(&[1 << 24, 1]),
            Tensor::<f32>::zeros(&[1 << 24]),
        );
        let r = std::panic::catch_unwind(|| &a + &b);
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(
            msg.starts_with("add: cannot allocate shape [16777216, 16777216]"),
            "{msg}"
        );
    }
}
