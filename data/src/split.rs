//! Model selection: `train_test_split`, `KFold`, `StratifiedKFold` and `cross_validate`, as
//! scikit-learn's. Splits are index lists, so they work for any dataset; every function
//! with randomness takes a seed.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// A train/test partition of `0..n` (what `train_test_split` returns, and each fold of a
/// k-fold split), as index lists (each in shuffled order when the split
/// shuffled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fold {
    /// The training indices.
    pub train: Vec<usize>,
    /// The held-out indices.
    pub test: Vec<usize>,
}

fn shuffled(mut v: Vec<usize>, rng: &mut StdRng) -> Vec<usize> {
    v.shuffle(rng);
    v
}

/// Indices grouped by label, classes in ascending order.
#[track_caller]
fn by_class(op: &str, labels: &[usize], n: usize) -> BTreeMap<usize, Vec<usize>> {
    assert!(
        labels.len() == n,
        "{op}: {} labels for {n} samples",
        labels.len()
    );
    let mut classes: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        classes.entry(l).or_default().push(i);
    }
    classes
}

/// Splits `0..n` into a shuffled train part and a test part of `⌈test_fraction·n⌉` samples
/// (scikit-learn's rule). With `stratify` (one label per sample), the test samples are
/// apportioned to the classes in proportion to their sizes (largest remainders rounding
/// up), so both parts keep the class proportions.
///
/// # Panics
/// If `test_fraction` is not strictly between 0 and 1, or `stratify` does not have `n`
/// labels.
///
/// ```
/// use ferrograd::data::split::train_test_split;
/// let s = train_test_split(10, 0.2, 42, None);
/// assert_eq!((s.train.len(), s.test.len()), (8, 2));
/// assert_eq!(s, train_test_split(10, 0.2, 42, None)); // same seed, same split
/// ```
#[track_caller]
pub fn train_test_split(
    n: usize,
    test_fraction: f64,
    seed: u64,
    stratify: Option<&[usize]>,
) -> Fold {
    assert!(
        test_fraction > 0.0 && test_fraction < 1.0,
        "train_test_split: test_fraction must be in (0, 1), got {test_fraction}"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    match stratify {
        None => {
            let all = shuffled((0..n).collect(), &mut rng);
            let n_test = (test_fraction * n as f64).ceil() as usize;
            test.extend_from_slice(&all[..n_test]);
            train.extend_from_slice(&all[n_test..]);
        }
        Some(labels) => {
            let classes = by_class("train_test_split", labels, n);
            let n_test = (test_fraction * n as f64).ceil() as usize;
            let sizes: Vec<usize> = classes.values().map(Vec::len).collect();
            let quotas = apportion(n_test, &sizes);
            for ((_, members), take) in classes.into_iter().zip(quotas) {
                let members = shuffled(members, &mut rng);
                test.extend_from_slice(&members[..take]);
                train.extend_from_slice(&members[take..]);
            }
            train.shuffle(&mut rng);
            test.shuffle(&mut rng);
        }
    }
    Fold { train, test }
}

/// Splits `total` over groups in proportion to their `sizes` (largest remainders get the
/// leftover units, larger groups first on ties), never more than a group holds.
fn apportion(total: usize, sizes: &[usize]) -> Vec<usize> {
    let n: usize = sizes.iter().sum();
    let exact: Vec<f64> = sizes
        .iter()
        .map(|&s| total as f64 * s as f64 / n as f64)
        .collect();
    let mut quota: Vec<usize> = exact.iter().map(|q| q.floor() as usize).collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - quota[a] as f64, exact[b] - quota[b] as f64);
        rb.total_cmp(&ra).then(sizes[b].cmp(&sizes[a]))
    });
    let mut left = total - quota.iter().sum::<usize>();
    for &g in order.iter().cycle().take(order.len() * 2) {
        if left == 0 {
            break;
        }
        if quota[g] < sizes[g] {
            quota[g] += 1;
            left -= 1;
        }
    }
    quota
}

/// K-fold cross-validation splits, as scikit-learn's `KFold`: `0..n` cut into `k`
/// consecutive folds (the first `n % k` one larger), optionally shuffled first; fold `i` is
/// the test set of split `i`.
///
/// ```
/// use ferrograd::data::split::KFold;
/// let folds = KFold::new(3).folds(7);
/// assert_eq!(folds[0].test, vec![0, 1, 2]);
/// assert_eq!(folds[2].test, vec![5, 6]);
/// assert_eq!(folds[2].train, vec![0, 1, 2, 3, 4]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KFold {
    k: usize,
    seed: Option<u64>,
}

