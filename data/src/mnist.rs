//! MNIST (and Fashion-MNIST, which uses the same files) from a directory of IDX files.

use std::path::Path;

use ferrograd_autograd::Tensor;

use crate::dataset::{Targets, TensorDataset};
use crate::error::{Error, Result};
use crate::idx::{IdxType, find, read_idx};

/// Which half of MNIST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `train-images-idx3-ubyte` / `train-labels-idx1-ubyte` (60,000 images).
    Train,
    /// `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte` (10,000 images).
    Test,
}

/// The environment variable naming a directory of MNIST files, read by
/// [`Mnist::from_env`].
pub const MNIST_DIR: &str = "MNIST_DIR";

/// MNIST images and labels.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// `[N, 1, 28, 28]`, pixel values scaled to `[0, 1]`.
    pub images: Tensor<f32>,
    /// The digit of each image, `0..10`.
    pub labels: Vec<usize>,
}

impl From<Mnist> for TensorDataset<f32> {
    /// The images as inputs and the digits as class targets: what `fit` and a
    /// [`DataLoader`](crate::dataset::DataLoader) take.
    ///
    /// ```no_run
    /// use ferrograd::data::dataset::TensorDataset;
    /// use ferrograd::data::mnist::{Mnist, Split};
    /// let train = TensorDataset::from(Mnist::load("data/mnist", Split::Train)?);
    /// assert_eq!(train.x().shape(), &[60_000, 1, 28, 28]);
    /// # Ok::<(), ferrograd::data::Error>(())
    /// ```
    fn from(mnist: Mnist) -> Self {
        TensorDataset::new(mnist.images, Targets::Classes(mnist.labels))
    }
}

impl Mnist {
    /// Loads a split from `dir`, which holds the four original files, raw or `.gz` (the
    /// form they are downloaded in).
    ///
    /// # Errors
    /// [`Error::Io`] for a missing file; [`Error::Format`] for a corrupt or truncated one, or
    /// one that is not MNIST-shaped (images `[N, H, W]` of bytes, labels `[N]` below 10).
    ///
    /// ```no_run
    /// use ferrograd::data::mnist::{Mnist, Split};
    /// let test = Mnist::load("data/mnist", Split::Test)?;
    /// assert_eq!(test.images.shape(), &[10_000, 1, 28, 28]);
    /// # Ok::<(), ferrograd::data::Error>(())
    /// ```
    pub fn load(dir: impl AsRef<Path>, split: Split) -> Result<Self> {
        let dir = dir.as_ref();
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"));
        let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"));
        let images = read_idx(&images_path)?;
        let labels = read_idx(&labels_path)?;
        let &[n, h, w] = images.shape.as_slice() else {
            return Err(Error::format(
                &images_path,
                3,
                format!(
                    "images must have 3 dimensions [N, H, W], found {:?}",
                    images.shape
                ),
            ));
        };
        if images.dtype != IdxType::U8 || labels.dtype != IdxType::U8 {
            return Err(Error::format(
                &images_path,
                2,
                "MNIST images and labels are unsigned bytes (type 0x08)".to_string(),
            ));
        }
        if labels.shape != [n] {
            return Err(Error::format(
                &labels_path,
                4,
                format!("{:?} labels for {n} images", labels.shape),
            ));
        }
        let header = 8;
        if let Some(at) = labels.bytes.iter().position(|&l| l > 9) {
            return Err(Error::format(
                &labels_path,
                (header + at) as u64,
                format!("label {} is not a digit", labels.bytes[at]),
            ));
        }
        let pixels = images.bytes.iter().map(|&p| p as f32 / 255.0).collect();
        Ok(Mnist {
            images: Tensor::from_vec(pixels, &[n, 1, h, w]),
            labels: labels.bytes.iter().map(|&l| l as usize).collect(),
        })
    }

    /// Loads a split from the directory in the `MNIST_DIR` environment variable, or `None`
    /// if it is not set.
    ///
    /// # Errors
    /// As [`Mnist::load`].
    pub fn from_env(split: Split) -> Result<Option<Self>> {
        match std::env::var_os(MNIST_DIR) {
            Some(dir) => Self::load(dir, split).map(Some),
            None => Ok(None),
        }
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::{Idx, write_idx};
    use std::path::PathBuf;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ferrograd-mnist-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write(dir: &Path, n: usize, labels: Vec<u8>) {
        let images = Idx {
            shape: vec![n, 2, 2],
            dtype: IdxType::U8,
            bytes: (0..n * 4).map(|i| (i * 17 % 256) as u8).collect(),
        };
        write_idx(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
        let labels = Idx {
            shape: vec![labels.len()],
            dtype: IdxType::U8,
            bytes: labels,
        };
        write_idx(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    }

    #[test]
    fn loads_images_scaled_and_labels() {
        let d = dir("ok");
        write(&d, 3, vec![7, 0, 9]);
        let m = Mnist::load(&d, Split::Test).unwrap();
        assert_eq!(m.images.shape(), &[3, 1, 2, 2]);
        assert_eq!(m.labels, vec![7, 0, 9]);
        assert_eq!(m.images.get(&[0, 0, 0, 1]), 17.0 / 255.0);
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn rejects_mismatched_counts_and_bad_labels() {
        let d = dir("bad");
        write(&d, 3, vec![1, 2]);
        let e = Mnist::load(&d, Split::Test).unwrap_err().to_string();
        assert!(
            e.ends_with("t10k-labels-idx1-ubyte: byte 4: [2] labels for 3 images"),
            "{e}"
        );
        write(&d, 2, vec![1, 12]);
        let e = Mnist::load(&d, Split::Test).unwrap_err().to_string();
        assert!(
            e.ends_with("t10k-labels-idx1-ubyte: byte 9: label 12 is not a digit"),
            "{e}"
        );
        let e = Mnist::load(&d, Split::Train).unwrap_err().to_string();
        assert!(e.contains("train-images-idx3-ubyte: "), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    /// The real MNIST test set, from `MNIST_DIR` or the workspace's sibling `shared/` folder;
    /// skipped (with a note) where neither exists.
    #[test]
    fn the_real_test_set_has_the_published_shape_and_label_counts() {
        let dir = std::env::var_os(MNIST_DIR)
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist")
            });
        if !find(&dir, "t10k-images-idx3-ubyte").exists() {
            eprintln!("skipped: no MNIST files in {}", dir.display());
            return;
        }
        let m = Mnist::load(&dir, Split::Test).unwrap();
        assert_eq!(m.images.shape(), &[10_000, 1, 28, 28]);
        let mut counts = [0usize; 10];
        m.labels.iter().for_each(|&l| counts[l] += 1);
        // The published class counts of the MNIST test set.
        assert_eq!(
            counts,
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        );
    }
}
