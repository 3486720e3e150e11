//! The collective interface every backend implements ([`Collective`]), the values it moves
//! ([`Values`]) and what it fails with ([`CommError`]).

use std::any::Any;

use ferrograd_autograd::Float;

/// A mutable run of `f32` or `f64` values that a collective reads and overwrites: a bucket
/// of gradients, a parameter's values. Built with `From` from a slice of either float type,
/// or from a `Vec<T>` of the model's float type with [`Values::of`].
///
/// ```
/// use ferrograd::train::distributed::Values;
/// let mut grads = vec![1.0f32, 2.0];
/// assert_eq!(Values::from(&mut grads[..]).len(), 2);
/// let mut generic = vec![0.5f64; 3];
/// assert_eq!(Values::of(&mut generic).len(), 3);
/// ```
#[derive(Debug)]
pub enum Values<'a> {
    /// Single precision.
    F32(&'a mut [f32]),
    /// Double precision.
    F64(&'a mut [f64]),
}

impl<'a> Values<'a> {
    /// The values of a vector of a [`Float`] type (`f32` or `f64`).
    // A `Vec`, not a slice: `Any` tells `f32` from `f64` only on a sized type.
    #[allow(clippy::ptr_arg)]
    pub fn of<T: Float>(values: &'a mut Vec<T>) -> Self {
        let any: &'a mut dyn Any = values;
        if any.is::<Vec<f32>>() {
            Values::F32(any.downcast_mut::<Vec<f32>>().expect("checked"))
        } else {
            let values = any
                .downcast_mut::<Vec<f64>>()
                .unwrap_or_else(|| panic!("Values::of: {} is neither f32 nor f64", T::DTYPE));
            Values::F64(values)
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `"f32"` or `"f64"`.
    pub fn dtype(&self) -> &'static str {
        match self {
            Values::F32(_) => "f32",
            Values::F64(_) => "f64",
        }
    }
}

impl<'a> From<&'a mut [f32]> for Values<'a> {
    fn from(values: &'a mut [f32]) -> Self {
        Values::F32(values)
    }
}

impl<'a> From<&'a mut [f64]> for Values<'a> {
    fn from(values: &'a mut [f64]) -> Self {
        Values::F64(values)
    }
}

/// The collectives data-parallel training needs, over a fixed group of `world_size` ranks
/// numbered from 0. Every rank calls the same collectives in the same order with the same
/// lengths; a rank that calls another one, or another length, makes every rank's call fail
/// with [`CommError::Mismatch`], and a rank that leaves the group (its thread or process
/// ended or failed) makes the others' calls fail with [`CommError::RankGone`]: a mistake
/// ends with an error on every rank, never a hang.
///
/// Two implementations: [`ThreadComm`](super::ThreadComm), workers as threads of one
/// process ([`ThreadGroup`](super::ThreadGroup)), and `MpiComm` (cargo feature `mpi`),
/// ranks as processes started by `mpirun`, on one machine or many.
///
/// **Determinism.** [`all_reduce_sum`](Collective::all_reduce_sum) adds the ranks'
/// values in rank order, `((v₀ + v₁) + v₂) + …`, element by element, whatever the
/// backend: the result is bit for bit the same on every rank, from run to run, and from
/// one backend to the other.
///
/// ```
/// use ferrograd::train::distributed::{Collective, ThreadGroup, Values};
/// let sums = ThreadGroup::new(3)
///     .run(|comm| {
///         let mut v = vec![comm.rank() as f32, 1.0];
///         comm.all_reduce_sum(Values::from(&mut v[..])).unwrap();
///         v
///     })
///     .unwrap();
/// assert_eq!(sums, vec![vec![3.0, 3.0]; 3]);
/// ```
pub trait Collective {
    /// This rank, from 0.
    fn rank(&self) -> usize;

    /// The number of ranks.
    fn world_size(&self) -> usize;

