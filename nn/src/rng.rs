//! [`LayerRng`]: the random stream a layer draws from (dropout masks), with a state that
//! can be saved and restored, so that a resumed training run draws exactly what the
//! uninterrupted one would have drawn.

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use chacha20::ChaCha12Rng;
use rand::{Rng, SeedableRng};

/// A layer's seeded random stream, visited as [`Slot::Rng`](crate::Slot::Rng) so that
/// [`ModuleExt::rng_states`](crate::ModuleExt::rng_states) can save its position and
/// [`ModuleExt::set_rng_states`](crate::ModuleExt::set_rng_states) restore it.
///
/// The stream is ChaCha12 seeded as `rand`'s `StdRng::seed_from_u64(seed)` is, so a layer
/// draws the same numbers `StdRng` would; unlike `StdRng`, its whole state (seed, stream
/// and word position) can be read and set.
///
/// ```
/// use ferrograd::nn::LayerRng;
/// use rand::RngExt;
/// let rng = LayerRng::new(7);
/// let saved = rng.state();
/// let first: Vec<u32> = rng.with(|r| (0..4).map(|_| r.random()).collect());
/// rng.set_state(saved);
/// let again: Vec<u32> = rng.with(|r| (0..4).map(|_| r.random()).collect());
/// assert_eq!(first, again);
/// ```
#[derive(Debug)]
pub struct LayerRng(Mutex<ChaCha12Rng>);

impl LayerRng {
    /// A stream seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        LayerRng(Mutex::new(ChaCha12Rng::seed_from_u64(seed)))
    }

    /// Runs `f` with the generator (one caller at a time).
    pub fn with<R>(&self, f: impl FnOnce(&mut dyn Rng) -> R) -> R {
        let mut rng = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut *rng)
    }

    /// The stream's current state.
    pub fn state(&self) -> RngState {
        let rng = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        RngState(rng.serialize_state())
    }

    /// Moves the stream to `state`: the next draws are those that followed it.
    pub fn set_state(&self, state: RngState) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            ChaCha12Rng::deserialize_state(&state.0);
    }
}

/// The saved state of a [`LayerRng`]: its 32-byte seed, 64-bit stream and 68-bit word
/// position. Its text form (`Display` / `FromStr`) is 98 lowercase hex digits.
///
/// ```
/// use ferrograd::nn::{LayerRng, RngState};
/// let state = LayerRng::new(1).state();
/// assert_eq!(state.to_string().parse::<RngState>(), Ok(state));
/// assert!("12ab".parse::<RngState>().unwrap_err().to_string().contains("98 hex digits"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngState([u8; 49]);

impl fmt::Display for RngState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A random-stream state that cannot be used: text that is not one, or a set of states
/// that does not match a module's streams.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RngStateError {
    /// Text that is not 98 hex digits.
    #[error("an RNG state is 98 hex digits, got {text:?}")]
    Malformed {
        /// The text given.
        text: String,
    },
    /// A word position beyond its 68 bits (the last byte above `0f`).
    #[error("an RNG state's word position has 68 bits, got {text:?} (last byte above 0f)")]
    Position {
        /// The text given.
        text: String,
    },
    /// A state for a stream the module does not have.
    #[error("the module has no random stream `{name}`")]
    Unknown {
        /// The stream's dotted name.
        name: String,
    },
    /// No state for one of the module's streams.
    #[error("no state for the random stream `{name}`")]
    Missing {
        /// The stream's dotted name.
        name: String,
    },
}

impl FromStr for RngState {
    type Err = RngStateError;

    /// Parses the text form; the error says what is wrong with it.
    fn from_str(s: &str) -> Result<Self, RngStateError> {
        let wrong = || RngStateError::Malformed {
            text: s.to_string(),
        };
        if s.len() != 98 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(wrong());
        }
        let mut bytes = [0u8; 49];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| wrong())?;
        }
        // The word position has 68 bits: the last byte holds its top 4.
        if bytes[48] > 0x0f {
            return Err(RngStateError::Position {
                text: s.to_string(),
            });
        }
        Ok(RngState(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;

    #[test]
    fn a_layer_rng_draws_what_std_rng_draws() {
        let mut std = StdRng::seed_from_u64(42);
        let expected: Vec<u64> = (0..8).map(|_| std.next_u64()).collect();
        let drawn: Vec<u64> = LayerRng::new(42).with(|r| (0..8).map(|_| r.next_u64()).collect());
        assert_eq!(drawn, expected);
    }

    #[test]
    fn a_restored_state_continues_the_stream_mid_block() {
        let a = LayerRng::new(3);
        a.with(|r| {
            for _ in 0..5 {
                r.next_u32();
            }
        });
        let saved: RngState = a.state().to_string().parse().unwrap();
        let next: Vec<u32> = a.with(|r| (0..100).map(|_| r.next_u32()).collect());
        let b = LayerRng::new(99);
        b.set_state(saved);
        assert_eq!(
            b.with(|r| (0..100).map(|_| r.next_u32()).collect::<Vec<_>>()),
            next
        );
    }

    #[test]
    fn bad_state_text_is_refused_with_a_reason() {
        let good = LayerRng::new(0).state().to_string();
        assert_eq!(
            "".parse::<RngState>().unwrap_err().to_string(),
            "an RNG state is 98 hex digits, got \"\""
        );
        let bad = format!("{}zz", &good[..96]);
        assert!(matches!(
            bad.parse::<RngState>(),
            Err(RngStateError::Malformed { text }) if text == bad
        ));
        let high = format!("{}f0", &good[..96]);
        assert!(matches!(
            high.parse::<RngState>(),
            Err(RngStateError::Position { .. })
        ));
    }
}
