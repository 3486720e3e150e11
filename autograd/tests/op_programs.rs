//! Random op programs (see `ferrograd_autograd::testing::program`): every op either runs or
//! stops with a clean panic naming it, and finite values give finite gradients. The
//! `op_program` fuzz target runs the same decoder on libFuzzer's bytes; findings from it
//! are pinned below as regression tests.

use ferrograd_autograd::testing::program::run_program;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_op_programs_run_or_refuse_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        if let Err(violation) = run_program(&bytes) {
            return Err(TestCaseError::fail(format!("{violation}\nbytes: {bytes:?}")));
        }
    }
}

/// A program the scan of issue 14's ops reported as running past 60 s: it must finish.
#[test]
fn the_program_reported_as_hanging_finishes() {
    let bytes = [
        86, 11, 76, 89, 223, 120, 104, 28, 20, 154, 132, 191, 148, 102, 125, 28, 180, 142, 77, 82,
        134, 131, 209, 37, 214, 126, 59, 142, 233, 43, 231, 161, 247, 156, 44, 170, 209, 47, 64,
        30, 13, 162, 186, 12, 55, 36, 4, 175, 92, 203, 202, 2, 154, 254, 228, 94, 24, 92, 42, 0,
        42, 254, 235, 55, 170, 30, 35,
    ];
    if let Err(violation) = run_program(&bytes) {
        panic!("{violation}");
    }
}
