//! Arbitrary bytes loaded as a checkpoint (`ModuleExt::load` and `load_non_strict`) into a
//! small model with parameters and buffers (`Linear(2, 3)` then `BatchNorm1d(3)`), in `f32`
//! and `f64`. A failed load changes nothing: every parameter and buffer keeps its bits. A
//! successful load keeps every shape, and a non-strict one leaves the parameters it reports
//! missing untouched and reports as unexpected only names the model does not have.
#![no_main]

use ferrograd_fuzz::checkpoint::{Bits, model, snapshot};
use ferrograd_nn::ModuleExt;
use libfuzzer_sys::fuzz_target;

fn check<T: Bits>(path: &std::path::Path) {
    for strict in [true, false] {
        let m = model::<T>();
        let before = snapshot(&m);
        let result = if strict {
            m.load(path).map(|()| None)
        } else {
            m.load_non_strict(path).map(Some)
        };
        let after = snapshot(&m);
        match result {
            Err(e) => assert_eq!(before, after, "a failed load changed the model: {e}"),
            Ok(report) => {
                for (b, a) in before.iter().zip(&after) {
                    assert_eq!(b.shape, a.shape, "`{}` changed shape", b.name);
                }
                let Some(report) = report else { continue };
                for (b, a) in before.iter().zip(&after) {
                    if report.missing.contains(&b.name) {
                        assert_eq!(b, a, "`{}` was reported missing but changed", b.name);
                    }
                }
                for name in &report.unexpected {
                    assert!(
                        before.iter().all(|e| &e.name != name),
                        "`{name}` reported unexpected but the model has it"
                    );
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!(
        "ferrograd-fuzz-checkpoint-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, data).unwrap();
    check::<f32>(&path);
    check::<f64>(&path);
});