impl KFold {
    /// `k` folds without shuffling.
    ///
    /// # Panics
    /// If `k < 2`.
    pub fn new(k: usize) -> Self {
        assert!(k >= 2, "KFold: k must be at least 2, got {k}");
        KFold { k, seed: None }
    }

    /// Shuffles the samples with `seed` before cutting the folds.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The `k` splits of `0..n`.
    ///
    /// # Panics
    /// If `n < k`.
    pub fn folds(&self, n: usize) -> Vec<Fold> {
        assert!(
            n >= self.k,
            "KFold: {n} samples cannot make {} folds",
            self.k
        );
        let order: Vec<usize> = match self.seed {
            Some(seed) => shuffled((0..n).collect(), &mut StdRng::seed_from_u64(seed)),
            None => (0..n).collect(),
        };
        let mut fold_of = vec![0; n];
        let mut start = 0;
        for f in 0..self.k {
            let size = n / self.k + usize::from(f < n % self.k);
            for &i in &order[start..start + size] {
                fold_of[i] = f;
            }
            start += size;
        }
        splits_from(&order, &fold_of, self.k)
    }
}

/// The splits where fold `f` is the test set, in the order of `order`.
fn splits_from(order: &[usize], fold_of: &[usize], k: usize) -> Vec<Fold> {
    (0..k)
        .map(|f| {
            let (test, train) = order.iter().partition(|&&i| fold_of[i] == f);
            Fold { train, test }
        })
        .collect()
}

/// Stratified k-fold, as scikit-learn's `StratifiedKFold`: each fold gets every class in
/// (nearly) the same proportion as the whole, by dealing each class's samples round-robin
/// over the folds (after a seeded shuffle within the class, if asked).
///
/// ```
/// use ferrograd::data::split::StratifiedKFold;
/// let labels = [0, 0, 0, 0, 1, 1, 1, 1];
/// for fold in StratifiedKFold::new(2).shuffle(1).folds(&labels) {
///     let ones = fold.test.iter().filter(|&&i| labels[i] == 1).count();
///     assert_eq!((fold.test.len(), ones), (4, 2));
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StratifiedKFold {
    k: usize,
    seed: Option<u64>,
}

impl StratifiedKFold {
    /// `k` stratified folds without shuffling.
    ///
    /// # Panics
    /// If `k < 2`.
    pub fn new(k: usize) -> Self {
        assert!(k >= 2, "StratifiedKFold: k must be at least 2, got {k}");
        StratifiedKFold { k, seed: None }
    }

    /// Shuffles each class with `seed` before dealing it out.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The `k` splits of the samples with these labels.
    ///
    /// # Panics
    /// If there are fewer samples than folds.
    pub fn folds(&self, labels: &[usize]) -> Vec<Fold> {
        let n = labels.len();
        assert!(
            n >= self.k,
            "StratifiedKFold: {n} samples cannot make {} folds",
            self.k
        );
        let mut rng = self.seed.map(StdRng::seed_from_u64);
        let mut fold_of = vec![0; n];
        // Continue the deal across classes, so the fold sizes differ by at most one.
        let mut next = 0;
        for (_, mut members) in by_class("StratifiedKFold", labels, n) {
            if let Some(rng) = rng.as_mut() {
                members.shuffle(rng);
            }
            for i in members {
                fold_of[i] = next % self.k;
                next += 1;
            }
        }
        splits_from(&(0..n).collect::<Vec<_>>(), &fold_of, self.k)
    }
}

/// Scores of a cross-validation, with their mean and (population) standard deviation, as
/// scikit-learn reports them.
#[derive(Clone, Debug, PartialEq)]
pub struct CvScores {
    /// One score per fold.
    pub scores: Vec<f64>,
    /// Their mean.
    pub mean: f64,
    /// Their standard deviation (dividing by the number of folds, as `np.std`).
    pub std: f64,
}

impl std::fmt::Display for CvScores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.4} ± {:.4} over {} folds",
            self.mean,
            self.std,
            self.scores.len()
        )
    }
}

