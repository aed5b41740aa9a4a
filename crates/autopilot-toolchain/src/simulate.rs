//! Runs AVR firmware in simavr and reads its serial output: stops as soon as an expected
//! token (a class name) appears on a serial line, or when the time budget is spent.
//!
//! simavr 1.6 prints the sketch's UART0 on **stderr**, each line wrapped in ANSI colour codes
//! and every CR or LF byte shown as `.` (`Serial.println("tick")` → `ESC[32mtick..`); its own
//! loader lines go to stdout. It never exits by itself, so the budget is the process timeout.
//!
//! The firmware is vetted first ([`crate::firmware::vet`]): simavr never sees an ELF with a
//! `.mmcu` section, whoever calls [`simulate`] (a session, `autopilot replay`, a test).

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_trace::{SimulationFinished, SimulationStatus};

use crate::backend::arduino_builder::millis;
use crate::firmware::{self, FirmwareRefusal};
use crate::process::{self, LineControl, ProcessError, ProcessSpec, StreamKind, Termination};
use crate::sandbox::{Sandbox, SandboxConfig};
use autopilot_diagnostics::strip_ansi;

/// Serial lines kept by default.
pub const DEFAULT_MAX_LINES: usize = 200;

#[derive(Debug, Clone)]
pub struct SimulateRequest {
    /// The simavr program (`simavr`).
    pub simavr: PathBuf,
    pub elf: PathBuf,
    /// simavr `-m` (`atmega328p`).
    pub mcu: String,
    /// simavr `-f` in Hz.
    pub clock_hz: u64,
    /// Wall-clock budget.
    pub budget: Duration,
    /// Tokens to look for (class names); matched as whole words.
    pub expected: Vec<String>,
    pub max_lines: usize,
    /// The sandbox simavr runs in (it may read the firmware, write nothing of the host);
    /// `None` only when the user opted out.
    pub sandbox: Option<SandboxConfig>,
}

impl SimulateRequest {
    pub fn new(
        elf: &Path,
        mcu: &str,
        clock_hz: u64,
        budget: Duration,
        expected: Vec<String>,
    ) -> Self {
        SimulateRequest {
            simavr: PathBuf::from("simavr"),
            elf: elf.to_owned(),
            mcu: mcu.to_owned(),
            clock_hz,
            budget,
            expected,
            max_lines: DEFAULT_MAX_LINES,
            sandbox: Some(SandboxConfig::default()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimulationResult {
    pub status: SimulationStatus,
    pub mcu: String,
    /// The expected token seen first.
    pub matched: Option<String>,
    /// Serial lines, normalised (colour codes and line-ending dots removed), bounded.
    pub serial: Vec<String>,
    pub duration: Duration,
    /// Why the simulator failed (its own messages), when it did.
    pub detail: Option<String>,
    /// Set when the firmware was refused before simavr ran (status `Failed`).
    pub refused: Option<FirmwareRefusal>,
}

impl SimulationResult {
    pub fn to_trace_event(&self, attempt: u32) -> SimulationFinished {
        SimulationFinished {
            attempt,
            simulator: "simavr".to_owned(),
            mcu: self.mcu.clone(),
            status: self.status,
            matched: self.matched.clone(),
            serial: self.serial.clone(),
            duration_ms: millis(self.duration),
        }
    }
}

/// One serial line as simavr prints it, normalised: ANSI codes stripped, then the trailing
/// dots that stand for CR/LF (content that itself ends in `.` loses those dots too).
pub fn normalize_serial_line(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let plain = strip_ansi(&text);
    plain
        .trim_end_matches(['\r', '\n'])
        .trim_end_matches('.')
        .to_owned()
}

/// The first expected token that appears in `line` as a whole word.
pub fn match_token<'a>(line: &str, expected: &'a [String]) -> Option<&'a String> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    expected.iter().find(|token| {
        !token.is_empty()
            && line.match_indices(token.as_str()).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + token.len()..].chars().next();
                !before.is_some_and(ident) && !after.is_some_and(ident)
            })
    })
}

/// The simavr command.
pub fn command(request: &SimulateRequest) -> ProcessSpec {
    let elf = std::path::absolute(&request.elf).unwrap_or_else(|_| request.elf.clone());
    ProcessSpec::new(&request.simavr)
        .arg("-m")
        .arg(&request.mcu)
        .arg("-f")
        .arg(request.clock_hz.to_string())
        .arg(&elf)
        .timeout(request.budget)
        .grace(Duration::from_millis(500))
        .capture_limit(64 * 1024)
        .sandbox(
            request
                .sandbox
                .as_ref()
                .map(|config| Sandbox::new(config).read_only(&elf)),
        )
}

/// Runs the firmware. `Err` only when simavr exists but cannot be started.
pub async fn simulate(request: &SimulateRequest) -> Result<SimulationResult, ProcessError> {
    // An unreadable file is left to simavr, which reports it: there is nothing in it to obey.
    if let Ok(bytes) = fs_err::read(&request.elf)
        && let Err(refusal) = firmware::vet(&bytes)
    {
        tracing::warn!(elf = %request.elf.display(), check = refusal.check_id(), "firmware refused");
        return Ok(SimulationResult {
            status: SimulationStatus::Failed,
            mcu: request.mcu.clone(),
            matched: None,
            serial: Vec::new(),
            duration: Duration::ZERO,
            detail: Some(format!(
                "refused before simulation ({}): {refusal}",
                refusal.check_id()
            )),
            refused: Some(refusal),
        });
    }
    let mut serial = Vec::new();
    let mut matched: Option<String> = None;
    let outcome = process::run_with_lines(&command(request), |stream, raw| {
        if stream != StreamKind::Stderr {
            return LineControl::Continue;
        }
        let line = normalize_serial_line(raw);
        if line.is_empty() {
            return LineControl::Continue;
        }
        let hit = match_token(&line, &request.expected).cloned();
        if serial.len() < request.max_lines {
            serial.push(line);
        }
        match hit {
            Some(token) => {
                matched = Some(token);
                LineControl::Stop
            }
            None => LineControl::Continue,
        }
    })
    .await;
    let output = match outcome {
        Ok(output) => output,
        Err(error) if error.is_not_found() => {
            return Ok(SimulationResult {
                status: SimulationStatus::SimulatorMissing,
                mcu: request.mcu.clone(),
                matched: None,
                serial: Vec::new(),
                duration: Duration::ZERO,
                detail: Some(error.to_string()),
                refused: None,
            });
        }
        Err(error) => return Err(error),
    };
    let (status, detail) = match (output.termination, &matched) {
        (_, Some(_)) => (SimulationStatus::Predicted, None),
        (Termination::TimedOut | Termination::Exited { code: 0 }, None) => {
            (SimulationStatus::NoPrediction, None)
        }
        (termination, None) => {
            let mut detail = format!("{}{}", output.stdout.text(), output.stderr.text())
                .trim()
                .to_owned();
            if detail.is_empty() {
                detail = format!("simavr ended: {termination:?}");
            }
            (SimulationStatus::Failed, Some(detail))
        }
    };
    Ok(SimulationResult {
        status,
        mcu: request.mcu.clone(),
        matched,
        serial,
        duration: output.duration,
        detail,
        refused: None,
    })
}
