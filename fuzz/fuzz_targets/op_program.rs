//! Random op programs (`ferrograd_autograd::testing::program`): each op runs or stops with a
//! clean panic naming it; finite values give finite gradients. Expected refusals are caught
//! inside `run_program`; anything else (an unclean panic, a panic in backward, a non-finite
//! gradient, an abort, a hang) is a finding. Paste a crashing input's bytes into a
//! regression test in `autograd/tests/op_programs.rs`.
#![no_main]

use std::sync::Once;

use ferrograd_autograd::testing::program::run_program;
use libfuzzer_sys::fuzz_target;

static QUIET: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys's panic hook aborts on every panic, but the ops' clean refusals are
    // panics that `run_program` catches: keep them quiet, and abort on a violation instead.
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    if let Err(violation) = run_program(data) {
        eprintln!("{violation}");
        std::process::abort();
    }
});
