//! The model the `checkpoint` target loads arbitrary files into, and a bit-exact snapshot
//! of its state to compare before and after a load.

use ferrograd_autograd::{Float, Tensor};
use ferrograd_nn::{BatchNorm1d, Linear, ModuleExt, Sequential, init};

/// `Linear(2, 3)` then `BatchNorm1d(3)`: parameters `0.weight` `[3, 2]`, `0.bias` `[3]`,
/// `1.weight` `[3]`, `1.bias` `[3]` and buffers `1.running_mean` `[3]`, `1.running_var`
/// `[3]`. Every value is distinct from the defaults (the buffers too), so a load that
/// writes anything shows up in a [`Snapshot`].
pub fn model<T: Float>() -> Sequential<T> {
    let model = Sequential::new()
        .add(Linear::new(2, 3, &mut init::rng(0)))
        .add(BatchNorm1d::new(3));
    for (i, (_, p)) in model.state().into_iter().enumerate() {
        if i >= 2 {
            let values = (0..p.numel())
                .map(|k| T::from_f64(0.25 + i as f64 + 0.5 * k as f64))
                .collect();
            p.set_value(Tensor::from_vec(values, &p.shape()));
        }
    }
    model
}

/// The names and shapes of [`model`]'s state, in visiting order (what a valid checkpoint
/// for it holds).
pub const STATE: [(&str, &[usize]); 6] = [
    ("0.weight", &[3, 2]),
    ("0.bias", &[3]),
    ("1.weight", &[3]),
    ("1.bias", &[3]),
    ("1.running_mean", &[3]),
    ("1.running_var", &[3]),
];

/// A float type whose values compare by their bits (so NaN payloads and `-0.0` count).
pub trait Bits: Float {
    /// The value's bits, widened to `u64`.
    fn bits(self) -> u64;
}

impl Bits for f32 {
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

/// One state entry: name, shape and the values' bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The dotted name.
    pub name: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// Every value's bits, row-major.
    pub bits: Vec<u64>,
}

/// Every parameter and buffer of a module, bit for bit.
pub type Snapshot = Vec<Entry>;

/// Takes a [`Snapshot`] of `module`'s state.
pub fn snapshot<T: Bits, M: ModuleExt<T> + ?Sized>(module: &M) -> Snapshot {
    module
        .state()
        .into_iter()
        .map(|(name, p)| Entry {
            name,
            shape: p.shape(),
            bits: p.value().view().iter().map(|&v| v.bits()).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_state_is_what_state_lists() {
        let names: Vec<(String, Vec<usize>)> = snapshot(&model::<f32>())
            .into_iter()
            .map(|e| (e.name, e.shape))
            .collect();
        let expected: Vec<(String, Vec<usize>)> = STATE
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_vec()))
            .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn buffers_differ_from_their_defaults() {
        let m = model::<f64>();
        let state = m.state();
        assert_eq!(state[4].1.value().to_vec(), [4.25, 4.75, 5.25]);
        assert_eq!(state[5].1.value().to_vec(), [5.25, 5.75, 6.25]);
    }
}
