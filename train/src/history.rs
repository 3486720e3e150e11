//! [`History`]: the per-epoch logs of [`fit`](crate::fit), saved as CSV or JSON or plotted.

use std::path::Path;

use ferrograd_nn::serialize::write_atomic;

use crate::callbacks::Logs;
use crate::error::PlotError;

/// The per-epoch logs of a [`fit`](crate::fit).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per epoch run.
    pub epochs: Vec<Logs>,
    /// The optimizer's trainable parameters that got no gradient in some batch and were not
    /// updated then, by name (`0.bias`), in the order first seen; `fit` also prints one
    /// warning line for each batch that adds names here (Keras: "Gradients do not exist for
    /// variables ... when minimizing the loss").
    pub without_gradient: Vec<String>,
}

impl History {
    /// The values of `key` (`"loss"`, `"val_accuracy"`, ...) per epoch (NaN in an epoch
    /// that did not log it).
    ///
    /// # Panics
    /// If no epoch logged `key` (a misspelt name), naming the keys there are.
    ///
    /// ```
    /// use ferrograd::train::History;
    /// let history = History {
    ///     epochs: vec![[("loss".to_string(), 0.5)].into(), [("loss".to_string(), 0.25)].into()],
    ///     without_gradient: vec![],
    /// };
    /// assert_eq!(history.get("loss"), [0.5, 0.25]);
    /// let typo = std::panic::catch_unwind(|| history.get("los")).unwrap_err();
    /// assert_eq!(
    ///     typo.downcast_ref::<String>().unwrap(),
    ///     r#"History::get: no epoch logged "los"; the keys are ["loss"]"#
    /// );
    /// ```
    #[track_caller]
    pub fn get(&self, key: &str) -> Vec<f64> {
        assert!(
            self.epochs.is_empty() || self.epochs.iter().any(|l| l.contains_key(key)),
            "History::get: no epoch logged {key:?}; the keys are {:?}",
            self.keys()
        );
        self.epochs
            .iter()
            .map(|l| l.get(key).copied().unwrap_or(f64::NAN))
            .collect()
    }

    /// Every key logged.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.epochs.iter().flat_map(|l| l.keys().cloned()).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The history as CSV: an `epoch` column and one column per key.
    pub fn to_csv(&self) -> String {
        let keys = self.keys();
        let mut out = format!("epoch,{}\n", keys.join(","));
        for (e, logs) in self.epochs.iter().enumerate() {
            let row: Vec<String> = keys
                .iter()
                .map(|k| logs.get(k).map_or(String::new(), |v| v.to_string()))
                .collect();
            out.push_str(&format!("{e},{}\n", row.join(",")));
        }
        out
    }

    /// The history as JSON, `{"loss": [..], "val_loss": [..]}` as Keras' `history.history`
    /// (NaN and infinities become `null`).
    pub fn to_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .keys()
            .into_iter()
            .map(|k| {
                let values = self
                    .get(&k)
                    .into_iter()
                    .map(|v| serde_json::json!(v))
                    .collect();
                (k, serde_json::Value::Array(values))
            })
            .collect();
        serde_json::to_string_pretty(&map).expect("a map of numbers serialises")
    }

    /// Writes [`History::to_csv`] or [`History::to_json`] to `path`, by its extension
    /// (`.json`, else CSV), atomically ([`write_atomic`]): `path` holds the old history or
    /// the new one, never a truncated file.
    ///
    /// # Errors
    /// An I/O error naming `path` if it cannot be written or is not a regular file.
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let path = path.as_ref();
        let text = if path.extension().is_some_and(|e| e == "json") {
            self.to_json()
        } else {
            self.to_csv()
        };
        write_atomic(path, |w| w.write_all(text.as_bytes())).map_err(std::io::Error::other)
    }
}

impl History {
    /// Plots the curves to an SVG file a browser opens: one panel per quantity (`loss`,
    /// each metric, `lr`), its training curve in blue and its `val_` curve in red.
    ///
    /// # Errors
    /// [`PlotError::Empty`] if there is nothing to plot, [`PlotError::Io`] if the file
    /// cannot be written, [`PlotError::Backend`] if drawing fails otherwise; each names
    /// the file.
    ///
    /// ```
    /// use ferrograd::train::{History, Logs};
    /// let mut history = History::default();
    /// for (loss, val) in [(1.0, 1.2), (0.5, 0.7), (0.3, 0.6)] {
    ///     history.epochs.push(Logs::from([("loss".to_string(), loss), ("val_loss".to_string(), val)]));
    /// }
    /// let path = std::env::temp_dir().join("ferrograd-doc-history.svg");
    /// history.plot(&path).unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
    /// let err = History::default().plot(&path).unwrap_err();
    /// assert!(err.to_string().ends_with("ferrograd-doc-history.svg: the history is empty"));
    /// ```
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        use plotters::prelude::*;
        let path = path.as_ref();
        let err = |e: DrawingAreaErrorKind<std::io::Error>| plot_error(path, e);
        let keys = self.keys();
        let panels: Vec<&String> = keys.iter().filter(|k| !k.starts_with("val_")).collect();
        if panels.is_empty() || self.epochs.is_empty() {
            return Err(PlotError::Empty {
                path: path.to_path_buf(),
            });
        }
        let height = 260 * panels.len() as u32;
        let root = SVGBackend::new(path, (720, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((panels.len(), 1));
        for (area, key) in areas.iter().zip(panels) {
            let series: Vec<(String, Vec<f64>, RGBColor)> =
                [(key.clone(), BLUE), (format!("val_{key}"), RED)]
                    .into_iter()
                    .filter(|(k, _)| keys.contains(k))
                    .map(|(k, c)| {
                        let v = self.get(&k);
                        (k, v, c)
                    })
                    .collect();
            let finite = series
                .iter()
                .flat_map(|(_, v, _)| v.iter().copied())
                .filter(|v| v.is_finite());
            let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            // A constant series (a fixed learning rate) gets a range around its value, not
            // one from it to value + 1 with the line flat along the bottom.
            let (lo, hi) = match (lo.is_finite(), hi > lo) {
                (false, _) => (0.0, 1.0),
                (true, true) => (lo, hi),
                (true, false) => {
                    let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.5 };
                    (lo - half, lo + half)
                }
            };
            let pad = (hi - lo) * 0.05;
            // Epochs from 1, as the progress lines count them.
            let epochs = self.epochs.len().max(2);
            let mut chart = ChartBuilder::on(area)
                .caption(key.as_str(), ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(1f64..epochs as f64, (lo - pad)..(hi + pad))
                .map_err(err)?;
            chart.configure_mesh().x_desc("epoch").draw().map_err(err)?;
            for (name, values, color) in series {
                let points = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(e, &v)| ((e + 1) as f64, v));
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(err)?
                    .label(name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)
    }
}

/// A plotting failure as a [`PlotError`] naming `path`: the SVG backend's I/O error as
/// [`PlotError::Io`], anything else as [`PlotError::Backend`].
fn plot_error(
    path: &Path,
    e: plotters::drawing::DrawingAreaErrorKind<std::io::Error>,
) -> PlotError {
    use plotters::drawing::DrawingAreaErrorKind;
    use plotters_backend::DrawingErrorKind;
    let path = path.to_path_buf();
    match e {
        DrawingAreaErrorKind::BackendError(DrawingErrorKind::DrawingError(source)) => {
            PlotError::Io { path, source }
        }
        other => PlotError::Backend {
            path,
            source: Box::new(other),
        },
    }
}
