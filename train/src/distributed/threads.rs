//! The thread backend: a group of workers in one process ([`ThreadGroup`]), each with a
//! [`ThreadComm`] to the others. Data-parallel training over the cores of one machine with
//! nothing installed, and the test double of the MPI backend.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::collective::{Call, Collective, CommError, Values, check_calls, sum_in_rank_order};

/// A group of `world_size` workers as threads of this process.
///
/// [`run`](ThreadGroup::run) starts one thread per rank, each calling the same closure with
/// its [`ThreadComm`], and returns their results in rank order: the thread-based
/// counterpart of `mpirun -np N`, and the same program serves both (write it over
/// `impl Collective`).
///
/// ```
/// use ferrograd::train::distributed::{Collective, ThreadGroup, Values};
/// let out = ThreadGroup::new(2)
///     .run(|comm| {
///         // Rank 0's values reach every rank.
///         let mut w = vec![comm.rank() as f64 + 1.0; 3];
///         comm.broadcast(Values::from(&mut w[..]), 0).unwrap();
///         w
///     })
///     .unwrap();
/// assert_eq!(out, vec![vec![1.0; 3], vec![1.0; 3]]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ThreadGroup {
    world_size: usize,
}

/// A worker of a [`ThreadGroup`] panicked; the other workers' calls that waited for it
/// failed with [`CommError::RankGone`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("rank {rank} panicked: {message}")]
pub struct WorkerPanicked {
    /// The first rank that panicked.
    pub rank: usize,
    /// Its panic message.
    pub message: String,
}

impl ThreadGroup {
    /// A group of `world_size` ranks.
    ///
    /// # Panics
    /// If `world_size` is 0.
    pub fn new(world_size: usize) -> Self {
        assert!(world_size > 0, "ThreadGroup: world_size must be positive");
        ThreadGroup { world_size }
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// A communicator for each rank, in rank order, for running the workers on threads of
    /// your own; [`run`](ThreadGroup::run) does it for you.
    pub fn comms(&self) -> Vec<ThreadComm> {
        self.members(false)
    }

    /// The communicators; `managed` ones leave when [`run`](ThreadGroup::run)'s worker
    /// ends (with its panic message), not when dropped.
    fn members(&self, managed: bool) -> Vec<ThreadComm> {
        let shared = Arc::new(Shared {
            world_size: self.world_size,
            state: Mutex::new(State {
                round: 0,
                arrived: 0,
                deposits: (0..self.world_size).map(|_| None).collect(),
                done: None,
                gone: vec![None; self.world_size],
            }),
            changed: Condvar::new(),
        });
        (0..self.world_size)
            .map(|rank| ThreadComm {
                member: Arc::new(Member {
                    rank,
                    shared: Arc::clone(&shared),
                    managed,
                }),
            })
            .collect()
    }

    /// Runs `worker` on one thread per rank with that rank's communicator and returns the
    /// results in rank order, once every worker has ended.
    ///
    /// # Errors
    /// [`WorkerPanicked`] naming the first rank that panicked, with its message. The
    /// other workers were not left waiting: their collectives failed with
    /// [`CommError::RankGone`] naming that rank.
    pub fn run<R: Send>(
        &self,
        worker: impl Fn(ThreadComm) -> R + Sync,
    ) -> Result<Vec<R>, WorkerPanicked> {
        let worker = &worker;
        let outcomes: Vec<Result<R, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .members(true)
                .into_iter()
                .map(|comm| {
                    let (rank, shared) = (comm.rank(), Arc::clone(&comm.member.shared));
                    std::thread::Builder::new()
                        .name(format!("ferrograd-rank-{rank}"))
                        .spawn_scoped(scope, move || {
                            let outcome = catch_unwind(AssertUnwindSafe(|| worker(comm))).map_err(
                                |payload| {
                                    payload
                                        .downcast_ref::<String>()
                                        .cloned()
                                        .or_else(|| {
                                            payload.downcast_ref::<&str>().map(|s| s.to_string())
                                        })
                                        .unwrap_or_else(|| "a panic without a message".into())
                                },
                            );
                            // The rank leaves when its worker ends, even if a clone of its
                            // communicator lives on (in what it returned): nobody waits
                            // for it past that.
                            let reason = match &outcome {
                                Ok(_) => "its worker ended".to_string(),
                                Err(message) => format!("panicked: {message}"),
                            };
                            shared.leave(rank, reason);
                            outcome
                        })
                        .expect("spawn a worker thread")
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("the worker catches its panic"))
                .collect()
        });
        let mut results = Vec::with_capacity(outcomes.len());
        for (rank, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Ok(r) => results.push(r),
                Err(message) => return Err(WorkerPanicked { rank, message }),
            }
        }
        Ok(results)
    }
}

/// One rank's handle on a [`ThreadGroup`]: a [`Collective`] over shared memory. Clones are
/// handles on the same rank; when the last one is dropped (the worker ended or panicked)
/// the rank has left, and a collective that waits for it fails with
/// [`CommError::RankGone`].
#[derive(Debug, Clone)]
pub struct ThreadComm {
    member: Arc<Member>,
}

#[derive(Debug)]
struct Member {
    rank: usize,
    shared: Arc<Shared>,
    /// Run by [`ThreadGroup::run`], which records when the worker leaves.
    managed: bool,
}

impl Drop for Member {
    fn drop(&mut self) {
        if self.managed {
            return;
        }
        let reason = if std::thread::panicking() {
            "panicked"
        } else {
            "its worker ended"
        };
        self.shared.leave(self.rank, reason.into());
    }
}

