//! The size report parser.

use autopilot_diagnostics::{ParsedSize, parse_size_report};
use autopilot_trace::SizeReport;

#[test]
fn arduino_builder_uno_report() {
    let stdout = "Archiving built core (caching) in: /tmp/cache/core/core_arduino_avr_uno_1621.a\n\
                  Sketch uses 1908 bytes (5%) of program storage space. Maximum is 32256 bytes.\n\
                  Global variables use 192 bytes (9%) of dynamic memory, leaving 1856 bytes for local variables. Maximum is 2048 bytes.\n";
    let parsed = parse_size_report(stdout).unwrap();
    assert_eq!(
        parsed,
        ParsedSize {
            report: SizeReport {
                flash_used: 1908,
                flash_max: Some(32256),
                ram_used: Some(192),
                ram_max: Some(2048),
            },
            flash_percent: Some(5),
            ram_percent: Some(9),
            ram_free: Some(1856),
        }
    );
    let percent = parsed.report.flash_percent().unwrap();
    assert!((percent - 5.915).abs() < 0.01, "{percent}");
    assert!((parsed.report.ram_percent().unwrap() - 9.375).abs() < 0.001);
}

#[test]
fn nano33ble_report_as_arduino_cli_prints_it() {
    let stdout = "Sketch uses 289104 bytes (29%) of program storage space. Maximum is 983040 bytes.\n\
                  Global variables use 68832 bytes (26%) of dynamic memory, leaving 193312 bytes for local variables. Maximum is 262144 bytes.\n\n\
                  Used library Version Path\n";
    let parsed = parse_size_report(stdout).unwrap();
    assert_eq!(parsed.report.flash_max, Some(983_040));
    assert_eq!(parsed.report.ram_max, Some(262_144));
    assert_eq!(parsed.ram_free, Some(193_312));
}

#[test]
fn reports_without_maximum_or_ram() {
    let parsed = parse_size_report("Sketch uses 444 bytes of program storage space.\n").unwrap();
    assert_eq!(
        parsed.report,
        SizeReport {
            flash_used: 444,
            flash_max: None,
            ram_used: None,
            ram_max: None
        }
    );
    assert_eq!(parsed.flash_percent, None);
    assert_eq!(parsed.report.flash_percent(), None);
}

#[test]
fn negative_free_ram_is_kept() {
    let parsed = parse_size_report(
        "Sketch uses 9000 bytes (27%) of program storage space. Maximum is 32256 bytes.\n\
         Global variables use 2300 bytes (112%) of dynamic memory, leaving -252 bytes for local variables. Maximum is 2048 bytes.\n",
    )
    .unwrap();
    assert_eq!(parsed.ram_free, Some(-252));
    assert_eq!(parsed.ram_percent, Some(112));
}

#[test]
fn no_report_is_none() {
    assert_eq!(parse_size_report("exit status 1\n"), None);
}
