//! `autopilot compile <sketch> --target <name>`: one real compile, its diagnostics and size.

use std::hash::{Hash as _, Hasher as _};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use autopilot_toolchain::diagnostics::render;
use autopilot_toolchain::{
    BackendKind, CompileOutcome, CompileResult, Compiler, Sketch, Target, ToolchainConfig,
};

use crate::cli::{BackendArg, CompileArgs, Format, ToolProgramsArgs};
use crate::exit::{CliError, CliResult, ErrorKind, ExitStatus, OutputError};

/// `$XDG_CACHE_HOME/autopilot`, else `~/.cache/autopilot`.
pub fn default_cache_dir() -> CliResult<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .ok_or_else(|| anyhow!("no cache folder: set --cache-dir, XDG_CACHE_HOME or HOME"))
        .input_error()?;
    Ok(base.join("autopilot"))
}

/// `<cache>/builds/<target>/<sketch>-<hash of its folder>`: one warm build folder per sketch.
fn default_build_dir(cache: &std::path::Path, target: &Target, sketch: &Sketch) -> PathBuf {
    let mut hasher = std::hash::DefaultHasher::new();
    sketch.dir.hash(&mut hasher);
    cache.join("builds").join(&target.name).join(format!(
        "{}-{:016x}",
        sketch.name(),
        hasher.finish()
    ))
}

/// Defaults with caches under `cache`, the programs of the command line and a user
/// libraries folder.
pub(crate) fn toolchain_config(
    cache: &std::path::Path,
    programs: &ToolProgramsArgs,
    libraries_dir: Option<&std::path::Path>,
) -> ToolchainConfig {
    let mut config = ToolchainConfig::with_cache_dir(cache);
    config
        .arduino_builder
        .program
        .clone_from(&programs.arduino_builder);
    config.arduino_cli.program.clone_from(&programs.arduino_cli);
    config.libraries_dir = libraries_dir.map(std::path::Path::to_owned);
    if programs.no_sandbox {
        config.sandbox = None;
    }
    if let Some(sandbox) = &mut config.sandbox {
        // The sandbox clears the environment and shows only what it binds: arduino-cli keeps
        // its configuration variables, and its default folders (under the real HOME) become
        // readable — never writable — from a compile.
        config.arduino_cli.env.extend(
            std::env::vars_os().filter(|(key, _)| key.to_string_lossy().starts_with("ARDUINO_")),
        );
        if let Some(home) = std::env::home_dir() {
            sandbox.read_only.push(home.join(".arduino15"));
            sandbox.read_only.push(home.join("Arduino"));
            config.arduino_cli.env.push(("HOME".into(), home.into()));
        }
    }
    config
}

fn config(args: &CompileArgs, cache: &std::path::Path) -> ToolchainConfig {
    let mut config = toolchain_config(cache, &args.programs, args.libraries_dir.as_deref());
    config.timeout = Duration::from_secs(args.timeout);
    if args.no_cache {
        config.compile_cache_dir = None;
    }
    config.force_backend = args.backend.map(|b| match b {
        BackendArg::ArduinoBuilder => BackendKind::ArduinoBuilder,
        BackendArg::ArduinoCli => BackendKind::ArduinoCli,
    });
    config
}

