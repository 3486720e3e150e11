//! Seeded synthetic datasets, as scikit-learn's `make_*` generators, plus sequence tasks for
//! recurrent models. Each returns a [`TensorDataset`]; the same seed gives the same data.
//!
//! The classification generators (`make_moons`, `make_circles`, `make_spirals`,
//! `make_blobs`) return their samples shuffled, from the same seed, as scikit-learn's
//! default `shuffle=True`: any contiguous slice (a validation split taken from the end, a
//! k-fold part) holds every class. The others draw every sample independently, so their
//! order carries nothing to shuffle away.

use std::f64::consts::PI;

use ferrograd_autograd::{Float, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::dataset::{Targets, TensorDataset};

fn normal(rng: &mut StdRng) -> f64 {
    StandardNormal.sample(rng)
}

fn dataset<T: Float>(x: Vec<f64>, shape: &[usize], y: Targets<T>) -> TensorDataset<T> {
    TensorDataset::new(
        Tensor::from_vec(x.into_iter().map(T::from_f64).collect(), shape),
        y,
    )
}

/// Classification data with its rows (`width` values each) and labels permuted together by
/// `rng`, so the classes are no longer in blocks.
fn shuffled<T: Float>(
    x: Vec<f64>,
    width: usize,
    y: Vec<usize>,
    rng: &mut StdRng,
) -> TensorDataset<T> {
    let n = y.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let xs = order
        .iter()
        .flat_map(|&i| x[i * width..(i + 1) * width].iter().copied())
        .collect();
    let ys = order.iter().map(|&i| y[i]).collect();
    dataset(xs, &[n, width], Targets::Classes(ys))
}

/// Linear regression data: `y = x·w + b + noise`, `x ~ N(0, 1)` with `features` columns,
/// fixed random weights `w ~ U(−1, 1)·10`, `b = 0`, Gaussian noise of std `noise`. Targets
/// are values `[n, 1]`.
///
/// ```
/// use ferrograd::data::dataset::Dataset;
/// use ferrograd::data::synthetic::make_regression;
/// let ds = make_regression::<f32>(100, 3, 0.1, 0);
/// assert_eq!((ds.len(), ds.x().shape()[1]), (100, 3));
/// ```
pub fn make_regression<T: Float>(
    n: usize,
    features: usize,
    noise: f64,
    seed: u64,
) -> TensorDataset<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    let w: Vec<f64> = (0..features)
        .map(|_| rng.random_range(-10.0..10.0))
        .collect();
    let x: Vec<f64> = (0..n * features).map(|_| normal(&mut rng)).collect();
    let y: Vec<f64> = x
        .chunks_exact(features.max(1))
        .map(|row| row.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + noise * normal(&mut rng))
        .collect();
    let y = Tensor::from_vec(y.into_iter().map(T::from_f64).collect(), &[n, 1]);
    dataset(x, &[n, features], Targets::Values(y))
}

/// Two interleaving half circles in 2-D (classes 0 and 1), as `make_moons`, with Gaussian
/// noise of std `noise`; samples shuffled (seeded).
///
/// ```
/// use ferrograd::data::synthetic::make_moons;
/// let ds = make_moons::<f32>(200, 0.1, 0);
/// assert_eq!(ds.x().shape(), &[200, 2]);
/// // Shuffled: the last 20% (a Keras-style validation split) holds both classes.
/// let tail = &ds.y().classes()[160..];
/// assert!(tail.contains(&0) && tail.contains(&1));
/// ```
pub fn make_moons<T: Float>(n: usize, noise: f64, seed: u64) -> TensorDataset<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (outer, inner) = (n - n / 2, n / 2);
    let (mut x, mut y) = (Vec::with_capacity(2 * n), Vec::with_capacity(n));
    for i in 0..outer {
        let t = PI * i as f64 / (outer.max(2) - 1) as f64;
        x.extend([
            t.cos() + noise * normal(&mut rng),
            t.sin() + noise * normal(&mut rng),
        ]);
        y.push(0);
    }
    for i in 0..inner {
        let t = PI * i as f64 / (inner.max(2) - 1) as f64;
        x.extend([
            1.0 - t.cos() + noise * normal(&mut rng),
            0.5 - t.sin() + noise * normal(&mut rng),
        ]);
        y.push(1);
    }
    shuffled(x, 2, y, &mut rng)
}

