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
