//! Optimizer-state loading (`Optimizer::load_state`) on a state decoded from arbitrary bytes
//! (layout in `ferrograd_fuzz::optimizer_state`), for eight rules: the load succeeds with a
//! finite, non-negative lr and a next step that neither panics nor (from tame buffers)
//! leaves non-finite parameters, or it fails and changes nothing — the next step is
//! bit-identical to that of an optimizer that never saw the failed load.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrograd_fuzz::optimizer_state::check(data));
