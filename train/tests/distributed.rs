//! Data-parallel training on thread workers: the same weights as one process on the
//! concatenated batch, bit for bit the same on every rank and from run to run, and every
//! failure on one rank reported on every rank.

use ferrograd::autograd::Tensor;
use ferrograd::data::dataset::{Targets, TensorDataset};
use ferrograd::data::synthetic::make_moons;
use ferrograd::nn::loss::CrossEntropy;
use ferrograd::nn::{BatchNorm1d, Linear, ModuleExt, ReLU, Sequential, init};
use ferrograd::optim::{Adam, Optimizer, Sgd};
use ferrograd::train::callbacks::CsvLogger;
use ferrograd::train::distributed::{
    Collective, CommError, DistributedDataParallel, ThreadComm, ThreadGroup, Values,
};
use ferrograd::train::{FitOptions, History, TrainError, fit};

fn mlp(seed: u64) -> Sequential<f32> {
    let mut rng = init::rng(seed);
    Sequential::new()
        .add(Linear::new(2, 16, &mut rng))
        .add(ReLU)
        .add(Linear::new(16, 2, &mut rng))
}

/// Trains the MLP on 96 moons for 4 epochs with Adam; with `comm`, data-parallel.
fn train(comm: Option<ThreadComm>, batch_size: usize) -> (Vec<Tensor<f32>>, History) {
    let data = make_moons(96, 0.2, 3);
    // Rank-dependent initial weights: the broadcast from rank 0 must erase them.
    let model = mlp(comm.as_ref().map_or(0, |c| c.rank() as u64 * 7));
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.01));
    let mut options = FitOptions::new()
        .epochs(4)
        .batch_size(batch_size)
        .shuffle(Some(5));
    if let Some(comm) = comm {
        options = options.distributed(comm);
    }
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &data,
        options,
        &mut [],
    )
    .unwrap();
    (
        model.parameters().iter().map(|p| p.value()).collect(),
        history,
    )
}

fn max_gap(a: &[Tensor<f32>], b: &[Tensor<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| (x - y).to_vec())
        .fold(0.0, |m, d| m.max(d.abs()))
}

#[test]
fn thread_workers_match_one_process_on_the_whole_batch() {
    for world in [2, 3] {
        let runs = ThreadGroup::new(world)
            .run(|comm| train(Some(comm), 8))
            .unwrap();
        let (single, single_history) = train(None, 8 * world);
        for (rank, (weights, history)) in runs.iter().enumerate() {
            // Every rank holds the same weights and logs, bit for bit.
            assert_eq!(weights, &runs[0].0, "rank {rank} of {world}");
            assert_eq!(history.get("loss"), runs[0].1.get("loss"));
        }
        // 4 epochs × 4 Adam steps: the order of the additions is all that differs
        // (measured: 6e-8 at 2 workers, 1.2e-7 at 3, about one f32 ulp of the weights).
        let gap = max_gap(&runs[0].0, &single);
        assert!(gap < 1e-6, "{world} workers vs one process: {gap}");
        for (a, b) in runs[0].1.get("loss").iter().zip(single_history.get("loss")) {
            assert!((a - b).abs() < 1e-5, "loss {a} vs {b}");
        }
    }
}

#[test]
fn a_run_is_bit_for_bit_reproducible() {
    let run = || {
        ThreadGroup::new(2)
            .run(|comm| train(Some(comm), 8).0)
            .unwrap()
    };
    assert_eq!(run(), run());
}

