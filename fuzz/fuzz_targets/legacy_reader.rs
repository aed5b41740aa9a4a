//! Fuzzes the legacy log reader: the importer (sessions and their trace events) and the
//! published classifier's entry reader, on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for session in autopilot_classifier::LegacyImporter::new(data, "fuzz.log").flatten() {
        let _ = session.row();
    }
    for entry in autopilot_classifier::legacy::LegacyEntries::new(data, true).flatten() {
        let _ = entry.category();
    }
});
