//! The MPI backend (cargo feature `mpi`): ranks as processes started by `mpirun`, on one
//! machine or many, talking through the system's Open MPI by way of rsmpi (the `mpi` crate).
//!
//! **Launching.** Build the program with the feature (`ferrograd`'s `mpi`, which turns on
//! `ferrograd-train`'s) and start it with `mpirun`; every process calls [`MpiComm::init`]
//! once and gets its rank of `MPI_COMM_WORLD`:
//!
//! ```text
//! cargo build --release --features mpi
//! mpirun -np 2 target/release/my-training            # two ranks on this machine
//! mpirun -np 8 --hostfile hosts target/release/my-training   # or over several
//! ```
//!
//! (Run as root, or with more ranks than cores, Open MPI also wants
//! `--allow-run-as-root --oversubscribe`.) Where the ranks share a machine Open MPI moves
//! the data through shared memory, between machines over TCP or a faster network. In a
//! container without `CAP_SYS_PTRACE`, set `OMPI_MCA_btl_vader_single_copy_mechanism=none`
//! (Open MPI otherwise prints `Read -1, expected …, errno = 1` for large messages between
//! local ranks: open-mpi/ompi#4948); our tests do.
//!
//! **Checking the calls.** Every collective starts with an all-gather of each rank's call
//! (the collective, the dtype, the length, the root: [`Call::encode`], four words) plus one
//! word of payload size; the ranks compare them with [`check_calls`] and all fail with
//! [`CommError::Mismatch`] before any data moves if they disagree. As an all-gather cannot
//! end on any rank before every rank has entered it, this exchange is also the barrier.
//!
//! **Leaving.** Dropping the last clone of a rank's [`MpiComm`] says so to the others: it
//! keeps answering their collectives with a "left" word, which they turn into
//! [`CommError::RankGone`], until every rank has dropped its communicator; then MPI is
//! finalised. A rank that panics takes every rank down with it (see [`MpiComm::init`]).
//!
//! **Summing.** [`all_reduce_sum`](Collective::all_reduce_sum) is a reduce-scatter followed
//! by an all-gather, each rank moving about `2·n·(W-1)/W` values instead of `n·(W-1)`:
//! the `n` values are cut into `W` chunks, chunk `r` holding elements
//! `[r·n/W, (r+1)·n/W)`; an all-to-all hands rank `r` chunk `r` of every rank, which it
//! adds up with [`sum_in_rank_order`], `((v₀ + v₁) + v₂) + …` element by element; an
//! all-gather then hands every rank every summed chunk. Each element is summed once, by one
//! rank, in rank order, exactly as the thread backend sums it: the result is bit for bit the
//! same on every rank and the same as [`ThreadComm`](super::ThreadComm)'s. MPI's own
//! `MPI_Allreduce` guarantees neither: the standard only advises the same result on every
//! rank, and the order of its additions depends on the algorithm Open MPI picks for the
//! message size and the number of ranks; it moves as many values as ours.

use std::fmt;
use std::ops::AddAssign;
use std::rc::Rc;

use ::mpi::Count;
use ::mpi::datatype::{Equivalence, Partition, PartitionMut};
use ::mpi::environment::{Threading, Universe};
use ::mpi::topology::{Rank, SimpleCommunicator};
use ::mpi::traits::{Communicator, CommunicatorCollectives, Root};

use super::collective::{Call, Collective, CommError, Values, check_calls, sum_in_rank_order};

/// The words exchanged per rank before each collective: the four of [`Call::encode`] and the
/// size of the rank's payload (its byte count for `all_gather_bytes`, 0 otherwise).
const WORDS: usize = 5;

/// The first word a rank sends once it has dropped its communicator; no call encodes to it.
const LEFT: u64 = u64::MAX;

/// The error code of the `MPI_Abort` a panic makes (Rust's own exit code for a panic).
const ABORT_CODE: i32 = 101;

