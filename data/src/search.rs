//! Hyperparameter search: grid search and seeded random search over a parameter space, each
//! optionally cross-validated, returning a table sorted best first (as scikit-learn's
//! `GridSearchCV` / `RandomizedSearchCV` `cv_results_`).
//!
//! ```
//! use ferrograd::data::search::{Grid, grid_search};
//! // Find the x and y maximising −(x − 2)² − (y − 1)².
//! let grid = Grid::new().add("x", [1.0, 2.0, 3.0]).add("y", [0.0, 1.0]);
//! let results = grid_search(&grid, |p| -(p.f64("x") - 2.0).powi(2) - (p.f64("y") - 1.0).powi(2));
//! assert_eq!(results.best().params.f64("x"), 2.0);
//! println!("{results}");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::split::{CvScores, Fold, cross_validate};

/// One hyperparameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A whole number (layer width, epochs).
    Int(i64),
    /// A real number (learning rate).
    Float(f64),
    /// A choice by name (optimizer, activation).
    Text(String),
}

/// Floats show 4 significant digits (`lr=0.0177`, not `lr=0.017701712677876437`): a random
/// search's draws are for reading; the values themselves are kept whole.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => {
                let rounded: f64 = format!("{v:.3e}").parse().unwrap_or(*v);
                write!(f, "{rounded}")
            }
            Value::Text(v) => write!(f, "{v}"),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(v as i64)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

/// A set of named hyperparameter values: one point of the search.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(BTreeMap<String, Value>);

impl Params {
    /// The value of `name`.
    ///
    /// # Panics
    /// If there is no parameter `name`.
    #[track_caller]
    pub fn get(&self, name: &str) -> &Value {
        self.0.get(name).unwrap_or_else(|| {
            panic!(
                "Params: no parameter `{name}` (have {:?})",
                self.0.keys().collect::<Vec<_>>()
            )
        })
    }

    /// `name` as a real number (whole numbers convert).
    ///
    /// # Panics
    /// If there is no such parameter or it is text.
    #[track_caller]
    pub fn f64(&self, name: &str) -> f64 {
        match self.get(name) {
            Value::Float(v) => *v,
            Value::Int(v) => *v as f64,
            Value::Text(t) => panic!("Params: `{name}` is the text `{t}`, not a number"),
        }
    }

    /// `name` as a count.
    ///
    /// # Panics
    /// If there is no such parameter or it is not a non-negative whole number.
    #[track_caller]
    pub fn usize(&self, name: &str) -> usize {
        match self.get(name) {
            Value::Int(v) if *v >= 0 => *v as usize,
            other => panic!("Params: `{name}` is {other:?}, not a count"),
        }
    }

    /// `name` as text.
    ///
    /// # Panics
    /// If there is no such parameter or it is a number.
    #[track_caller]
    pub fn str(&self, name: &str) -> &str {
        match self.get(name) {
            Value::Text(t) => t,
            other => panic!("Params: `{name}` is {other:?}, not text"),
        }
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// A grid: every combination of the listed values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grid {
    axes: Vec<(String, Vec<Value>)>,
}

impl Grid {
    /// An empty grid (one point with no parameters).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parameter and the values to try.
    ///
    /// # Panics
    /// If `values` is empty.
    pub fn add<V: Into<Value>>(mut self, name: &str, values: impl IntoIterator<Item = V>) -> Self {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
        assert!(!values.is_empty(), "Grid: no values for `{name}`");
        self.axes.push((name.to_string(), values));
        self
    }

    /// Every combination, the last parameter varying fastest.
    pub fn points(&self) -> Vec<Params> {
        self.axes
            .iter()
            .fold(vec![Params::default()], |acc, (name, values)| {
                acc.iter()
                    .flat_map(|p| {
                        values.iter().map(move |v| {
                            let mut q = p.clone();
                            q.0.insert(name.clone(), v.clone());
                            q
                        })
                    })
                    .collect()
            })
    }
}

/// A distribution to draw a parameter from in [`random_search`].
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// One of the values, uniformly.
    Choice(Vec<Value>),
    /// A real number uniform on `[low, high)`.
    Uniform(f64, f64),
    /// A real number whose logarithm is uniform on `[ln low, ln high)` (learning rates).
    LogUniform(f64, f64),
    /// A whole number uniform on `low..=high`.
    IntRange(i64, i64),
}