    /// Replaces `values` on every rank by their sum over the ranks, added in rank order.
    ///
    /// # Errors
    /// [`CommError`] if a rank left, or the ranks disagree on the call or the length.
    fn all_reduce_sum(&self, values: Values<'_>) -> Result<(), CommError>;

    /// Replaces `values` on every rank by rank `root`'s.
    ///
    /// # Errors
    /// [`CommError`] if a rank left, the ranks disagree on the call, the root or the
    /// length, or `root` is not a rank.
    fn broadcast(&self, values: Values<'_>, root: usize) -> Result<(), CommError>;

    /// Every rank's `bytes`, in rank order (they may differ in length): how ranks compare
    /// their models and share their errors.
    ///
    /// # Errors
    /// [`CommError`] if a rank left or the ranks disagree on the call.
    fn all_gather_bytes(&self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, CommError>;

    /// Returns when every rank has called it.
    ///
    /// # Errors
    /// [`CommError`] if a rank left or the ranks disagree on the call.
    fn barrier(&self) -> Result<(), CommError>;
}

/// What a collective failed with. Every rank of the group gets an error for the same call;
/// the message names the rank at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CommError {
    /// A rank left the group (its worker returned, panicked or its process died) while
    /// this one waited for it in a collective.
    #[error("{op}: rank {rank} left the group ({reason}) while rank {waiting} waited for it")]
    RankGone {
        /// The collective.
        op: &'static str,
        /// The rank that left.
        rank: usize,
        /// Why it left: `finished`, `panicked: …`.
        reason: String,
        /// The rank reporting.
        waiting: usize,
    },
    /// The ranks called different collectives, or the same one with different lengths,
    /// types or roots.
    #[error("the ranks disagree: {detail}")]
    Mismatch {
        /// Each call, by rank (`rank 0 called all_reduce_sum of 10 f32, rank 1 called barrier`).
        detail: String,
    },
    /// The broadcast root is not a rank of the group.
    #[error("broadcast: root {root} is not a rank of a group of {world_size}")]
    BadRoot {
        /// The root asked for.
        root: usize,
        /// The group's size.
        world_size: usize,
    },
    /// The transport (MPI) failed.
    #[error("{0}")]
    Transport(String),
}

/// One rank's call, compared across ranks before any data moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Call {
    /// The collective's name.
    pub op: &'static str,
    /// `"f32"`, `"f64"` or `"bytes"`.
    pub dtype: &'static str,
    /// The number of values (0 for `all_gather_bytes` and `barrier`, whose lengths may differ).
    pub len: usize,
    /// The broadcast root (0 otherwise).
    pub root: usize,
}

impl Call {
    pub(crate) fn of(op: &'static str, values: Option<&Values<'_>>, root: usize) -> Self {
        Call {
            op,
            dtype: values.map_or("bytes", Values::dtype),
            len: values.map_or(0, Values::len),
            root,
        }
    }

    /// A compact form for exchanging over a byte transport.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn encode(&self) -> [u64; 4] {
        let op = OPS.iter().position(|o| *o == self.op).expect("a known op") as u64;
        let dtype = DTYPES
            .iter()
            .position(|d| *d == self.dtype)
            .expect("a known dtype") as u64;
        [op, dtype, self.len as u64, self.root as u64]
    }

    /// The inverse of [`Call::encode`]; `None` for words no rank of this version sends.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn decode(words: [u64; 4]) -> Option<Self> {
        Some(Call {
            op: OPS.get(usize::try_from(words[0]).ok()?)?,
            dtype: DTYPES.get(usize::try_from(words[1]).ok()?)?,
            len: usize::try_from(words[2]).ok()?,
            root: usize::try_from(words[3]).ok()?,
        })
    }
}

const OPS: [&str; 4] = ["all_reduce_sum", "broadcast", "all_gather_bytes", "barrier"];
const DTYPES: [&str; 3] = ["f32", "f64", "bytes"];

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.op {
            "all_reduce_sum" => write!(f, "all_reduce_sum of {} {}", self.len, self.dtype),
            "broadcast" => write!(
                f,
                "broadcast of {} {} from rank {}",
                self.len, self.dtype, self.root
            ),
            op => write!(f, "{op}"),
        }
    }
}

/// Checks that every rank made the same call; the error lists each rank's.
pub(crate) fn check_calls(calls: &[Call]) -> Result<(), CommError> {
    if calls.windows(2).all(|w| w[0] == w[1]) {
        return Ok(());
    }
    let detail: Vec<String> = calls
        .iter()
        .enumerate()
        .map(|(rank, call)| format!("rank {rank} called {call}"))
        .collect();
    Err(CommError::Mismatch {
        detail: detail.join(", "),
    })
}

/// The rank-order sum every backend uses: `out` becomes `parts[0] + parts[1] + …`, added
/// left to right element by element.
pub(crate) fn sum_in_rank_order<'p, T: Copy + std::ops::AddAssign + 'p>(
    out: &mut [T],
    mut parts: impl Iterator<Item = &'p [T]>,
) {
    let first = parts.next().expect("at least one rank");
    out.copy_from_slice(first);
    for part in parts {
        for (o, v) in out.iter_mut().zip(part) {
            *o += *v;
        }
    }
}
