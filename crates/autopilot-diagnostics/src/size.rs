//! The size report parser: the `Sketch uses … / Global variables use …` lines that
//! arduino-builder, arduino-cli and the IDE print after a successful build. Pure.

use std::sync::LazyLock;

use autopilot_trace::SizeReport;
use regex::Regex;

static FLASH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"Sketch uses (\d+) bytes(?: \((\d+)%\))? of program storage space\.(?: Maximum is (\d+) bytes\.)?",
    )
    .expect("valid regex")
});
static RAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"Global variables use (\d+) bytes(?: \((\d+)%\))? of dynamic memory(?:, leaving (-?\d+) bytes for local variables)?\.(?: Maximum is (\d+) bytes\.)?",
    )
    .expect("valid regex")
});

/// A size report with the percentages the tool printed (which it rounds down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedSize {
    pub report: SizeReport,
    pub flash_percent: Option<u32>,
    pub ram_percent: Option<u32>,
    /// RAM left for the stack, as printed.
    pub ram_free: Option<i64>,
}

/// Finds the size lines in a tool's stdout. `None` when there is no `Sketch uses` line.
pub fn parse_size_report(text: &str) -> Option<ParsedSize> {
    let flash = FLASH.captures(text)?;
    let parse = |m: Option<regex::Match<'_>>| m.and_then(|m| m.as_str().parse::<u64>().ok());
    let mut parsed = ParsedSize {
        report: SizeReport {
            flash_used: parse(flash.get(1))?,
            flash_max: parse(flash.get(3)),
            ram_used: None,
            ram_max: None,
        },
        flash_percent: flash.get(2).and_then(|m| m.as_str().parse().ok()),
        ram_percent: None,
        ram_free: None,
    };
    if let Some(ram) = RAM.captures(text) {
        parsed.report.ram_used = parse(ram.get(1));
        parsed.report.ram_max = parse(ram.get(4));
        parsed.ram_percent = ram.get(2).and_then(|m| m.as_str().parse().ok());
        parsed.ram_free = ram.get(3).and_then(|m| m.as_str().parse().ok());
    }
    Some(parsed)
}