impl Dist {
    fn sample(&self, rng: &mut StdRng) -> Value {
        match self {
            Dist::Choice(values) => values[rng.random_range(0..values.len())].clone(),
            Dist::Uniform(lo, hi) => Value::Float(rng.random_range(*lo..*hi)),
            Dist::LogUniform(lo, hi) => Value::Float(rng.random_range(lo.ln()..hi.ln()).exp()),
            Dist::IntRange(lo, hi) => Value::Int(rng.random_range(*lo..=*hi)),
        }
    }
}

/// One evaluated point.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchRow {
    /// The parameters.
    pub params: Params,
    /// The score (the cross-validation mean when cross-validated); higher is better.
    pub score: f64,
    /// The per-fold scores, when cross-validated.
    pub cv: Option<CvScores>,
}

/// Search results, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResults {
    /// The evaluated points, sorted by score, highest first (NaN scores last).
    pub rows: Vec<SearchRow>,
}

impl SearchResults {
    fn sorted(mut rows: Vec<SearchRow>) -> Self {
        rows.sort_by(|a, b| match (a.score.is_nan(), b.score.is_nan()) {
            (false, false) => b.score.total_cmp(&a.score),
            (x, y) => x.cmp(&y),
        });
        SearchResults { rows }
    }

    /// The best point.
    ///
    /// # Panics
    /// If nothing was evaluated.
    pub fn best(&self) -> &SearchRow {
        self.rows
            .first()
            .expect("SearchResults: no points were evaluated")
    }
}

impl fmt::Display for SearchResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:>4}  {:>10}  {:>10}  params", "rank", "score", "std")?;
        for (i, row) in self.rows.iter().enumerate() {
            let std = row
                .cv
                .as_ref()
                .map_or("-".to_string(), |cv| format!("{:.4}", cv.std));
            writeln!(
                f,
                "{:>4}  {:>10.4}  {:>10}  {}",
                i + 1,
                row.score,
                std,
                row.params
            )?;
        }
        Ok(())
    }
}

/// Scores every point of `grid` with `score` (higher is better).
pub fn grid_search(grid: &Grid, mut score: impl FnMut(&Params) -> f64) -> SearchResults {
    SearchResults::sorted(
        grid.points()
            .into_iter()
            .map(|params| SearchRow {
                score: score(&params),
                params,
                cv: None,
            })
            .collect(),
    )
}

/// Cross-validated grid search: `fit_and_score(params, split)` trains on `split.train` and
/// scores on `split.test`; a point's score is its mean over `splits`.
///
/// ```
/// use ferrograd::data::search::{Grid, grid_search_cv};
/// use ferrograd::data::split::KFold;
/// let y: Vec<f64> = (0..12).map(|i| i as f64).collect();
/// // Shrink the training mean by `alpha`; score by negative squared error.
/// let results = grid_search_cv(&Grid::new().add("alpha", [0.0, 0.5, 1.0]), &KFold::new(3).shuffle(0).folds(12), |p, s| {
///     let mean = s.train.iter().map(|&i| y[i]).sum::<f64>() / s.train.len() as f64 * (1.0 - p.f64("alpha"));
///     -s.test.iter().map(|&i| (y[i] - mean).powi(2)).sum::<f64>()
/// });
/// assert_eq!(results.best().params.f64("alpha"), 0.0);
/// assert_eq!(results.rows[0].cv.as_ref().unwrap().scores.len(), 3);
/// ```
pub fn grid_search_cv(
    grid: &Grid,
    splits: &[Fold],
    mut fit_and_score: impl FnMut(&Params, &Fold) -> f64,
) -> SearchResults {
    evaluate_cv(grid.points(), splits, &mut fit_and_score)
}

