//! The UCI 8×8 handwritten digits (1,797 images, CC BY 4.0), bundled in the crate so that
//! the digit tutorials run with no download. See `data/assets/README.md` for the source,
//! licence and attribution.

use ferrograd_autograd::Tensor;

use crate::dataset::{Targets, TensorDataset};
use crate::idx::read_idx_bytes;

const IMAGES: &[u8] = include_bytes!("../assets/digits-images-idx3-ubyte.gz");
const LABELS: &[u8] = include_bytes!("../assets/digits-labels-idx1-ubyte.gz");

/// The 1,797 digit images `[1797, 1, 8, 8]`, pixels scaled from 0..16 to `[0, 1]`, with
/// their labels 0..9 — scikit-learn's `load_digits()`.
///
/// ```
/// use ferrograd::data::dataset::Dataset;
/// use ferrograd::data::digits::load_digits;
/// let digits = load_digits();
/// assert_eq!(digits.len(), 1797);
/// assert_eq!(digits.x().shape(), &[1797, 1, 8, 8]);
/// ```
pub fn load_digits() -> TensorDataset<f32> {
    let images =
        read_idx_bytes("digits-images-idx3-ubyte.gz", IMAGES).expect("bundled file is valid");
    let labels =
        read_idx_bytes("digits-labels-idx1-ubyte.gz", LABELS).expect("bundled file is valid");
    let n = labels.bytes.len();
    let pixels = images.bytes.iter().map(|&p| f32::from(p) / 16.0).collect();
    TensorDataset::new(
        Tensor::from_vec(pixels, &[n, 1, 8, 8]),
        Targets::Classes(labels.bytes.iter().map(|&l| usize::from(l)).collect()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_digits_have_the_published_shape_and_class_counts() {
        let d = load_digits();
        assert_eq!(d.x().shape(), &[1797, 1, 8, 8]);
        let mut counts = [0usize; 10];
        d.y().classes().iter().for_each(|&c| counts[c] += 1);
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        let px = d.x().to_vec();
        assert!(px.iter().all(|&p| (0.0..=1.0).contains(&p)));
        assert!(px.contains(&1.0));
        // sklearn: load_digits().images[0][0] == [0, 0, 5, 13, 9, 1, 0, 0]
        assert_eq!(
            px[..8],
            [
                0.0,
                0.0,
                5.0 / 16.0,
                13.0 / 16.0,
                9.0 / 16.0,
                1.0 / 16.0,
                0.0,
                0.0
            ]
        );
    }
}