impl CvScores {
    /// Summarises per-fold scores.
    ///
    /// # Panics
    /// If `scores` is empty.
    pub fn new(scores: Vec<f64>) -> Self {
        assert!(!scores.is_empty(), "CvScores: no scores");
        let n = scores.len() as f64;
        let mean = scores.iter().sum::<f64>() / n;
        let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
        CvScores { scores, mean, std }
    }
}

/// Runs `fit_and_score(fold_index, split)` for every split (train a fresh model on
/// `split.train`, return its score on `split.test`) and summarises the scores.
///
/// ```
/// use ferrograd::data::split::{KFold, cross_validate};
/// let y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
/// // "Model": predict the training mean; score: negative mean absolute error.
/// let cv = cross_validate(&KFold::new(3).folds(6), |_, s| {
///     let mean = s.train.iter().map(|&i| y[i]).sum::<f64>() / s.train.len() as f64;
///     -s.test.iter().map(|&i| (y[i] - mean).abs()).sum::<f64>() / s.test.len() as f64
/// });
/// assert_eq!(cv.scores.len(), 3);
/// println!("{cv}");
/// ```
pub fn cross_validate(
    splits: &[Fold],
    mut fit_and_score: impl FnMut(usize, &Fold) -> f64,
) -> CvScores {
    CvScores::new(
        splits
            .iter()
            .enumerate()
            .map(|(i, s)| fit_and_score(i, s))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The split partitions `0..n`: every index once, no overlap.
    fn assert_partition(s: &Fold, n: usize) {
        let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    proptest! {
        #[test]
        fn splits_and_folds_partition_exactly(n in 2usize..60, frac in 0.05f64..0.95, seed in any::<u64>(), k in 2usize..6) {
            let labels: Vec<usize> = (0..n).map(|i| (i * 7 + seed as usize) % 3).collect();
            for s in [train_test_split(n, frac, seed, None), train_test_split(n, frac, seed, Some(&labels))] {
                assert_partition(&s, n);
                prop_assert_eq!(s.test.len(), (frac * n as f64).ceil() as usize);
            }
            prop_assume!(n >= k);
            for folds in [KFold::new(k).folds(n), KFold::new(k).shuffle(seed).folds(n), StratifiedKFold::new(k).shuffle(seed).folds(&labels)] {
                let mut seen = vec![0; n];
                for f in &folds {
                    assert_partition(f, n);
                    f.test.iter().for_each(|&i| seen[i] += 1);
                }
                // Each sample is tested exactly once; fold sizes differ by at most one.
                prop_assert!(seen.iter().all(|&c| c == 1));
                let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
                prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn stratified_split_keeps_class_proportions() {
        // 80 of class 0, 20 of class 1.
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 5 == 0)).collect();
        let s = train_test_split(100, 0.25, 3, Some(&labels));
        assert_partition(&s, 100);
        let ones = |idx: &[usize]| idx.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!((s.test.len(), ones(&s.test)), (25, 5));
        assert_eq!((s.train.len(), ones(&s.train)), (75, 15));
        for fold in StratifiedKFold::new(5).folds(&labels) {
            assert_eq!((fold.test.len(), ones(&fold.test)), (20, 4));
        }
    }

    #[test]
    fn seeds_reproduce_and_differ() {
        assert_eq!(
            KFold::new(4).shuffle(9).folds(20),
            KFold::new(4).shuffle(9).folds(20)
        );
        assert_ne!(
            train_test_split(50, 0.2, 1, None),
            train_test_split(50, 0.2, 2, None)
        );
    }

    #[test]
    fn cv_scores_report_mean_and_population_std() {
        let cv = CvScores::new(vec![0.8, 0.9, 1.0]);
        assert!((cv.mean - 0.9).abs() < 1e-12);
        assert!((cv.std - (0.02f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(cv.to_string(), "0.9000 ± 0.0816 over 3 folds");
    }

    #[test]
    #[should_panic(expected = "train_test_split: test_fraction must be in (0, 1), got 1.5")]
    fn split_panics_on_a_bad_fraction() {
        train_test_split(10, 1.5, 0, None);
    }

    #[test]
    #[should_panic(expected = "train_test_split: 3 labels for 4 samples")]
    fn stratify_panics_on_a_label_count_mismatch() {
        train_test_split(4, 0.5, 0, Some(&[0, 1, 0]));
    }
}
