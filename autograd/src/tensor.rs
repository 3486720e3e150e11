//! `Tensor`: an n-dimensional, row-major array of `f32` or `f64`.

use std::fmt;

use ndarray::{ArcArray, ArrayD, ArrayViewD, ArrayViewMutD, IxDyn};
use rand::Rng;

use crate::alloc::{try_alloc, try_numel};
use crate::error::{Error, Result, approx, or_panic};
use crate::float::Float;

/// An n-dimensional array of floats, the value of every node in a graph.
///
/// A `Tensor` is a cheap-to-clone handle to shared, reference-counted storage (an ndarray
/// [`ArcArray`]): cloning it, handing it to a graph or converting it from an owned ndarray
/// array copies no elements. Writing to a tensor whose storage is shared copies it first
/// (copy on write), so a graph that still holds a parameter's old value keeps it intact.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.get(&[1, 2]), 6.0);
/// assert_eq!(t.to_string(), "Tensor[2, 3] f32\n[[1, 2, 3],\n [4, 5, 6]]");
/// ```
#[derive(Clone, PartialEq)]
pub struct Tensor<T: Float = f32> {
    data: ArcArray<T, IxDyn>,
}

impl<T: Float> Tensor<T> {
    /// Builds a tensor from row-major `data` and a `shape`.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`; [`Tensor::try_from_vec`] returns the
    /// error instead.
    #[track_caller]
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Self {
        or_panic(Self::try_from_vec(data, shape))
    }