/// A small circle inside a large one (classes 1 and 0), as `make_circles`: radii `factor`
/// and 1, Gaussian noise of std `noise`; samples shuffled (seeded).
///
/// # Panics
/// If `factor` is not in `(0, 1)`.
pub fn make_circles<T: Float>(n: usize, noise: f64, factor: f64, seed: u64) -> TensorDataset<T> {
    assert!(
        factor > 0.0 && factor < 1.0,
        "make_circles: factor must be in (0, 1), got {factor}"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let (outer, inner) = (n - n / 2, n / 2);
    let (mut x, mut y) = (Vec::with_capacity(2 * n), Vec::with_capacity(n));
    for (count, radius, label) in [(outer, 1.0, 0), (inner, factor, 1)] {
        for i in 0..count {
            let t = 2.0 * PI * i as f64 / count as f64;
            x.extend([
                radius * t.cos() + noise * normal(&mut rng),
                radius * t.sin() + noise * normal(&mut rng),
            ]);
            y.push(label);
        }
    }
    shuffled(x, 2, y, &mut rng)
}

/// `classes` interleaved spiral arms in 2-D (the CS231n toy problem), `n_per_class` points
/// each, with Gaussian angle noise of std `noise`; samples shuffled (seeded).
pub fn make_spirals<T: Float>(
    n_per_class: usize,
    classes: usize,
    noise: f64,
    seed: u64,
) -> TensorDataset<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = n_per_class * classes;
    let (mut x, mut y) = (Vec::with_capacity(2 * n), Vec::with_capacity(n));
    for c in 0..classes {
        for i in 0..n_per_class {
            let r = i as f64 / n_per_class as f64;
            let t = c as f64 * 2.0 * PI / classes as f64 + 4.0 * r + noise * normal(&mut rng);
            x.extend([r * t.sin(), r * t.cos()]);
            y.push(c);
        }
    }
    shuffled(x, 2, y, &mut rng)
}

/// Isotropic Gaussian blobs, as `make_blobs`: `centers` centres drawn uniformly in
/// `[−10, 10]^features`, points around them with std `std`, assigned round-robin (so the
/// class sizes differ by at most one), then shuffled (seeded).
pub fn make_blobs<T: Float>(
    n: usize,
    features: usize,
    centers: usize,
    std: f64,
    seed: u64,
) -> TensorDataset<T> {
    assert!(centers > 0, "make_blobs: centers must be positive");
    let mut rng = StdRng::seed_from_u64(seed);
    let middle: Vec<f64> = (0..centers * features)
        .map(|_| rng.random_range(-10.0..10.0))
        .collect();
    let (mut x, mut y) = (Vec::with_capacity(n * features), Vec::with_capacity(n));
    for i in 0..n {
        let c = i % centers;
        x.extend((0..features).map(|f| middle[c * features + f] + std * normal(&mut rng)));
        y.push(c);
    }
    shuffled(x, features, y, &mut rng)
}

/// The parity task for recurrent models: `n` sequences of `len` random bits `[n, len, 1]`,
/// labelled by whether they hold an odd number of ones.
///
/// ```
/// use ferrograd::data::synthetic::parity;
/// let ds = parity::<f32>(4, 6, 0);
/// let bits = ds.x().to_vec();
/// let ones = bits[..6].iter().filter(|&&b| b == 1.0).count();
/// assert_eq!(ds.y().classes()[0], ones % 2);
/// ```
pub fn parity<T: Float>(n: usize, len: usize, seed: u64) -> TensorDataset<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    let x: Vec<f64> = (0..n * len)
        .map(|_| f64::from(u8::from(rng.random_bool(0.5))))
        .collect();
    let y = x
        .chunks_exact(len.max(1))
        .map(|s| s.iter().filter(|&&b| b == 1.0).count() % 2)
        .collect();
    dataset(x, &[n, len, 1], Targets::Classes(y))
}

