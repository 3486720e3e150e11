//! Preprocessing, as scikit-learn's and torchvision's: `StandardScaler`, `MinMaxScaler`,
//! `LabelEncoder`, one-hot encoding and per-channel image normalisation.
//!
//! A scaler is made by `fit` on training data only and then applied to any data with
//! `transform`; `inverse_transform` undoes it. Features are the columns of a `[N, F]`
//! tensor.

use ferrograd_autograd::{Float, Tensor};

use crate::error::{Error, Result};

#[track_caller]
fn columns<T: Float>(op: &str, x: &Tensor<T>, expected: Option<usize>) -> (usize, usize) {
    let &[n, f] = x.shape() else {
        panic!(
            "{op}: data must be [samples, features], got shape {:?}",
            x.shape()
        );
    };
    if let Some(e) = expected {
        assert!(
            f == e,
            "{op}: data has {f} features, the scaler was fit on {e}"
        );
    }
    (n, f)
}

/// `(x − a[j]) · b[j]` for every element in column `j`.
fn affine<T: Float>(x: &Tensor<T>, a: &[f64], b: &[f64]) -> Tensor<T> {
    let f = a.len();
    let data = x
        .to_vec()
        .iter()
        .enumerate()
        .map(|(i, &v)| T::from_f64((v.as_f64() - a[i % f]) * b[i % f]))
        .collect();
    Tensor::from_vec(data, x.shape())
}

/// Per-column statistics folded from the rows.
fn column_stats<T: Float>(
    x: &Tensor<T>,
    f: usize,
    init: f64,
    fold: impl Fn(f64, f64) -> f64,
) -> Vec<f64> {
    let mut acc = vec![init; f];
    for (i, v) in x.to_vec().iter().enumerate() {
        acc[i % f] = fold(acc[i % f], v.as_f64());
    }
    acc
}

/// Standardises each feature to mean 0 and standard deviation 1, as scikit-learn's
/// `StandardScaler` (population standard deviation; a constant feature is only centred).
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::data::preprocess::StandardScaler;
/// let train = Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], &[2, 2]);
/// let scaler = StandardScaler::fit(&train);
/// assert_eq!(scaler.transform(&train).to_vec(), vec![-1.0, -1.0, 1.0, 1.0]);
/// assert_eq!(scaler.inverse_transform(&scaler.transform(&train)), train);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StandardScaler {
    /// Each feature's mean.
    pub mean: Vec<f64>,
    /// Each feature's standard deviation (1 for a constant feature).
    pub scale: Vec<f64>,
}

impl StandardScaler {
    /// Learns each column's mean and standard deviation.
    ///
    /// # Panics
    /// If `x` is not `[samples, features]` with at least one sample.
    #[track_caller]
    pub fn fit<T: Float>(x: &Tensor<T>) -> Self {
        let (n, f) = columns("StandardScaler", x, None);
        assert!(n > 0, "StandardScaler: no samples to fit");
        let mean: Vec<f64> = column_stats(x, f, 0.0, |a, v| a + v)
            .iter()
            .map(|s| s / n as f64)
            .collect();
        let mut var = vec![0.0; f];
        for (i, v) in x.to_vec().iter().enumerate() {
            var[i % f] += (v.as_f64() - mean[i % f]).powi(2) / n as f64;
        }
        let scale = var
            .iter()
            .map(|v| if *v > 0.0 { v.sqrt() } else { 1.0 })
            .collect();
        StandardScaler { mean, scale }
    }

    /// `(x − mean) / scale` per column.
    ///
    /// # Panics
    /// If `x` does not have the fitted number of features.
    #[track_caller]
    pub fn transform<T: Float>(&self, x: &Tensor<T>) -> Tensor<T> {
        columns("StandardScaler", x, Some(self.mean.len()));
        let inv: Vec<f64> = self.scale.iter().map(|s| 1.0 / s).collect();
        affine(x, &self.mean, &inv)
    }

    /// `x·scale + mean` per column: undoes [`StandardScaler::transform`].
    ///
    /// # Panics
    /// If `x` does not have the fitted number of features.
    #[track_caller]
    pub fn inverse_transform<T: Float>(&self, x: &Tensor<T>) -> Tensor<T> {
        columns("StandardScaler", x, Some(self.mean.len()));
        let shift: Vec<f64> = self
            .mean
            .iter()
            .zip(&self.scale)
            .map(|(m, s)| -m / s)
            .collect();
        affine(x, &shift, &self.scale)
    }
}

/// Scales each feature to `[low, high]` (by default `[0, 1]`) using the training minimum and
/// maximum, as scikit-learn's `MinMaxScaler`; a constant feature maps to `low`.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::data::preprocess::MinMaxScaler;
/// let train = Tensor::from_vec(vec![2.0f64, 5.0, 6.0, 7.0], &[2, 2]);
/// let scaler = MinMaxScaler::fit(&train);
/// assert_eq!(scaler.transform(&train).to_vec(), vec![0.0, 0.0, 1.0, 1.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MinMaxScaler {
    /// Each feature's training minimum.
    pub min: Vec<f64>,
    /// Each feature's training maximum.
    pub max: Vec<f64>,
    /// The target range.
    pub range: (f64, f64),
}