#[test]
fn batchnorm_buffers_follow_rank_0() {
    let data = make_moons(64, 0.2, 1);
    let buffers = ThreadGroup::new(2)
        .run(|comm| {
            let mut rng = init::rng(0);
            let model = Sequential::<f32>::new()
                .add(Linear::new(2, 8, &mut rng))
                .add(BatchNorm1d::new(8))
                .add(ReLU)
                .add(Linear::new(8, 2, &mut rng));
            let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
            let options = FitOptions::new().epochs(2).batch_size(8).distributed(comm);
            fit(
                &model,
                CrossEntropy::new(),
                &mut opt,
                &data,
                options,
                &mut [],
            )
            .unwrap();
            model
                .state()
                .into_iter()
                .map(|(n, p)| (n, p.value()))
                .collect::<Vec<_>>()
        })
        .unwrap();
    // Each rank's last batch updated its own running statistics after the last
    // broadcast, so the ranks agree on the weights, and on the buffers once rank 0's are
    // broadcast again (as before the next forward).
    for ((name, a), (_, b)) in buffers[0].iter().zip(&buffers[1]) {
        if name.contains("running") || name.contains("num_batches") {
            continue;
        }
        assert_eq!(a, b, "{name}");
    }
    assert!(buffers[0].iter().any(|(n, _)| n.contains("running_mean")));
}

#[test]
fn sync_buffers_gives_every_rank_rank_0s_statistics() {
    let stats = ThreadGroup::new(2)
        .run(|comm| {
            let bn = BatchNorm1d::<f32>::new(3);
            let ddp = DistributedDataParallel::new(&bn, &comm).unwrap();
            // Rank-dependent statistics, as after a forward on each rank's shard.
            for (name, p) in bn.state() {
                if name == "running_mean" {
                    p.set_value(Tensor::from_vec(vec![comm.rank() as f32; 3], &[3]));
                }
            }
            ddp.sync_buffers().unwrap();
            bn.state()
                .into_iter()
                .find(|(n, _)| n == "running_mean")
                .unwrap()
                .1
                .value()
        })
        .unwrap();
    assert_eq!(stats, vec![Tensor::zeros(&[3]), Tensor::zeros(&[3])]);
}

#[test]
fn a_mismatched_model_fails_every_rank_naming_the_rank() {
    let errors = ThreadGroup::new(3)
        .run(|comm| {
            let mut rng = init::rng(0);
            let hidden = if comm.rank() == 2 { 9 } else { 8 };
            let model = Sequential::<f32>::new()
                .add(Linear::new(2, hidden, &mut rng))
                .add(Linear::new(hidden, 2, &mut rng));
            let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
            let options = FitOptions::new().distributed(comm);
            fit(
                &model,
                CrossEntropy::new(),
                &mut opt,
                &make_moons(12, 0.1, 0),
                options,
                &mut [],
            )
            .unwrap_err()
            .to_string()
        })
        .unwrap();
    for e in &errors {
        assert_eq!(
            e,
            "data-parallel training: the ranks disagree: rank 2's model differs from rank 0's: \
             rank 0 has parameter `0.weight` of shape [8, 2], rank 2 has parameter `0.weight` of shape [9, 2]"
        );
    }
}

#[test]
fn a_nan_on_one_rank_stops_every_rank_before_the_update() {
    // Sample 5 is NaN: with no shuffle, rank 1 of 2 meets it in its batch 1 (rows 1, 3 | 5, 7).
    let mut x = make_moons(16, 0.1, 0).x().to_vec();
    x[10] = f32::NAN;
    let data = TensorDataset::new(
        Tensor::from_vec(x, &[16, 2]),
        Targets::Classes(make_moons::<f32>(16, 0.1, 0).y().classes().to_vec()),
    );
    let outcomes = ThreadGroup::new(2)
        .run(|comm| {
            let model = mlp(0);
            let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
            let options = FitOptions::new()
                .batch_size(2)
                .shuffle(None)
                .distributed(comm);
            fit(
                &model,
                CrossEntropy::new(),
                &mut opt,
                &data,
                options,
                &mut [],
            )
            .unwrap_err()
        })
        .unwrap();
    assert!(
        matches!(
            outcomes[1],
            TrainError::NonFinite {
                epoch: 0,
                batch: 1,
                ..
            }
        ),
        "{}",
        outcomes[1]
    );
    assert_eq!(
        outcomes[0].to_string(),
        format!("rank 1 failed: {}", outcomes[1])
    );
}

