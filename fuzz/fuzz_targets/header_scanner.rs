//! Fuzzes the model-header scanner: arrays, lengths and their bytes in a C header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|source: &str| {
    let scan = autopilot_steps::scan_header(source);
    if let Some(array) = scan.model_array() {
        let name = array.name.clone();
        let _ = scan.length_of(&name);
        let _ = scan.bytes_of(&name);
    }
});