impl MinMaxScaler {
    /// Learns each column's minimum and maximum, for the range `[0, 1]`.
    ///
    /// # Panics
    /// If `x` is not `[samples, features]` with at least one sample.
    #[track_caller]
    pub fn fit<T: Float>(x: &Tensor<T>) -> Self {
        let (n, f) = columns("MinMaxScaler", x, None);
        assert!(n > 0, "MinMaxScaler: no samples to fit");
        MinMaxScaler {
            min: column_stats(x, f, f64::INFINITY, f64::min),
            max: column_stats(x, f, f64::NEG_INFINITY, f64::max),
            range: (0.0, 1.0),
        }
    }

    /// The same scaler mapping to `[low, high]` instead.
    ///
    /// # Panics
    /// If `low >= high`.
    pub fn feature_range(mut self, low: f64, high: f64) -> Self {
        assert!(
            low < high,
            "MinMaxScaler: feature range ({low}, {high}) is empty"
        );
        self.range = (low, high);
        self
    }

    fn factors(&self) -> Vec<f64> {
        let width = self.range.1 - self.range.0;
        self.min
            .iter()
            .zip(&self.max)
            .map(|(lo, hi)| if hi > lo { width / (hi - lo) } else { 0.0 })
            .collect()
    }

    /// `low + (x − min)·(high − low)/(max − min)` per column.
    ///
    /// # Panics
    /// If `x` does not have the fitted number of features.
    #[track_caller]
    pub fn transform<T: Float>(&self, x: &Tensor<T>) -> Tensor<T> {
        columns("MinMaxScaler", x, Some(self.min.len()));
        let k = self.factors();
        let f = k.len();
        // low + (x − min)·k, subtracting first so a narrow range loses no precision; a
        // constant feature (k = 0) maps to low.
        let data = x
            .to_vec()
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let j = i % f;
                T::from_f64(self.range.0 + (v.as_f64() - self.min[j]) * k[j])
            })
            .collect();
        Tensor::from_vec(data, x.shape())
    }

    /// Undoes [`MinMaxScaler::transform`] (a constant feature returns its value).
    ///
    /// # Panics
    /// If `x` does not have the fitted number of features.
    #[track_caller]
    pub fn inverse_transform<T: Float>(&self, x: &Tensor<T>) -> Tensor<T> {
        columns("MinMaxScaler", x, Some(self.min.len()));
        let k = self.factors();
        let f = k.len();
        let data = x
            .to_vec()
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let j = i % f;
                T::from_f64(if k[j] > 0.0 {
                    (v.as_f64() - self.range.0) / k[j] + self.min[j]
                } else {
                    self.min[j]
                })
            })
            .collect();
        Tensor::from_vec(data, x.shape())
    }
}

/// Maps class names to `0..classes`, in sorted order, as scikit-learn's `LabelEncoder`.
///
/// ```
/// use ferrograd::data::preprocess::LabelEncoder;
/// let enc = LabelEncoder::fit(&["dog", "cat", "dog", "bird"]);
/// assert_eq!(enc.classes, ["bird", "cat", "dog"]);
/// assert_eq!(enc.transform(&["cat", "bird"])?, vec![1, 0]);
/// assert_eq!(enc.inverse_transform(&[2]), vec!["dog"]);
/// assert!(enc.transform(&["cow"]).is_err());
/// # Ok::<(), ferrograd::data::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelEncoder {
    /// The distinct labels, sorted; a label's code is its position.
    pub classes: Vec<String>,
}

impl LabelEncoder {
    /// Learns the distinct labels.
    pub fn fit<S: AsRef<str>>(labels: &[S]) -> Self {
        let mut classes: Vec<String> = labels.iter().map(|s| s.as_ref().to_string()).collect();
        classes.sort();
        classes.dedup();
        LabelEncoder { classes }
    }

    /// Each label's code.
    ///
    /// # Errors
    /// [`Error::UnknownLabel`] for a label not seen by `fit`.
    pub fn transform<S: AsRef<str>>(&self, labels: &[S]) -> Result<Vec<usize>> {
        labels
            .iter()
            .map(|l| {
                self.classes
                    .binary_search_by(|c| c.as_str().cmp(l.as_ref()))
                    .map_err(|_| Error::UnknownLabel {
                        label: l.as_ref().to_string(),
                    })
            })
            .collect()
    }

    /// The labels of codes.
    ///
    /// # Panics
    /// If a code is not below the number of classes.
    pub fn inverse_transform(&self, codes: &[usize]) -> Vec<String> {
        codes.iter().map(|&c| self.classes[c].clone()).collect()
    }
}