    /// Builds a tensor from row-major `data` and a `shape`, or says why it cannot.
    ///
    /// # Errors
    /// [`Error::Shape`] if `data.len()` is not the product of `shape` (including a shape
    /// whose product overflows).
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let err = Tensor::try_from_vec(vec![1.0f64; 5], &[2, 3]).unwrap_err();
    /// assert_eq!(err.to_string(), "from_vec: 5 elements do not fill shape [2, 3] (6 elements)");
    /// ```
    pub fn try_from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        match try_numel::<T>("from_vec", shape) {
            Ok(numel) if numel == data.len() => {}
            numel => {
                let count = match numel {
                    Ok(n) => n.to_string(),
                    Err(_) => approx(shape.iter().map(|&d| d as f64).product()),
                };
                return Err(Error::shape(
                    "from_vec",
                    format!(
                        "{} elements do not fill shape {shape:?} ({count} elements)",
                        data.len()
                    ),
                ));
            }
        }
        Ok(Self::from_storage(shape, data))
    }

    /// Wraps `data`, whose length is already checked to be the product of `shape`.
    fn from_storage(shape: &[usize], data: Vec<T>) -> Self {
        Self::from_array(ArrayD::from_shape_vec(IxDyn(shape), data).expect("size checked"))
    }

    /// A tensor of `shape` whose elements `fill` produces in row-major order, or
    /// [`Error::Alloc`] naming `op` if it is too large: the one constructor every other
    /// builds on, so each checks its size before touching memory.
    pub(crate) fn try_from_fn(
        op: &'static str,
        shape: &[usize],
        fill: impl FnMut() -> T,
    ) -> Result<Self> {
        let n = try_numel::<T>(op, shape)?;
        let mut data = try_alloc::<T>(op, shape)?;
        data.extend(std::iter::repeat_with(fill).take(n));
        Ok(Self::from_storage(shape, data))
    }

    /// [`Tensor::try_from_fn`], panicking with the error's message at the caller.
    #[track_caller]
    pub(crate) fn from_fn(op: &'static str, shape: &[usize], fill: impl FnMut() -> T) -> Self {
        or_panic(Self::try_from_fn(op, shape, fill))
    }

    /// A tensor of shape `[]` holding one value.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// assert_eq!(Tensor::scalar(2.5f64).item(), 2.5);
    /// ```
    pub fn scalar(value: T) -> Self {
        Self::from_storage(&[], vec![value])
    }

    /// A tensor of `shape` filled with `value`.
    ///
    /// # Panics
    /// If the tensor is too large to allocate ([`Tensor::try_full`] returns the error).
    #[track_caller]
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::from_fn("full", shape, || value)
    }

    /// [`Tensor::full`], returning an error if the tensor is too large to allocate.
    ///
    /// # Errors
    /// [`Error::Alloc`] if the element count overflows, the size exceeds `isize::MAX`
    /// bytes, or the allocator refuses the memory.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let err = Tensor::try_full(&[1 << 32, 1 << 32], 1.0f32).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "full: cannot allocate shape [4294967296, 4294967296] (1.84e19 elements, 73.8 EB of f32)"
    /// );
    /// ```
    pub fn try_full(shape: &[usize], value: T) -> Result<Self> {
        Self::try_from_fn("full", shape, || value)
    }

    /// A tensor of `shape` filled with zeros.
    ///
    /// # Panics
    /// If the tensor is too large to allocate ([`Tensor::try_zeros`] returns the error).
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// assert_eq!(Tensor::<f32>::zeros(&[2, 2]).to_vec(), vec![0.0; 4]);
    /// ```
    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Self {
        Self::from_fn("zeros", shape, T::zero)
    }

    /// [`Tensor::zeros`], returning an error if the tensor is too large to allocate.
    ///
    /// # Errors
    /// [`Error::Alloc`], as [`Tensor::try_full`].
    ///
    /// ```
    /// use ferrograd::autograd::{Error, Tensor};
    /// let err = Tensor::<f64>::try_zeros(&[usize::MAX, 2]).unwrap_err();
    /// assert!(matches!(err, Error::Alloc { op: "zeros", .. }));
    /// ```
    pub fn try_zeros(shape: &[usize]) -> Result<Self> {
        Self::try_from_fn("zeros", shape, T::zero)
    }

    /// A tensor of `shape` filled with ones.
    ///
    /// # Panics
    /// If the tensor is too large to allocate.
    #[track_caller]
    pub fn ones(shape: &[usize]) -> Self {
        Self::from_fn("ones", shape, T::one)
    }

    /// The 1-D tensor `[start, start + step, ...]` of values below `end` (above it for a
    /// negative `step`), as `torch.arange`.
    ///
    /// # Panics
    /// If `step` is zero or not finite, or the tensor is too large to allocate.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// assert_eq!(Tensor::arange(0.0f64, 1.0, 0.25).to_vec(), vec![0.0, 0.25, 0.5, 0.75]);
    /// ```
    #[track_caller]
    pub fn arange(start: T, end: T, step: T) -> Self {
        assert!(
            step != T::zero() && step.is_finite(),
            "arange: step must be finite and non-zero, got {step}"
        );
        // Saturates: an infinite or huge count becomes usize::MAX and fails the size check.
        let n = ((end - start) / step).ceil().as_f64().max(0.0) as usize;
        let mut i = 0;
        Self::from_fn("arange", &[n], || {
            let v = start + step * T::from_usize(i);
            i += 1;
            v
        })
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive, as `torch.linspace`.
    ///
    /// # Panics
    /// If the tensor is too large to allocate.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// assert_eq!(Tensor::linspace(0.0f32, 1.0, 5).to_vec(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    /// ```
    #[track_caller]
    pub fn linspace(start: T, end: T, steps: usize) -> Self {
        let step = (end - start) / T::from_usize(steps.saturating_sub(1).max(1));
        let mut i = 0;
        Self::from_fn("linspace", &[steps], || {
            let v = if i + 1 == steps && i > 0 {
                end
            } else {
                start + step * T::from_usize(i)
            };
            i += 1;
            v
        })
    }

    /// The `n × n` identity matrix.
    ///
    /// # Panics
    /// If the matrix is too large to allocate.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// assert_eq!(Tensor::<f64>::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn eye(n: usize) -> Self {
        let mut i = 0;
        Self::from_fn("eye", &[n, n], || {
            let v = if i % (n + 1) == 0 {
                T::one()
            } else {
                T::zero()
            };
            i += 1;
            v
        })
    }

    /// Values drawn uniformly from `[low, high)` with the given random number generator.
    ///
    /// # Panics
    /// If the tensor is too large to allocate.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// use rand::{SeedableRng, rngs::StdRng};
    /// let a = Tensor::<f32>::rand_uniform(&[3], -1.0, 1.0, &mut StdRng::seed_from_u64(7));
    /// let b = Tensor::<f32>::rand_uniform(&[3], -1.0, 1.0, &mut StdRng::seed_from_u64(7));
    /// assert_eq!(a, b); // the same seed gives the same values
    /// assert!(a.to_vec().iter().all(|&x| (-1.0..1.0).contains(&x)));
    /// ```
    #[track_caller]
    pub fn rand_uniform<R: Rng + ?Sized>(shape: &[usize], low: T, high: T, rng: &mut R) -> Self {
        Self::from_fn("rand_uniform", shape, || T::sample_uniform(rng, low, high))
    }

    /// Values drawn from a normal distribution with the given `mean` and standard deviation
    /// `std`, with the given random number generator.
    ///
    /// # Panics
    /// If the tensor is too large to allocate.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// use rand::{SeedableRng, rngs::StdRng};
    /// let t = Tensor::<f64>::rand_normal(&[10_000], 1.0, 2.0, &mut StdRng::seed_from_u64(0));
    /// let mean = t.to_vec().iter().sum::<f64>() / 10_000.0;
    /// assert!((mean - 1.0).abs() < 0.1);
    /// ```
    #[track_caller]
    pub fn rand_normal<R: Rng + ?Sized>(shape: &[usize], mean: T, std: T, rng: &mut R) -> Self {
        Self::from_fn("rand_normal", shape, || {
            mean + std * T::sample_standard_normal(rng)
        })
    }

    /// Wraps an ndarray array of any dimensionality without copying its elements.
    pub fn from_array<D: ndarray::Dimension>(array: ndarray::Array<T, D>) -> Self {
        Self {
            data: array.into_dyn().into_shared(),
        }
    }

    /// Wraps a shared ndarray array without copying.
    pub fn from_shared(array: ArcArray<T, IxDyn>) -> Self {
        Self { data: array }
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// The number of dimensions (0 for a scalar).
    pub fn ndim(&self) -> usize {
        self.data.ndim()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The single value of a one-element tensor (any shape with one element).
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    #[track_caller]
    pub fn item(&self) -> T {
        assert!(
            self.numel() == 1,
            "item: tensor of shape {:?} has {} elements, expected 1",
            self.shape(),
            self.numel()
        );
        *self.data.iter().next().expect("one element")
    }

    /// The element at a multi-dimensional `index`.
    ///
    /// # Panics
    /// If `index` has the wrong length or is out of bounds.
    #[track_caller]
    pub fn get(&self, index: &[usize]) -> T {
        match self.data.get(IxDyn(index)) {
            Some(&v) => v,
            None => panic!(
                "get: index {index:?} is out of bounds for shape {:?}",
                self.shape()
            ),
        }
    }

    /// The elements in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        self.data.iter().copied().collect()
    }

    /// A read-only ndarray view of the elements.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        self.data.view()
    }

    /// A mutable ndarray view; copies the storage first if another handle shares it.
    pub fn view_mut(&mut self) -> ArrayViewMutD<'_, T> {
        self.data.view_mut()
    }

    /// The underlying shared ndarray array.
    pub fn array(&self) -> &ArcArray<T, IxDyn> {
        &self.data
    }

    /// Converts into an owned ndarray array, copying only if the storage is shared.
    pub fn into_array(self) -> ArrayD<T> {
        self.data.into_owned()
    }

    /// Applies `f` to every element, giving a new tensor.
    ///
    /// A large contiguous tensor is mapped in parts on several threads (see
    /// [`set_num_threads`](crate::set_num_threads)), hence `f: Sync`; each element is
    /// computed alone, so the result does not depend on the thread count.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, -2.0], &[2]).map(|x| x * 3.0);
    /// assert_eq!(t.to_vec(), vec![3.0, -6.0]);
    /// ```
    pub fn map(&self, f: impl Fn(T) -> T + Sync) -> Self {
        Self::from_array(crate::kernels::map1(&self.data.view(), f))
    }

    /// True if both tensors have the same shape and every pair of elements differs by at most
    /// `atol + rtol * |other|`.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
    /// assert!(a.allclose(&Tensor::from_vec(vec![1.0, 2.0 + 1e-9], &[2]), 1e-6, 1e-6));
    /// ```
    pub fn allclose(&self, other: &Self, rtol: f64, atol: f64) -> bool {
        self.shape() == other.shape()
            && self
                .data
                .iter()
                .zip(other.data.iter())
                .all(|(&a, &b)| (a.as_f64() - b.as_f64()).abs() <= atol + rtol * b.as_f64().abs())
    }

    /// Converts the element type (e.g. `f32` → `f64` for a gradient check).
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::from_array(self.data.mapv(|x| U::from_f64(x.as_f64())))
    }
}