#[test]
fn a_rank_that_panics_ends_the_others_with_its_rank() {
    let outcome = ThreadGroup::new(3).run(|comm| {
        if comm.rank() == 1 {
            panic!("out of memory, say");
        }
        let mut v = [1.0f32; 4];
        comm.all_reduce_sum(Values::from(&mut v[..]))
    });
    let err = outcome.unwrap_err();
    assert_eq!((err.rank, err.message.as_str()), (1, "out of memory, say"));
    // The others learn why it left.
    let seen = std::sync::Mutex::new(String::new());
    let err = ThreadGroup::new(2)
        .run(|comm| {
            if comm.rank() == 1 {
                panic!("out of memory, say");
            }
            *seen.lock().unwrap() = comm.barrier().unwrap_err().to_string();
        })
        .unwrap_err();
    assert_eq!(err.rank, 1);
    assert_eq!(
        seen.into_inner().unwrap(),
        "barrier: rank 1 left the group (panicked: out of memory, say) while rank 0 waited for it"
    );
    // A worker that returns a clone of its communicator has still left.
    let outcomes = ThreadGroup::new(2)
        .run(|comm| {
            if comm.rank() == 1 {
                return (Some(comm.clone()), Ok(()));
            }
            (None, comm.barrier())
        })
        .unwrap();
    assert!(matches!(
        outcomes[0].1,
        Err(CommError::RankGone { rank: 1, .. })
    ));
    // And what the others saw, through a group run to the end.
    let seen = ThreadGroup::new(2)
        .run(|comm| {
            if comm.rank() == 1 {
                return Ok(()); // leaves without joining the all-reduce
            }
            let mut v = [1.0f64; 2];
            comm.all_reduce_sum(Values::from(&mut v[..]))
        })
        .unwrap();
    assert_eq!(
        seen[0],
        Err(CommError::RankGone {
            op: "all_reduce_sum",
            rank: 1,
            reason: "its worker ended".into(),
            waiting: 0
        })
    );
    assert_eq!(
        seen[0].as_ref().unwrap_err().to_string(),
        "all_reduce_sum: rank 1 left the group (its worker ended) while rank 0 waited for it"
    );
}

#[test]
fn mismatched_calls_fail_on_every_rank() {
    let errors = ThreadGroup::new(2)
        .run(|comm| {
            let mut v = vec![0.0f32; 3 + comm.rank()];
            comm.all_reduce_sum(Values::from(&mut v[..])).unwrap_err()
        })
        .unwrap();
    let expected = "the ranks disagree: rank 0 called all_reduce_sum of 3 f32, rank 1 called all_reduce_sum of 4 f32";
    assert_eq!(errors[0].to_string(), expected);
    assert_eq!(errors[1], errors[0]);
    let errors = ThreadGroup::new(2)
        .run(|comm| {
            if comm.rank() == 0 {
                comm.barrier().unwrap_err()
            } else {
                comm.all_gather_bytes(b"x").unwrap_err()
            }
        })
        .unwrap();
    assert_eq!(
        errors[1].to_string(),
        "the ranks disagree: rank 0 called barrier, rank 1 called all_gather_bytes"
    );
}

#[test]
fn a_bad_broadcast_root_fails_every_rank() {
    let errors = ThreadGroup::new(2)
        .run(|comm| {
            let mut v = [0.0f32; 2];
            comm.broadcast(Values::from(&mut v[..]), 2).unwrap_err()
        })
        .unwrap();
    let expected = CommError::BadRoot {
        root: 2,
        world_size: 2,
    };
    assert_eq!(errors, vec![expected.clone(), expected]);
}

