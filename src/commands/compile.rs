//! `autopilot compile <sketch> --target <name>`: one real compile, its diagnostics and size.

use std::hash::{Hash as _, Hasher as _};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use autopilot_toolchain::diagnostics::render;
use autopilot_toolchain::{
    BackendKind, CompileOutcome, CompileResult, Compiler, Sketch, Target, ToolchainConfig,
};

use crate::cli::{BackendArg, CompileArgs, Format};
use crate::exit::{CliError, CliResult, ErrorKind, ExitStatus, OutputError};

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

fn config(args: &CompileArgs, cache: &std::path::Path) -> ToolchainConfig {
    let mut config =
        crate::settings::toolchain_config(cache, &args.programs, args.libraries_dir.as_deref());
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
    let targets = crate::settings::targets(&args.targets)?;
    let target = targets.get(&args.target).input_error()?.clone();
    let sketch = Sketch::open(&args.sketch).input_error()?;
    let cache = crate::settings::cache_dir(args.cache_dir.as_deref())?;
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