/// One rank's handle on `MPI_COMM_WORLD`: a [`Collective`] between the processes that
/// `mpirun` started.
///
/// Made once per process by [`MpiComm::init`]; clones are handles on the same rank (an
/// `Rc`: an `MpiComm` stays on the thread that made it, the one MPI was initialised on).
/// When the last clone is dropped, the rank leaves the group (the others' collectives fail
/// with [`CommError::RankGone`]) and, once every rank has left, MPI is finalised.
///
/// The sums of [`all_reduce_sum`](Collective::all_reduce_sum) are bit for bit those of
/// [`ThreadComm`](super::ThreadComm): values are added in rank order, each by one rank.
///
/// ```no_run
/// use ferrograd::train::distributed::{Collective, MpiComm, Values};
/// // Started as `mpirun -np 2 ./program`.
/// let comm = MpiComm::init()?;
/// let mut grads = vec![comm.rank() as f32; 4];
/// comm.all_reduce_sum(Values::from(&mut grads[..]))?;
/// assert_eq!(grads, vec![1.0; 4]);
/// # Ok::<(), ferrograd::train::distributed::CommError>(())
/// ```
#[derive(Clone)]
pub struct MpiComm {
    inner: Rc<Inner>,
}

struct Inner {
    world: SimpleCommunicator,
    rank: usize,
    world_size: usize,
    /// Finalises MPI when dropped, after [`Inner`]'s `drop` has said goodbye.
    _universe: Universe,
}

impl MpiComm {
    /// Initialises MPI and returns this process's rank of `MPI_COMM_WORLD`.
    ///
    /// It also installs a panic hook (after the one already installed, which still prints
    /// the usual message) that prints `ferrograd: rank R of N panicked; aborting every
    /// rank` and calls `MPI_Abort` on the world, so that a panic on any thread of any rank
    /// ends every rank, and `mpirun` with them, rather than leave the others waiting in a
    /// collective forever. A panic that would later be caught (`catch_unwind`) aborts too:
    /// the hook runs before unwinding. Once MPI is finalised the hook does nothing more.
    ///
    /// MPI is initialised with `MPI_THREAD_FUNNELED`: the `MpiComm`, which is not `Send`,
    /// stays on the thread that called `init`; other threads (rayon's) do not call MPI.
    /// Failures inside MPI calls after `init` abort every rank (Open MPI's default
    /// `MPI_ERRORS_ARE_FATAL`), as a panic does.
    ///
    /// Started without `mpirun`, the process is rank 0 of a world of 1 (Open MPI's
    /// singleton mode). If MPI itself cannot start (a broken installation), Open MPI prints
    /// why and ends the process.
    ///
    /// # Errors
    /// [`CommError::Transport`] if MPI was already initialised in this process: by an
    /// earlier `init` (even one whose communicator has been dropped: MPI cannot be
    /// initialised twice) or by other code.
    pub fn init() -> Result<MpiComm, CommError> {
        let already = || {
            CommError::Transport(
                "MpiComm::init: MPI is already initialised in this process; it can be \
                 initialised once (call MpiComm::init once and clone the communicator)"
                    .into(),
            )
        };
        if ::mpi::is_initialized() {
            return Err(already());
        }
        // `None` only if another thread initialised MPI since the check above.
        let (universe, _threading) =
            ::mpi::initialize_with_threading(Threading::Funneled).ok_or_else(already)?;
        let world = universe.world();
        let rank = usize::try_from(world.rank()).expect("MPI ranks are not negative");
        let world_size = usize::try_from(world.size()).expect("MPI sizes are positive");
        install_abort_hook(rank, world_size);
        Ok(MpiComm {
            inner: Rc::new(Inner {
                world,
                rank,
                world_size,
                _universe: universe,
            }),
        })
    }

    /// All-gathers every rank's call and payload size; the sizes by rank, or the error
    /// every rank returns if the calls differ or a rank has left.
    fn exchange_call(&self, call: Call, size: usize) -> Result<Vec<u64>, CommError> {
        let [op, dtype, len, root] = call.encode();
        let words = self.inner.gather_words([op, dtype, len, root, size as u64]);
        read_calls(&words, call.op, self.inner.rank)
    }

    /// Reduce-scatter then all-gather (see the module doc); `values` has the same length on
    /// every rank, checked before.
    fn sum_chunks<T>(&self, values: &mut [T]) -> Result<(), CommError>
    where
        T: Equivalence + Copy + Default + AddAssign,
    {
        let (n, w, rank) = (values.len(), self.inner.world_size, self.inner.rank);
        if n == 0 || w == 1 {
            return Ok(());
        }
        count("all_reduce_sum", n)?;
        let start = |r: usize| (r as u128 * n as u128 / w as u128) as usize;
        let counts: Vec<Count> = (0..w).map(|r| (start(r + 1) - start(r)) as Count).collect();
        let displs: Vec<Count> = (0..w).map(|r| start(r) as Count).collect();
        let mine = counts[rank] as usize;
        // Reduce-scatter: chunk `rank` of every rank, in rank order.
        let mut parts = vec![T::default(); mine * w];
        let part_counts = vec![mine as Count; w];
        let part_displs: Vec<Count> = (0..w).map(|k| (k * mine) as Count).collect();
        self.inner.world.all_to_all_varcount_into(
            &Partition::new(&*values, &counts[..], &displs[..]),
            &mut PartitionMut::new(&mut parts[..], &part_counts[..], &part_displs[..]),
        );
        let mut chunk = vec![T::default(); mine];
        sum_in_rank_order(&mut chunk, (0..w).map(|k| &parts[k * mine..(k + 1) * mine]));
        // All-gather: every summed chunk to every rank.
        self.inner.world.all_gather_varcount_into(
            &chunk[..],
            &mut PartitionMut::new(values, &counts[..], &displs[..]),
        );
        Ok(())
    }
}

