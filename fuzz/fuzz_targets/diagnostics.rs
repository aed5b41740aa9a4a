//! Fuzzes the compiler-output parsers of `autopilot-diagnostics`: the live-compile GCC parser,
//! the recorded-build parser of the legacy importer, and the size report parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let paths = autopilot_diagnostics::PathMap::new().with("/tmp/sketch", "sketch");
    let parsed = autopilot_diagnostics::parse_gcc_output(text, &paths);
    let _ = parsed.error_count();
    let _ = autopilot_diagnostics::parse_build_output(text);
    let _ = autopilot_diagnostics::parse_size_report(text);
});