/// One-hot rows for class codes: `[codes.len(), classes]` (the same as
/// [`Tensor::one_hot`], re-exported here with the other encoders).
///
/// # Errors
/// [`ferrograd_autograd::Error::Index`] for a code that is not below `classes`.
pub fn one_hot<T: Float>(codes: &[usize], classes: usize) -> ferrograd_autograd::Result<Tensor<T>> {
    Tensor::try_one_hot(codes, classes)
}

/// Normalises an image batch `[N, C, H, W]` channel by channel: `(x − mean[c]) / std[c]`,
/// as torchvision's `Normalize` (e.g. MNIST's `mean = [0.1307]`, `std = [0.3081]`).
///
/// # Panics
/// If the batch is not 4-D, or `mean`/`std` do not have one entry per channel, or a `std`
/// is not positive.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::data::preprocess::normalize_images;
/// let x = Tensor::from_vec(vec![0.5f32, 1.0], &[1, 2, 1, 1]);
/// assert_eq!(normalize_images(&x, &[0.5, 0.0], &[0.5, 2.0]).to_vec(), vec![0.0, 0.5]);
/// ```
#[track_caller]
pub fn normalize_images<T: Float>(x: &Tensor<T>, mean: &[f64], std: &[f64]) -> Tensor<T> {
    let &[_, c, h, w] = x.shape() else {
        panic!(
            "normalize_images: images must be [N, C, H, W], got shape {:?}",
            x.shape()
        );
    };
    assert!(
        mean.len() == c && std.len() == c,
        "normalize_images: {} means and {} stds for {c} channels",
        mean.len(),
        std.len()
    );
    assert!(
        std.iter().all(|&s| s > 0.0),
        "normalize_images: std must be positive, got {std:?}"
    );
    let plane = h * w;
    let data = x
        .to_vec()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / plane) % c;
            T::from_f64((v.as_f64() - mean[ch]) / std[ch])
        })
        .collect();
    Tensor::from_vec(data, x.shape())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn scalers_invert_exactly(rows in 1usize..8, cols in 1usize..5, seed in any::<u64>()) {
            let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
            let x = Tensor::<f64>::rand_uniform(&[rows, cols], -50.0, 50.0, &mut rng);
            let s = StandardScaler::fit(&x);
            prop_assert!(s.inverse_transform(&s.transform(&x)).allclose(&x, 1e-12, 1e-12));
            let m = MinMaxScaler::fit(&x).feature_range(-1.0, 1.0);
            let t = m.transform(&x);
            prop_assert!(t.to_vec().iter().all(|v| (-1.0 - 1e-12..=1.0 + 1e-12).contains(v)));
            if rows > 1 {
                prop_assert!(m.inverse_transform(&t).allclose(&x, 1e-12, 1e-12));
            }
        }
    }

    #[test]
    fn standard_scaler_matches_sklearn_on_a_known_case() {
        // sklearn: StandardScaler().fit([[0, 0], [0, 0], [1, 1], [1, 1]]) -> mean [0.5, 0.5],
        // scale [0.5, 0.5]; transform([[2, 2]]) -> [[3, 3]].
        let x = Tensor::from_vec(vec![0.0f64, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0], &[4, 2]);
        let s = StandardScaler::fit(&x);
        assert_eq!(
            (s.mean.clone(), s.scale.clone()),
            (vec![0.5, 0.5], vec![0.5, 0.5])
        );
        assert_eq!(
            s.transform(&Tensor::from_vec(vec![2.0f64, 2.0], &[1, 2]))
                .to_vec(),
            vec![3.0, 3.0]
        );
    }

    #[test]
    fn constant_features_do_not_divide_by_zero() {
        let x = Tensor::from_vec(vec![3.0f64, 1.0, 3.0, 2.0], &[2, 2]);
        assert_eq!(
            StandardScaler::fit(&x).transform(&x).to_vec(),
            vec![0.0, -1.0, 0.0, 1.0]
        );
        let m = MinMaxScaler::fit(&x);
        assert_eq!(m.transform(&x).to_vec(), vec![0.0, 0.0, 0.0, 1.0]);
        assert_eq!(m.inverse_transform(&m.transform(&x)), x);
    }

    #[test]
    #[should_panic(expected = "StandardScaler: data has 3 features, the scaler was fit on 2")]
    fn transform_panics_on_a_feature_count_mismatch() {
        let s = StandardScaler::fit(&Tensor::<f32>::zeros(&[2, 2]));
        s.transform(&Tensor::<f32>::zeros(&[2, 3]));
    }

    #[test]
    fn label_encoder_reports_unknown_labels() {
        let enc = LabelEncoder::fit(&["a", "b"]);
        assert_eq!(
            enc.transform(&["c"]).unwrap_err().to_string(),
            "label `c` was not among the labels the encoder was fit on"
        );
    }
}