impl<T: Float> From<ArrayD<T>> for Tensor<T> {
    fn from(array: ArrayD<T>) -> Self {
        Self::from_array(array)
    }
}

impl<T: Float> From<Tensor<T>> for ArrayD<T> {
    fn from(t: Tensor<T>) -> Self {
        t.into_array()
    }
}

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Tensor{:?} {}", self.shape(), T::DTYPE)?;
        fmt::Display::fmt(&self.data, f)
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::OpScope;
    use crate::error::describe_size;
    use rand::SeedableRng;

    #[test]
    fn from_vec_panics_on_length_mismatch() {
        let r = std::panic::catch_unwind(|| Tensor::from_vec(vec![1.0f32; 3], &[2, 2]));
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert_eq!(
            msg,
            "from_vec: 3 elements do not fill shape [2, 2] (4 elements)"
        );
    }

    #[test]
    fn arange_counts_like_pytorch() {
        assert_eq!(Tensor::arange(0.0f64, 5.0, 1.0).numel(), 5);
        assert_eq!(Tensor::arange(0.0f64, 5.5, 1.0).numel(), 6);
        assert_eq!(
            Tensor::arange(3.0f64, 0.0, -1.0).to_vec(),
            vec![3.0, 2.0, 1.0]
        );
        assert_eq!(Tensor::arange(3.0f64, 0.0, 1.0).numel(), 0);
    }

    #[test]
    #[should_panic(expected = "arange: step must be finite and non-zero, got 0")]
    fn arange_panics_on_zero_step() {
        Tensor::arange(0.0f32, 1.0, 0.0);
    }

    #[test]
    fn linspace_ends_exactly_at_end() {
        let t = Tensor::linspace(0.0f32, 0.3, 4);
        assert_eq!(t.to_vec()[3], 0.3);
        assert_eq!(Tensor::linspace(2.0f32, 3.0, 1).to_vec(), vec![2.0]);
    }

    #[test]
    fn conversion_from_ndarray_does_not_copy() {
        let a = ndarray::Array2::<f64>::zeros((2, 3));
        let ptr = a.as_ptr();
        let t = Tensor::from_array(a);
        assert_eq!(t.array().as_ptr(), ptr);
        let back = t.into_array();
        assert_eq!(back.as_ptr(), ptr);
    }

    #[test]
    fn writing_a_shared_tensor_copies_it() {
        let a = Tensor::<f64>::zeros(&[2]);
        let mut b = a.clone();
        b.view_mut()[[0]] = 1.0;
        assert_eq!(a.to_vec(), vec![0.0, 0.0]);
        assert_eq!(b.to_vec(), vec![1.0, 0.0]);
    }

    // Sizes: a request too large fails with the op and shape, before touching memory.
    // 2^48 f32 elements (1 PiB) exceed any address space, so the allocator refuses them
    // under every overcommit policy; 2^64 elements overflow the count itself.

    #[test]
    #[should_panic(
        expected = "zeros: cannot allocate shape [16777216, 16777216] (2.81e14 elements, 1.13 PB of f32)"
    )]
    fn zeros_panics_naming_the_op_when_the_allocator_refuses() {
        Tensor::<f32>::zeros(&[1 << 24, 1 << 24]);
    }

    #[test]
    #[should_panic(
        expected = "zeros: cannot allocate shape [4294967296, 4294967296] (1.84e19 elements, 73.8 EB of f32)"
    )]
    fn zeros_panics_naming_the_op_when_the_count_overflows() {
        Tensor::<f32>::zeros(&[1 << 32, 1 << 32]);
    }

    #[test]
    fn the_size_message_reads_like_the_request() {
        let err = Error::Alloc {
            op: "zeros",
            shape: vec![1_000_000, 1_000_000],
            dtype: "f32",
            element_bytes: 4,
        };
        assert_eq!(
            err.to_string(),
            "zeros: cannot allocate shape [1000000, 1000000] (1e12 elements, 4 TB of f32)"
        );
        assert_eq!(
            describe_size(&[2, 3], 8, "f64"),
            "6 elements, 48 bytes of f64"
        );
        assert_eq!(
            describe_size(&[1 << 20, 1 << 20], 4, "f32"),
            "1.1e12 elements, 4.4 TB of f32"
        );
        assert_eq!(
            describe_size(&[999_999], 4, "f32"),
            "999999 elements, 4 MB of f32"
        );
    }

    #[test]
    fn every_constructor_checks_its_size() {
        let huge = [1usize << 24, 1 << 24];
        let msg = |f: fn()| {
            let r = std::panic::catch_unwind(f);
            *r.unwrap_err().downcast::<String>().unwrap()
        };
        let pb = "(2.81e14 elements, 1.13 PB of f32)";
        assert_eq!(
            msg(|| drop(Tensor::<f32>::ones(&[1 << 24, 1 << 24]))),
            format!("ones: cannot allocate shape {huge:?} {pb}")
        );
        assert_eq!(
            msg(|| drop(Tensor::<f32>::full(&[1 << 24, 1 << 24], 2.0))),
            format!("full: cannot allocate shape {huge:?} {pb}")
        );
        assert_eq!(
            msg(|| drop(Tensor::<f32>::eye(1 << 32))),
            "eye: cannot allocate shape [4294967296, 4294967296] (1.84e19 elements, 73.8 EB of f32)"
        );
        assert_eq!(
            msg(|| drop(Tensor::<f32>::arange(0.0, 1e30, 1.0))),
            "arange: cannot allocate shape [18446744073709551615] (1.84e19 elements, 73.8 EB of f32)"
        );
        assert_eq!(
            msg(|| drop(Tensor::<f64>::linspace(0.0, 1.0, 1 << 61))),
            "linspace: cannot allocate shape [2305843009213693952] (2.31e18 elements, 18.4 EB of f64)"
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Tensor::<f32>::rand_uniform(&huge, 0.0, 1.0, &mut rng)
        }));
        assert_eq!(
            *r.unwrap_err().downcast::<String>().unwrap(),
            format!("rand_uniform: cannot allocate shape {huge:?} {pb}")
        );
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Tensor::<f32>::rand_normal(&huge, 0.0, 1.0, &mut rng)
        }));
        assert_eq!(
            *r.unwrap_err().downcast::<String>().unwrap(),
            format!("rand_normal: cannot allocate shape {huge:?} {pb}")
        );
        let err = Tensor::<f64>::try_zeros(&[1 << 24, 1 << 24]).unwrap_err();
        assert_eq!(
            err,
            Error::Alloc {
                op: "zeros",
                shape: huge.to_vec(),
                dtype: "f64",
                element_bytes: 8
            }
        );
    }

    #[test]
    fn a_size_error_names_the_outermost_op_in_scope() {
        let huge = [1usize << 32, 1 << 32];
        assert!(matches!(
            Tensor::<f32>::try_zeros(&huge),
            Err(Error::Alloc { op: "zeros", .. })
        ));
        {
            let _outer = OpScope::enter("avg_pool2d");
            let _inner = OpScope::enter("conv2d");
            assert!(matches!(
                Tensor::<f32>::try_zeros(&huge),
                Err(Error::Alloc {
                    op: "avg_pool2d",
                    ..
                })
            ));
        }
        // The scope ends with its guard, also when a panic unwinds through it.
        let _ = std::panic::catch_unwind(|| {
            let _scope = OpScope::enter("pad");
            panic!("unwinding");
        });
        assert!(matches!(
            Tensor::<f32>::try_zeros(&huge),
            Err(Error::Alloc { op: "zeros", .. })
        ));
    }

    #[test]
    fn an_empty_shape_with_huge_dims_is_checked_like_ndarray() {
        assert_eq!(Tensor::<f32>::zeros(&[0, usize::MAX >> 1]).numel(), 0);
        assert!(Tensor::<f32>::try_zeros(&[0, usize::MAX, usize::MAX]).is_err());
    }

    #[test]
    fn try_from_vec_returns_an_error_when_the_shape_product_overflows() {
        let err = Tensor::try_from_vec(vec![1.0f32; 3], &[1 << 32, 1 << 32, 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "from_vec: 3 elements do not fill shape [4294967296, 4294967296, 2] (3.69e19 elements)"
        );
    }

    #[test]
    #[should_panic(expected = "item: tensor of shape [2] has 2 elements, expected 1")]
    fn item_panics_on_many_elements() {
        Tensor::<f32>::zeros(&[2]).item();
    }
}
