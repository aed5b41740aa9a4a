//! Fuzzes the code extractor: an LLM answer to the sketch the session compiles.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|answer: &str| {
    let _ = autopilot_steps::extract_code(answer);
});
