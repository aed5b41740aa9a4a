//! Fuzzes the compiler-output parsers: the toolchain's GCC diagnostics parser and the
//! classifier's build-output parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let paths = autopilot_toolchain::diagnostics::PathMap::new().with("/tmp/sketch", "sketch");
    let parsed = autopilot_toolchain::diagnostics::parse_gcc_output(text, &paths);
    let _ = parsed.error_count();
    let _ = autopilot_classifier::parse_build_output(text);
});