impl Inner {
    fn gather_words(&self, mine: [u64; WORDS]) -> Vec<u64> {
        let mut all = vec![0u64; WORDS * self.world_size];
        self.world.all_gather_into(&mine[..], &mut all[..]);
        all
    }
}

impl Drop for Inner {
    /// Leaves the group: answers the other ranks' collectives with [`LEFT`] until every
    /// rank has left too, so that none waits for this one and `MPI_Finalize` (when
    /// `_universe` drops next) finds them all there.
    fn drop(&mut self) {
        loop {
            let all = self.gather_words([LEFT, 0, 0, 0, 0]);
            if all.chunks_exact(WORDS).all(|w| w[0] == LEFT) {
                break;
            }
        }
    }
}

/// Reads every rank's words of [`MpiComm::exchange_call`] (rank `waiting` calling `op`):
/// their payload sizes if every rank made the same call, else why not, which every rank
/// reads alike from the same words.
fn read_calls(words: &[u64], op: &'static str, waiting: usize) -> Result<Vec<u64>, CommError> {
    let by_rank = || words.chunks_exact(WORDS).enumerate();
    if let Some((gone, _)) = by_rank().find(|(_, w)| w[0] == LEFT) {
        return Err(CommError::RankGone {
            op,
            rank: gone,
            reason: "it dropped its MpiComm".into(),
            waiting,
        });
    }
    let decoded: Vec<Option<Call>> = by_rank()
        .map(|(_, w)| Call::decode([w[0], w[1], w[2], w[3]]))
        .collect();
    if decoded.iter().any(Option::is_none) {
        let detail: Vec<String> = by_rank()
            .zip(&decoded)
            .map(|((rank, w), call)| match call {
                Some(call) => format!("rank {rank} called {call}"),
                None => format!(
                    "rank {rank} sent {:?}, which is no call of this ferrograd",
                    &w[..4]
                ),
            })
            .collect();
        return Err(CommError::Mismatch {
            detail: detail.join(", "),
        });
    }
    let calls: Vec<Call> = decoded.into_iter().flatten().collect();
    check_calls(&calls)?;
    Ok(by_rank().map(|(_, w)| w[WORDS - 1]).collect())
}

/// `n` as an MPI count (a C `int`), or the error every rank returns.
fn count(op: &str, n: usize) -> Result<Count, CommError> {
    Count::try_from(n).map_err(|_| {
        CommError::Transport(format!(
            "{op}: {n} elements are more than MPI's limit of {} per message",
            Count::MAX
        ))
    })
}

/// Chains a panic hook that aborts every rank (see [`MpiComm::init`]).
fn install_abort_hook(rank: usize, world_size: usize) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        if ::mpi::is_initialized() && !::mpi::is_finalized() {
            eprintln!("ferrograd: rank {rank} of {world_size} panicked; aborting every rank");
            // From whichever thread panicked: outside FUNNELED's letter, but an abort
            // is what Open MPI must handle from anywhere, and the alternative is a hang.
            SimpleCommunicator::world().abort(ABORT_CODE);
        }
    }));
}

impl fmt::Debug for MpiComm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpiComm")
            .field("rank", &self.inner.rank)
            .field("world_size", &self.inner.world_size)
            .finish()
    }
}

impl Collective for MpiComm {
    fn rank(&self) -> usize {
        self.inner.rank
    }

    fn world_size(&self) -> usize {
        self.inner.world_size
    }

    fn all_reduce_sum(&self, values: Values<'_>) -> Result<(), CommError> {
        self.exchange_call(Call::of("all_reduce_sum", Some(&values), 0), 0)?;
        match values {
            Values::F32(v) => self.sum_chunks(v),
            Values::F64(v) => self.sum_chunks(v),
        }
    }