/// Sine forecasting: windows `[n, len, 1]` of `sin(t)` sampled every `step` from random
/// starts, plus Gaussian noise of std `noise`; the target `[n, 1]` is the next sample.
pub fn sine_forecast<T: Float>(
    n: usize,
    len: usize,
    step: f64,
    noise: f64,
    seed: u64,
) -> TensorDataset<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut x, mut y) = (Vec::with_capacity(n * len), Vec::with_capacity(n));
    for _ in 0..n {
        let start = rng.random_range(0.0..2.0 * PI);
        x.extend((0..len).map(|i| (start + i as f64 * step).sin() + noise * normal(&mut rng)));
        y.push(T::from_f64((start + len as f64 * step).sin()));
    }
    dataset(
        x,
        &[n, len, 1],
        Targets::Values(Tensor::from_vec(y, &[n, 1])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Dataset;

    #[test]
    fn generators_are_reproducible_and_labelled() {
        assert_eq!(
            make_moons::<f64>(50, 0.1, 3).x(),
            make_moons::<f64>(50, 0.1, 3).x()
        );
        assert_ne!(
            make_moons::<f64>(50, 0.1, 3).x(),
            make_moons::<f64>(50, 0.1, 4).x()
        );
        let circles = make_circles::<f64>(100, 0.0, 0.5, 0);
        let x = circles.x().to_vec();
        for (i, &label) in circles.y().classes().iter().enumerate() {
            let r = (x[2 * i].powi(2) + x[2 * i + 1].powi(2)).sqrt();
            assert!((r - if label == 1 { 0.5 } else { 1.0 }).abs() < 1e-12);
        }
        let blobs = make_blobs::<f32>(30, 4, 3, 1.0, 1);
        assert_eq!(blobs.y().classes().iter().filter(|&&c| c == 2).count(), 10);
        assert_eq!(make_spirals::<f32>(20, 3, 0.2, 0).len(), 60);
        assert_eq!(
            sine_forecast::<f32>(8, 10, 0.1, 0.0, 0).x().shape(),
            &[8, 10, 1]
        );
    }

    #[test]
    fn classification_generators_are_shuffled_reproducibly() {
        type Gen = fn(u64) -> TensorDataset<f64>;
        let generators: [(&str, Gen); 4] = [
            ("make_moons", |s| make_moons(100, 0.1, s)),
            ("make_circles", |s| make_circles(100, 0.1, 0.5, s)),
            ("make_spirals", |s| make_spirals(40, 3, 0.2, s)),
            ("make_blobs", |s| make_blobs(90, 2, 3, 1.0, s)),
        ];
        for (name, make) in generators {
            let ds = make(7);
            let y = ds.y().classes();
            let fifth = y.len() / 5;
            for part in [&y[..fifth], &y[y.len() - fifth..]] {
                assert!(
                    part.iter().any(|&c| c != part[0]),
                    "{name}: a 20% slice holds only class {}",
                    part[0]
                );
            }
            let again = make(7);
            assert_eq!(again.x(), ds.x(), "{name}");
            assert_eq!(again.y(), ds.y(), "{name}");
            assert_ne!(make(8).y(), ds.y(), "{name}");
        }
    }

    #[test]
    fn shuffling_keeps_each_point_with_its_label() {
        let moons = make_moons::<f64>(60, 0.0, 1);
        let x = moons.x().to_vec();
        let y = moons.y().classes();
        assert_eq!(y.iter().filter(|&&c| c == 1).count(), 30);
        for (i, &label) in y.iter().enumerate() {
            let (a, b) = (x[2 * i], x[2 * i + 1]);
            let r = if label == 0 {
                (a * a + b * b).sqrt()
            } else {
                ((a - 1.0).powi(2) + (b - 0.5).powi(2)).sqrt()
            };
            assert!(
                (r - 1.0).abs() < 1e-12,
                "sample {i}: {a}, {b} is not on moon {label}"
            );
        }
    }

    #[test]
    fn noiseless_regression_is_exactly_linear() {
        let ds = make_regression::<f64>(20, 2, 0.0, 5);
        let (x, y) = (ds.x().to_vec(), ds.y().values().to_vec());
        // Recover w from two samples and check the rest.
        let det = x[0] * x[3] - x[1] * x[2];
        let w0 = (y[0] * x[3] - x[1] * y[1]) / det;
        let w1 = (x[0] * y[1] - y[0] * x[2]) / det;
        for i in 0..20 {
            assert!((x[2 * i] * w0 + x[2 * i + 1] * w1 - y[i]).abs() < 1e-9);
        }
    }
}