pub fn run(args: &CompileArgs) -> CliResult<ExitStatus> {
    let targets = super::targets::load(&args.targets)?;
    let target = targets.get(&args.target).input_error()?.clone();
    let sketch = Sketch::open(&args.sketch).input_error()?;
    let cache = match &args.cache_dir {
        Some(dir) => dir.clone(),
        None => default_cache_dir()?,
    };
    let build_dir = args
        .build_dir
        .clone()
        .unwrap_or_else(|| default_build_dir(&cache, &target, &sketch));
    let config = config(args, &cache);
    let runtime = crate::setup::current_thread_runtime()?;
    let result = runtime.block_on(async {
        let compiler = Compiler::new(&target, config)
            .await
            .map_err(CliError::from)?;
        compiler
            .compile(&sketch, &build_dir)
            .await
            .map_err(CliError::from)
    })?;

    let mut stdout = match args.format {
        Format::Json => crate::terminal::stdout_data(),
        Format::Human => crate::terminal::stdout_human(),
    };
    match args.format {
        Format::Json => {
            let mut value = serde_json::to_value(&result)
                .context("cannot encode the result")
                .internal_error()?;
            if let Some(object) = value.as_object_mut() {
                object.insert("target".to_owned(), target.name.clone().into());
            }
            serde_json::to_writer_pretty(&mut stdout, &value).output_error()?;
            writeln!(stdout).output_error()?;
        }
        Format::Human => stdout
            .write_all(render_result(&target, &result).as_bytes())
            .output_error()?,
    }
    Ok(match &result.outcome {
        CompileOutcome::Succeeded { .. } => ExitStatus::Success,
        CompileOutcome::Failed { .. } | CompileOutcome::TimedOut { .. } => ExitStatus::Failure,
        CompileOutcome::ToolchainMissing { detail } => {
            let mut stderr = crate::terminal::stderr();
            let _ = writeln!(stderr, "error: no toolchain for {}: {detail}", target.name);
            let _ = writeln!(
                stderr,
                "hint: AVR boards build offline with `bash scripts/install-os-deps.sh`; other boards need arduino-cli and their core"
            );
            ExitStatus::Unavailable
        }
    })
}

fn render_result(target: &Target, result: &CompileResult) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for diagnostic in result.outcome.diagnostics() {
        let _ = writeln!(out, "{}", render(diagnostic));
        for context in &diagnostic.context {
            let _ = writeln!(out, "    {context}");
        }
        for note in &diagnostic.notes {
            let location = match (&note.file, note.line) {
                (Some(file), Some(line)) => format!("{file}:{line}: "),
                (Some(file), None) => format!("{file}: "),
                _ => String::new(),
            };
            let _ = writeln!(out, "    {location}note: {}", note.message);
        }
    }
    let backend = match (&result.backend, &result.backend_version) {
        (Some(kind), Some(version)) => format!(" via {kind} {version}"),
        (Some(kind), None) => format!(" via {kind}"),
        (None, _) => String::new(),
    };
    let cached = if result.cache_hit {
        " (compile cache hit)"
    } else {
        ""
    };
    let seconds = result.duration_ms as f64 / 1000.0;
    let verdict = match &result.outcome {
        CompileOutcome::Succeeded { .. } => format!("compiled in {seconds:.2} s{cached}"),
        CompileOutcome::Failed { .. } => {
            let errors = result.outcome.errors().count();
            let warnings = result.outcome.diagnostics().len() - errors;
            format!(
                "compile failed in {seconds:.2} s{cached}: {errors} error(s), {warnings} other diagnostic(s)"
            )
        }
        CompileOutcome::TimedOut { after_ms } => {
            format!("compile timed out after {:.1} s", *after_ms as f64 / 1000.0)
        }
        CompileOutcome::ToolchainMissing { .. } => "no toolchain".to_owned(),
    };
    let _ = writeln!(out, "{} ({}){backend}: {verdict}", target.name, result.fqbn);
    if let Some(size) = result.outcome.size() {
        let percent = |p: Option<f64>| p.map(|p| format!(" ({p:.1}%)")).unwrap_or_default();
        let max = |m: Option<u64>| m.map(|m| format!(" / {m}")).unwrap_or_default();
        let _ = write!(
            out,
            "flash {}{} bytes{}",
            size.flash_used,
            max(size.flash_max),
            percent(size.flash_percent())
        );
        if let Some(ram) = size.ram_used {
            let _ = write!(
                out,
                ", RAM {ram}{} bytes{}",
                max(size.ram_max),
                percent(size.ram_percent())
            );
        }
        let _ = writeln!(out);
    }
    if let Some(elf) = &result.elf {
        let _ = writeln!(out, "firmware {}", elf.display());
    }
    out
}
