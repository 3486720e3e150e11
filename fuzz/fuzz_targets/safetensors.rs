//! Loading arbitrary bytes as a checkpoint into a small model: an error or a model whose
//! parameters all kept their shapes.
#![no_main]

use ferrograd_nn::{Linear, ModuleExt, Sequential, init};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path =
        std::env::temp_dir().join(format!("ferrograd-fuzz-{}.safetensors", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let mut rng = init::rng(0);
    let model = Sequential::<f32>::new().add(Linear::new(2, 3, &mut rng));
    let shapes: Vec<_> = model.parameters().iter().map(|p| p.shape()).collect();
    let _ = model.load_non_strict(&path);
    let after: Vec<_> = model.parameters().iter().map(|p| p.shape()).collect();
    assert_eq!(shapes, after);
});
