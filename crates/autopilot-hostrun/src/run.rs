//! Runs a host-built sketch on its scene and reads what it did: the runtime's observation log
//! (serial lines, every `Invoke()` with its tensors, `AllocateTensors()`, TFLM's messages, how
//! the run ended). The parser is pure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autopilot_toolchain::Termination;
use autopilot_toolchain::sandbox::{Sandbox, SandboxConfig};

use crate::{HostError, Scene, command};

#[derive(Debug, Clone)]
pub struct RunRequest {
    pub binary: PathBuf,
    pub work_dir: PathBuf,
    /// Wall-time budget (a sketch that blocks without advancing the clock ends here).
    pub budget: Duration,
    /// The sandbox the sketch runs in (`None`: the user opted out).
    pub sandbox: Option<SandboxConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Invoke {
    pub t_us: u64,
    pub object: Option<usize>,
    pub ok: bool,
    pub inputs: Vec<f64>,
    pub outputs: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialLine {
    pub t_us: u64,
    pub object: Option<usize>,
    pub text: String,
}

/// Everything the run showed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    /// `(ok, arena bytes used)` of each `AllocateTensors()`.
    pub allocations: Vec<(bool, u64)>,
    pub invokes: Vec<Invoke>,
    pub serial: Vec<SerialLine>,
    /// TFLM's messages (error reporter, MicroPrintf).
    pub messages: Vec<String>,
    pub setup_done: bool,
    /// `dataset_presented` when the scene ran to its end.
    pub end_reason: Option<String>,
    /// How the process ended when it did not end by itself (timeout, signal, exit code).
    pub abnormal_end: Option<String>,
    pub duration: Duration,
}

fn object(field: &str) -> Option<usize> {
    field
        .parse::<i64>()
        .ok()
        .and_then(|v| usize::try_from(v).ok())
}

fn numbers(field: &str) -> Vec<f64> {
    field
        .split(',')
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .collect()
}

/// Parses the runtime's log (one `kind<TAB>fields…` line per event).
pub fn parse_log(text: &str) -> Observation {
    let mut obs = Observation::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["allocate", _t, status, used] => obs
                .allocations
                .push((*status == "0", used.parse().unwrap_or(0))),
            ["invoke", t, o, status, inputs, outputs] => obs.invokes.push(Invoke {
                t_us: t.parse().unwrap_or(0),
                object: object(o),
                ok: *status == "0",
                inputs: numbers(inputs),
                outputs: numbers(outputs),
            }),
            ["serial", t, o, rest @ ..] => obs.serial.push(SerialLine {
                t_us: t.parse().unwrap_or(0),
                object: object(o),
                text: rest.join("\t"),
            }),
            ["log", _t, rest @ ..] => obs.messages.push(rest.join("\t")),
            ["setup_done", ..] => obs.setup_done = true,
            ["end", reason, ..] => obs.end_reason = Some((*reason).to_owned()),
            _ => {}
        }
    }
    obs
}

/// Runs the binary on the scene; a sketch that crashes or hangs is an observation, not an `Err`.
pub async fn run_sketch(request: &RunRequest, scene: &Scene) -> Result<Observation, HostError> {
    fs_err::create_dir_all(&request.work_dir).map_err(HostError::io(&request.work_dir))?;
    let scene_path = request.work_dir.join("scene.txt");
    fs_err::write(&scene_path, scene.to_file_text()).map_err(HostError::io(&scene_path))?;
    let log = request.work_dir.join("observation.log");
    // The sketch is LLM-written code: it runs with its own work folder writable and nothing
    // else of the host visible but the system's libraries.
    let sandbox = request.sandbox.as_ref().map(|config| {
        let mut sandbox = Sandbox::new(config).writable(&request.work_dir);
        if let Some(dir) = request.binary.parent() {
            sandbox = sandbox.read_only(dir);
        }
        sandbox
    });
    let spec =
        command::run_spec(&request.binary, &log, &scene_path, request.budget).sandbox(sandbox);
    let out = command::run(&spec).await?;
    let text = read_log(&log)?;
    let mut obs = parse_log(&text);
    obs.duration = out.duration;
    obs.abnormal_end = match out.termination {
        Termination::Exited { code: 0 } => None,
        Termination::Exited { code } => Some(format!("exited with code {code}")),
        Termination::Signaled { signal } => Some(format!("killed by signal {signal}")),
        Termination::TimedOut | Termination::Stopped => Some(format!(
            "still running after {} s of wall time",
            request.budget.as_secs_f64()
        )),
    };
    Ok(obs)
}

fn read_log(path: &Path) -> Result<String, HostError> {
    match fs_err::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        // No log at all: the binary died before opening it; the observation says so.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(HostError::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}