fn evaluate_cv(
    points: Vec<Params>,
    splits: &[Fold],
    fit_and_score: &mut impl FnMut(&Params, &Fold) -> f64,
) -> SearchResults {
    SearchResults::sorted(
        points
            .into_iter()
            .map(|params| {
                let cv = cross_validate(splits, |_, s| fit_and_score(&params, s));
                SearchRow {
                    score: cv.mean,
                    params,
                    cv: Some(cv),
                }
            })
            .collect(),
    )
}

/// `n_iter` points drawn from `space` with `seed`.
pub fn sample_points(space: &[(&str, Dist)], n_iter: usize, seed: u64) -> Vec<Params> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n_iter)
        .map(|_| {
            Params(
                space
                    .iter()
                    .map(|(name, dist)| (name.to_string(), dist.sample(&mut rng)))
                    .collect(),
            )
        })
        .collect()
}

/// Scores `n_iter` points drawn from `space` with `seed`.
///
/// ```
/// use ferrograd::data::search::{Dist, random_search};
/// let space = [("lr", Dist::LogUniform(1e-4, 1e-1)), ("width", Dist::IntRange(8, 64))];
/// let results = random_search(&space, 20, 0, |p| -(p.f64("lr").log10() + 2.0).abs());
/// assert_eq!(results.rows.len(), 20);
/// assert!((results.best().params.f64("lr").log10() + 2.0).abs() < 0.5);
/// ```
pub fn random_search(
    space: &[(&str, Dist)],
    n_iter: usize,
    seed: u64,
    mut score: impl FnMut(&Params) -> f64,
) -> SearchResults {
    SearchResults::sorted(
        sample_points(space, n_iter, seed)
            .into_iter()
            .map(|params| SearchRow {
                score: score(&params),
                params,
                cv: None,
            })
            .collect(),
    )
}

/// Cross-validated random search (see [`grid_search_cv`]).
pub fn random_search_cv(
    space: &[(&str, Dist)],
    n_iter: usize,
    seed: u64,
    splits: &[Fold],
    mut fit_and_score: impl FnMut(&Params, &Fold) -> f64,
) -> SearchResults {
    evaluate_cv(
        sample_points(space, n_iter, seed),
        splits,
        &mut fit_and_score,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_points_cover_every_combination_in_order() {
        let g = Grid::new().add("a", [1, 2]).add("b", ["x", "y", "z"]);
        let pts = g.points();
        assert_eq!(pts.len(), 6);
        assert_eq!(pts[1].to_string(), "a=1, b=y");
        assert_eq!(pts[3].usize("a"), 2);
        assert_eq!(pts[5].str("b"), "z");
    }

    #[test]
    fn results_are_sorted_best_first_with_nan_last() {
        let g = Grid::new().add("s", [1.0, f64::NAN, 3.0, 2.0]);
        let r = grid_search(&g, |p| p.f64("s"));
        let scores: Vec<f64> = r.rows.iter().map(|r| r.score).collect();
        assert_eq!(scores[..3], [3.0, 2.0, 1.0]);
        assert!(scores[3].is_nan());
        let table = r.to_string();
        assert!(
            table.contains("   1      3.0000           -  s=3\n"),
            "{table}"
        );
    }

    #[test]
    fn random_search_is_reproducible_and_in_range() {
        let space = [
            ("u", Dist::Uniform(2.0, 3.0)),
            ("c", Dist::Choice(vec!["a".into(), "b".into()])),
        ];
        assert_eq!(sample_points(&space, 10, 4), sample_points(&space, 10, 4));
        for p in sample_points(&space, 50, 1) {
            assert!((2.0..3.0).contains(&p.f64("u")));
            assert!(["a", "b"].contains(&p.str("c")));
        }
    }

    #[test]
    #[should_panic(expected = "Params: no parameter `lr` (have [\"a\"])")]
    fn params_panic_on_an_unknown_name() {
        Grid::new().add("a", [1]).points()[0].get("lr");
    }

    #[test]
    fn floats_show_four_significant_digits() {
        let shown = |v: f64| Value::Float(v).to_string();
        assert_eq!(shown(0.017701712677876437), "0.0177");
        assert_eq!(shown(0.001), "0.001");
        assert_eq!(shown(3e-4), "0.0003");
        assert_eq!(shown(1234.5678), "1235");
        assert_eq!(shown(f64::NAN), "NaN");
    }
}