#[derive(Debug)]
struct Shared {
    world_size: usize,
    state: Mutex<State>,
    changed: Condvar,
}

/// What a rank hands in for one collective.
#[derive(Debug)]
enum Payload {
    None,
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<u8>),
}

/// Every rank's payload of a completed round, in rank order, or why the round failed.
type Round = Arc<Result<Vec<Payload>, CommError>>;

#[derive(Debug)]
struct State {
    /// The number of completed collectives.
    round: u64,
    arrived: usize,
    deposits: Vec<Option<(Call, Payload)>>,
    /// The last completed round; every rank reads it before any can complete the next.
    done: Option<Round>,
    /// Why each rank left, for the ranks that have.
    gone: Vec<Option<String>>,
}

impl Shared {
    /// Records that `rank` left and why, and wakes the waiters.
    fn leave(&self, rank: usize, reason: String) {
        let mut state = self.lock();
        state.gone[rank] = Some(reason);
        self.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands in `rank`'s call and payload and waits for every rank's.
    fn exchange(&self, rank: usize, call: Call, payload: Payload) -> Result<Round, CommError> {
        let mut state = self.lock();
        let round = state.round;
        state.deposits[rank] = Some((call, payload));
        state.arrived += 1;
        if state.arrived == self.world_size {
            let deposits: Vec<(Call, Payload)> = state
                .deposits
                .iter_mut()
                .map(|d| d.take().expect("every rank arrived"))
                .collect();
            let calls: Vec<Call> = deposits.iter().map(|(c, _)| *c).collect();
            let outcome =
                check_calls(&calls).map(|()| deposits.into_iter().map(|(_, p)| p).collect());
            let done = Arc::new(outcome);
            state.done = Some(Arc::clone(&done));
            state.round += 1;
            state.arrived = 0;
            self.changed.notify_all();
            return Ok(done);
        }
        loop {
            if state.round != round {
                return Ok(Arc::clone(state.done.as_ref().expect("a completed round")));
            }
            let missing = (0..self.world_size).find_map(|r| {
                let reason = state.gone[r].as_ref()?;
                state.deposits[r].is_none().then(|| (r, reason.clone()))
            });
            if let Some((gone, reason)) = missing {
                return Err(CommError::RankGone {
                    op: call.op,
                    rank: gone,
                    reason,
                    waiting: rank,
                });
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Collective for ThreadComm {
    fn rank(&self) -> usize {
        self.member.rank
    }

    fn world_size(&self) -> usize {
        self.member.shared.world_size
    }

    fn all_reduce_sum(&self, values: Values<'_>) -> Result<(), CommError> {
        if self.world_size() == 1 {
            return Ok(()); // the sum over one rank
        }
        let call = Call::of("all_reduce_sum", Some(&values), 0);
        let payload = match &values {
            Values::F32(v) => Payload::F32(v.to_vec()),
            Values::F64(v) => Payload::F64(v.to_vec()),
        };
        let round = self.member.shared.exchange(self.rank(), call, payload)?;
        let parts = round.as_ref().as_ref().map_err(Clone::clone)?;
        match values {
            Values::F32(out) => sum_in_rank_order(
                out,
                parts.iter().map(|p| match p {
                    Payload::F32(v) => &v[..],
                    _ => unreachable!("the calls were checked to match"),
                }),
            ),
            Values::F64(out) => sum_in_rank_order(
                out,
                parts.iter().map(|p| match p {
                    Payload::F64(v) => &v[..],
                    _ => unreachable!("the calls were checked to match"),
                }),
            ),
        }
        Ok(())
    }

    fn broadcast(&self, values: Values<'_>, root: usize) -> Result<(), CommError> {
        let call = Call::of("broadcast", Some(&values), root);
        let payload = match (&values, self.rank() == root) {
            (_, false) => Payload::None,
            (Values::F32(v), true) => Payload::F32(v.to_vec()),
            (Values::F64(v), true) => Payload::F64(v.to_vec()),
        };
        let round = self.member.shared.exchange(self.rank(), call, payload)?;
        let parts = round.as_ref().as_ref().map_err(Clone::clone)?;
        // Checked after the exchange, as the MPI backend does: ranks that disagree on the
        // root get `Mismatch`, ranks that agree on a bad one all get `BadRoot`.
        if root >= self.world_size() {
            return Err(CommError::BadRoot {
                root,
                world_size: self.world_size(),
            });
        }
        match (values, &parts[root]) {
            (Values::F32(out), Payload::F32(v)) => out.copy_from_slice(v),
            (Values::F64(out), Payload::F64(v)) => out.copy_from_slice(v),
            _ => unreachable!("the calls were checked to match"),
        }
        Ok(())
    }

    fn all_gather_bytes(&self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, CommError> {
        let call = Call::of("all_gather_bytes", None, 0);
        let round =
            self.member
                .shared
                .exchange(self.rank(), call, Payload::Bytes(bytes.to_vec()))?;
        let parts = round.as_ref().as_ref().map_err(Clone::clone)?;
        Ok(parts
            .iter()
            .map(|p| match p {
                Payload::Bytes(b) => b.clone(),
                _ => unreachable!("the calls were checked to match"),
            })
            .collect())
    }

    fn barrier(&self) -> Result<(), CommError> {
        let call = Call::of("barrier", None, 0);
        let round = self
            .member
            .shared
            .exchange(self.rank(), call, Payload::None)?;
        round.as_ref().as_ref().map(|_| ()).map_err(Clone::clone)
    }
}