#[test]
fn all_reduce_adds_in_rank_order() {
    // 1e8 + 1 − 1e8 in f32: ((1e8 + 1) − 1e8) = 0 in rank order, 1 in another.
    let sums = ThreadGroup::new(3)
        .run(|comm| {
            let mut v = [[1e8f32, 1.0, -1e8][comm.rank()]];
            comm.all_reduce_sum(Values::from(&mut v[..])).unwrap();
            v[0]
        })
        .unwrap();
    assert_eq!(sums, vec![0.0; 3]);
}

#[test]
fn only_rank_0_writes_files() {
    let dir = std::env::temp_dir().join(format!("ferrograd-ddp-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.csv");
    let data = make_moons(32, 0.1, 0);
    ThreadGroup::new(2)
        .run(|comm| {
            let model = mlp(0);
            let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
            let mut logger = CsvLogger::new(&path);
            let options = FitOptions::new().epochs(3).batch_size(4).distributed(comm);
            fit(
                &model,
                CrossEntropy::new(),
                &mut opt,
                &data,
                options,
                &mut [&mut logger],
            )
            .unwrap();
        })
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Fails at the end of epoch `at` on every rank: a stand-in for a crash.
struct Interrupt(Option<usize>);

impl ferrograd::train::Callback for Interrupt {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _: &ferrograd::train::Logs,
        _: &mut ferrograd::train::Context<'_>,
    ) -> Result<(), ferrograd::train::CallbackError> {
        if self.0 == Some(epoch) {
            Err("interrupted".into())
        } else {
            Ok(())
        }
    }
}

#[test]
fn a_data_parallel_run_resumes_from_rank_0s_backup_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("ferrograd-ddp-backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("backup.safetensors");
    let data = make_moons(64, 0.2, 2);
    let train = |interrupt: Option<usize>, path: &std::path::Path| {
        ThreadGroup::new(2)
            .run(|comm| {
                let model = mlp(0);
                let mut opt = Optimizer::new(model.parameters(), Adam::new(0.01));
                let options = FitOptions::new()
                    .epochs(4)
                    .batch_size(8)
                    .backup(path)
                    .distributed(comm);
                let history = fit(
                    &model,
                    CrossEntropy::new(),
                    &mut opt,
                    &data,
                    options,
                    &mut [&mut Interrupt(interrupt)],
                );
                history.map(|h| (h.get("loss"), model.parameters()[0].value()))
            })
            .unwrap()
    };
    let uninterrupted = train(None, &path);
    assert!(!path.exists());
    let failed = train(Some(2), &path);
    assert!(failed.iter().all(Result::is_err));
    assert!(path.exists(), "rank 0 kept the backup of epoch 1");
    let resumed = train(None, &path);
    assert_eq!(
        resumed[0].as_ref().unwrap(),
        uninterrupted[0].as_ref().unwrap()
    );
    assert_eq!(
        resumed[1].as_ref().unwrap(),
        uninterrupted[1].as_ref().unwrap()
    );
    assert!(!path.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_backup_only_some_ranks_see_is_refused_on_every_rank() {
    let dir = std::env::temp_dir().join(format!("ferrograd-ddp-unseen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rank0.safetensors"), b"not read").unwrap();
    let errors = ThreadGroup::new(2)
        .run(|comm| {
            // As if rank 1 ran on a machine without rank 0's disk.
            let path = dir.join(format!("rank{}.safetensors", comm.rank()));
            let model = mlp(0);
            let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
            let options = FitOptions::new().backup(&path).distributed(comm);
            fit(
                &model,
                CrossEntropy::new(),
                &mut opt,
                &make_moons(8, 0.1, 0),
                options,
                &mut [],
            )
            .unwrap_err()
            .to_string()
        })
        .unwrap();
    assert!(
        errors[0].contains("rank 0 sees the backup and rank 1 does not: a backup of data-parallel training must be on a filesystem every rank shares"),
        "{}",
        errors[0]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