    fn broadcast(&self, values: Values<'_>, root: usize) -> Result<(), CommError> {
        // The calls first, so that ranks that disagree on the root all get `Mismatch`
        // and ranks that agree on a bad one all get `BadRoot`: none is left waiting.
        self.exchange_call(Call::of("broadcast", Some(&values), root), 0)?;
        let world_size = self.inner.world_size;
        if root >= world_size {
            return Err(CommError::BadRoot { root, world_size });
        }
        if values.is_empty() || world_size == 1 {
            return Ok(());
        }
        count("broadcast", values.len())?;
        let root = self.inner.world.process_at_rank(root as Rank);
        match values {
            Values::F32(v) => root.broadcast_into(v),
            Values::F64(v) => root.broadcast_into(v),
        }
        Ok(())
    }

    fn all_gather_bytes(&self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, CommError> {
        let lens = self.exchange_call(Call::of("all_gather_bytes", None, 0), bytes.len())?;
        let lens: Vec<usize> = lens.into_iter().map(|l| l as usize).collect();
        let total: usize = lens.iter().sum();
        count("all_gather_bytes", total)?;
        let mut all = vec![0u8; total];
        if total > 0 {
            let counts: Vec<Count> = lens.iter().map(|&l| l as Count).collect();
            let displs: Vec<Count> = lens
                .iter()
                .scan(0, |at, &l| {
                    let d = *at;
                    *at += l;
                    Some(d as Count)
                })
                .collect();
            self.inner.world.all_gather_varcount_into(
                bytes,
                &mut PartitionMut::new(&mut all[..], &counts[..], &displs[..]),
            );
        }
        let mut rest = &all[..];
        Ok(lens
            .iter()
            .map(|&l| {
                let (part, tail) = rest.split_at(l);
                rest = tail;
                part.to_vec()
            })
            .collect())
    }

    fn barrier(&self) -> Result<(), CommError> {
        // The exchange of calls is an all-gather, which no rank leaves before every rank
        // has entered it: a barrier already, so no `MPI_Barrier` after it.
        self.exchange_call(Call::of("barrier", None, 0), 0)
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(call: Call, size: u64) -> Vec<u64> {
        let [a, b, c, d] = call.encode();
        vec![a, b, c, d, size]
    }

    fn sum_of(len: usize) -> Call {
        Call {
            op: "all_reduce_sum",
            dtype: "f32",
            len,
            root: 0,
        }
    }

    #[test]
    fn read_calls_returns_the_sizes_of_matching_calls() {
        let gather = Call::of("all_gather_bytes", None, 0);
        let all = [words(gather, 3), words(gather, 0), words(gather, 7)].concat();
        assert_eq!(read_calls(&all, "all_gather_bytes", 1), Ok(vec![3, 0, 7]));
    }

    #[test]
    fn read_calls_names_every_ranks_call_when_they_differ() {
        let all = [words(sum_of(3), 0), words(sum_of(4), 0)].concat();
        let err = read_calls(&all, "all_reduce_sum", 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the ranks disagree: rank 0 called all_reduce_sum of 3 f32, \
             rank 1 called all_reduce_sum of 4 f32"
        );
    }

    #[test]
    fn read_calls_names_a_rank_whose_words_are_no_call() {
        let all = [words(sum_of(3), 0), vec![9, 0, 3, 0, 0]].concat();
        let err = read_calls(&all, "all_reduce_sum", 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the ranks disagree: rank 0 called all_reduce_sum of 3 f32, \
             rank 1 sent [9, 0, 3, 0], which is no call of this ferrograd"
        );
    }

    #[test]
    fn read_calls_reports_a_rank_that_left() {
        let all = [
            words(sum_of(3), 0),
            vec![LEFT, 0, 0, 0, 0],
            words(sum_of(3), 0),
        ]
        .concat();
        let err = read_calls(&all, "all_reduce_sum", 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "all_reduce_sum: rank 1 left the group (it dropped its MpiComm) while rank 2 \
             waited for it"
        );
    }

    #[test]
    fn count_refuses_more_than_an_mpi_int() {
        assert_eq!(count("broadcast", 5), Ok(5));
        let err = count("broadcast", 1 << 31).unwrap_err();
        assert_eq!(
            err.to_string(),
            "broadcast: 2147483648 elements are more than MPI's limit of 2147483647 per message"
        );
    }
}
