//! Compiles Arduino sketches for real boards and runs AVR firmware in simavr: the ground truth
//! of autopilot. Compiling is bounded (timeouts that kill whole process groups), structured
//! (diagnostics and sizes as data, never raw text handed on), cached (an identical request is
//! answered from disk) and honest (a failed install or compile is reported as such).
//!
//! This crate is the only one that spawns processes ([`process`]); everything else in the
//! workspace goes through it; tools that touch generated code run in its [`sandbox`]. The
//! pieces, in the order a session uses them:
//!
//! - [`target`]: board definitions from `targets/*.toml`, validated on load.
//! - [`compile::Compiler`]: one per session; picks the backend ([`backend`]: Debian's
//!   arduino-builder for AVR, arduino-cli otherwise), reads the versions it builds with, and
//!   compiles a [`sketch::Sketch`] per attempt in a reused build path, answering repeats from
//!   the [`cache`]. A compile is a [`compile::CompileOutcome`] value; `Err` is infrastructure.
//! - [`diagnostics`] and [`size`]: the pure parsers of compiler, linker and size output, which
//!   live in `autopilot-diagnostics` (re-exported here under their old paths).
//! - [`library`]: a missing header to an allow-listed library (`data/libraries.toml`).
//! - [`environment`]: the symbols errors mention and their real declarations in the installed
//!   headers, plus core and library versions, for repair prompts.
//! - [`tinyml`]: what each pinned TinyML library version lacks (`data/tinyml-api.toml`).
//! - [`firmware`]: vets an ELF before simavr loads it (no `.mmcu` section).
//! - [`probes`]: tool version probes, once per process and remembered per binary.
//! - [`lookup`]: programs found on PATH, once per process.
//! - [`inventory`]: which compilers, cores, libraries, simulator and sandbox this machine has.
//! - [`mod@simulate`]: AVR firmware in simavr, stopped when an expected class name is printed.
//! - [`python`]: Python scripts (LLM-written data processing and model conversion, model
//!   evaluation) in the project's pinned venv, always inside the sandbox.
//!
//! Libraries here never print and never read the environment for configuration: the caller
//! resolves a [`backend::ToolchainConfig`] and passes it in.

pub mod backend;
pub mod cache;
pub mod compile;
pub mod data;
pub mod environment;
pub mod firmware;
pub mod inventory;
pub mod library;
pub mod lookup;
pub mod probes;
pub mod process;
pub mod python;
pub mod sandbox;
pub mod simulate;
pub mod sketch;
pub mod target;
pub mod tinyml;

pub use backend::{
    Backend, BackendKind, BuildCapability, ToolchainConfig, Warnings, install_fix, select_backend,
};
pub use compile::{CompileError, CompileOutcome, CompileResult, Compiler};
// The parsers moved to `autopilot-diagnostics`; the old paths stay so callers need not change.
pub use autopilot_diagnostics::gcc as diagnostics;
pub use autopilot_diagnostics::parse_size_report;
pub use autopilot_diagnostics::size;
pub use autopilot_diagnostics::{ParsedDiagnostics, PathMap, parse_gcc_output};
pub use environment::{find_declarations, symbols_from_diagnostics, symbols_in_message};
pub use library::LibraryCatalog;
pub use process::{ProcessError, ProcessOutput, ProcessSpec, Termination};
pub use python::{PythonEnv, PythonEnvError, PythonJob, run_python};
pub use sandbox::{Limits, Sandbox, SandboxConfig};
pub use simulate::{SimulateRequest, SimulationResult, simulate};
pub use sketch::{Sketch, SketchError};
pub use target::{Target, Targets};
pub use tinyml::TinyMlApi;
