//! `autopilot host setup|check`: the host TinyML check by hand — build the host TFLM library
//! (fetched through cargo, cached), or build, run and judge one sketch against an app's dataset.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow};
use autopilot_hostrun::check::{HostToolchain, check_sketch};
use autopilot_hostrun::installed;
use autopilot_hostrun::profile::{self, CoreFamily};
use autopilot_hostrun::scene::scene_for;
use autopilot_hostrun::{BuildRequest, HostCompiler, Policy, Profile, TflmSetup, ensure_library};
use autopilot_steps::App;
use autopilot_trace::HostVerdictKind;

use crate::cli::{Format, HostArgs, HostCheckArgs, HostCommand, HostSetupArgs};
use crate::exit::{CliResult, ErrorKind, ExitStatus, OutputError};

/// The target's pinned library installed for arduino-cli, built for the host (now, if the cache
/// lacks it); `None` with a note when it is absent or cannot stand for the pin.
async fn installed_build(
    cache_dir: &Path,
    data_dir: &Path,
    compiler: &HostCompiler,
    library: &str,
    version: &str,
    jobs: usize,
) -> CliResult<(Option<installed::InstalledTflm>, Option<String>)> {
    let lookup = crate::settings::arduino_libraries()
        .map_or(installed::Lookup::Absent, |libraries| {
            installed::lookup(&libraries, library, version)
        });
    let installed::Lookup::Found(found) = lookup else {
        return Ok((None, lookup.note()));
    };
    let built = installed::ensure_built(
        &installed::InstalledSetup {
            cache_dir: cache_dir.to_owned(),
            compiler: compiler.clone(),
            data_dir: data_dir.to_owned(),
            jobs,
        },
        &found,
    )
    .await
    .with_context(|| {
        format!(
            "cannot build the installed {library} {version} at {} for the host",
            found.dir.display()
        )
    })
    .tool_unavailable()?;
    Ok((Some(built), None))
}

pub fn run(args: &HostArgs) -> CliResult<ExitStatus> {
    match &args.command {
        HostCommand::Setup(a) => setup(a),
        HostCommand::Check(a) => check(a),
    }
}

/// Detects the compiler and makes sure the library is built (building it if needed).
async fn toolchain_for(
    cache_dir: &Path,
    cxx: &Path,
    cargo: &Path,
    jobs: usize,
) -> CliResult<(HostCompiler, autopilot_hostrun::TflmLibrary)> {
    let compiler = HostCompiler::detect(cxx, &cache_dir.join("host-tflm/probe"))
        .await
        .context("the host C++ compiler does not run")
        .tool_unavailable()?;
    let library = ensure_library(&TflmSetup {
        cache_dir: cache_dir.to_owned(),
        cargo: cargo.to_owned(),
        compiler: compiler.clone(),
        jobs,
    })
    .await
    .context("cannot build the host TFLM library")
    .tool_unavailable()?;
    Ok((compiler, library))
}

#[expect(clippy::print_stderr, reason = "the setup says what it is doing")]
fn setup(args: &HostSetupArgs) -> CliResult<ExitStatus> {
    let cache_dir = crate::settings::cache_dir(args.cache_dir.as_deref())?;
    eprintln!(
        "host TFLM: looking in {1}; when missing: fetching tfmicro 0.1.0 with cargo, checking its checksum, building it with {0} (~30 s of CPU)",
        args.cxx.display(),
        cache_dir.join("host-tflm").display()
    );
    let (compiler, library) = crate::setup::current_thread_runtime()?.block_on(toolchain_for(
        &cache_dir,
        &args.cxx,
        &args.cargo,
        args.jobs,
    ))?;
    eprintln!(
        "host TFLM: {} ({} translation units, built in {:.1} s{})",
        library.archive.display(),
        library.info.translation_units,
        library.info.build_ms as f64 / 1000.0,
        if compiler.m32 {
            ", -m32"
        } else {
            ", 64-bit: install g++-multilib for -m32"
        }
    );
    // Every library version the host check has a profile for: where the user installed it for
    // arduino-cli, its own sources are built too (the check then uses them).
    let mut installed_archives = Vec::new();
    for (name, version) in
        profiled_libraries(&crate::settings::default_host_data().join("profiles"))
    {
        let (built, note) = crate::setup::current_thread_runtime()?.block_on(installed_build(
            &cache_dir,
            &crate::settings::default_host_data(),
            &compiler,
            &name,
            &version,
            args.jobs,
        ))?;
        match built {
            Some(built) => {
                eprintln!(
                    "host TFLM: {} — built in {:.1} s → {}",
                    built.describe(),
                    built.info.build_ms as f64 / 1000.0,
                    built.archive.display()
                );
                installed_archives.push(built.archive);
            }
            None => eprintln!(
                "host TFLM: {name} {version} is not installed for arduino-cli{}",
                note.map(|n| format!(" ({n})")).unwrap_or_default()
            ),
        }
    }
    let mut out = crate::terminal::stdout_data();
    writeln!(out, "{}", library.archive.display()).output_error()?;
    for archive in installed_archives {
        writeln!(out, "{}", archive.display()).output_error()?;
    }
    Ok(ExitStatus::Success)
}

/// For `doctor`: which TFLM sources the host check uses for each library version it has a
/// profile for — the installed library's own (built or not yet) or tfmicro + the profile.
pub fn installed_summary(cache_dir: &Path, compiler: &HostCompiler) -> String {
    let data_dir = crate::settings::default_host_data();
    let libraries = crate::settings::arduino_libraries();
    let lines: Vec<String> = profiled_libraries(&data_dir.join("profiles"))
        .into_iter()
        .map(|(name, version)| {
            let found = libraries.as_deref().map_or(installed::Lookup::Absent, |l| {
                installed::lookup(l, &name, &version)
            });
            match found {
                installed::Lookup::Found(library) => {
                    match installed::find_built(cache_dir, &library, compiler, &data_dir) {
                        Ok(Some(_)) => format!(
                            "{name} {version}: the installed library's own sources at {}",
                            library.dir.display()
                        ),
                        _ => format!(
                            "{name} {version}: installed at {} but not built for the host \
                             (autopilot host setup); tfmicro + API profile until then",
                            library.dir.display()
                        ),
                    }
                }
                other => format!(
                    "{name} {version}: tfmicro + API profile ({})",
                    other
                        .note()
                        .unwrap_or_else(|| "not installed for arduino-cli".to_owned())
                ),
            }
        })
        .collect();
    lines.join("; ")
}

/// `(library, version)` of every profile folder (`<library>@<version>`).
fn profiled_libraries(profiles: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = fs_err::read_dir(profiles)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (library, version) = name.split_once('@')?;
            Some((library.to_owned(), version.to_owned()))
        })
        .collect();
    found.sort();
    found
}

fn check(args: &HostCheckArgs) -> CliResult<ExitStatus> {
    let app = App::load(&args.app)
        .context("invalid app file")
        .input_error()?;
    let targets = crate::settings::targets(&args.targets)?;
    let target_name = args.target.clone().unwrap_or_else(|| app.target.clone());
    let target = targets.get(&target_name).input_error()?.clone();
    let tinyml = target
        .tinyml
        .clone()
        .ok_or_else(|| anyhow!("target `{target_name}` has no TinyML library"))
        .input_error()?;
    let family = CoreFamily::for_core(&target.core)
        .ok_or_else(|| anyhow!("no host core stand-in for `{}`", target.core))
        .input_error()?;
    let profile = Profile::load(
        &args.host_data.join("profiles"),
        &tinyml.library,
        &tinyml.version,
    )
    .context("invalid host profile")
    .input_error()?;
    let Some(profile) = profile else {
        let skipped =
            autopilot_hostrun::check::skipped_no_profile(&tinyml.library, &tinyml.version);
        return print_result(args.format, &skipped, ExitStatus::Failure);
    };
    let scene = scene_for(&app.host_dataset(), app.classes.clone(), &app.host)
        .context("invalid dataset")
        .input_error()?;
    let cache_dir = crate::settings::cache_dir(args.cache_dir.as_deref())?;
    let sketch_dir = if args.sketch.is_file() {
        args.sketch
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    } else {
        args.sketch.clone()
    };
    let build_dir = args.build_dir.clone().unwrap_or_else(|| {
        cache_dir.join("host-builds").join(
            sketch_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    });
    let host_data = args.host_data.clone();
    let event = crate::setup::current_thread_runtime()?.block_on(async {
        let (compiler, tflm) = toolchain_for(&cache_dir, &args.cxx, &args.cargo, 2).await?;
        let (installed, note) = installed_build(
            &cache_dir,
            &host_data,
            &compiler,
            &tinyml.library,
            &tinyml.version,
            2,
        )
        .await?;
        let prepared = profile::prepare(
            &profile,
            &tflm,
            &compiler,
            &host_data.join("cores/common"),
            2,
        )
        .await
        .context("cannot prepare the host profile")
        .tool_unavailable()?;
        let toolchain = HostToolchain {
            compiler,
            tflm,
            profile: prepared,
            installed,
        };
        let request = BuildRequest {
            sketch_dir,
            build_dir,
            data_dir: host_data,
            family,
            ctags: args.ctags.clone(),
            jobs: 2,
            extra_files: app
                .model
                .as_ref()
                .map(|m| vec![(m.header_name.clone(), m.header_text.clone())])
                .unwrap_or_default(),
            // The sketch is untrusted code: built and run in the sandbox unless opted out.
            sandbox: (!args.no_sandbox).then(autopilot_toolchain::SandboxConfig::default),
        };
        let report = check_sketch(
            &toolchain,
            &request,
            &scene,
            &Policy::default(),
            Duration::from_secs(args.budget),
        )
        .await
        .context("the host check could not run")
        .tool_unavailable()?;
        let mut event = report.to_trace_event(1);
        if let Some(note) = note {
            event.tflm_source = format!("{}; {note}", event.tflm_source);
        }
        Ok::<_, crate::exit::CliError>(event)
    })?;
    let status = if event.verdict == HostVerdictKind::Pass {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    print_result(args.format, &event, status)
}

fn print_result(
    format: Format,
    event: &autopilot_trace::HostCheckFinished,
    status: ExitStatus,
) -> CliResult<ExitStatus> {
    // The verdict quotes the sketch's serial output: untrusted text, escaped for a terminal.
    let mut out = match format {
        Format::Json => crate::terminal::stdout_data(),
        Format::Human => crate::terminal::stdout_human(),
    };
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, event).output_error()?;
            writeln!(out).output_error()?;
        }
        Format::Human => {
            let verdict = serde_json::to_value(event.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            writeln!(out, "host check: {verdict} — {}", event.summary).output_error()?;
            for d in &event.diagnostics {
                writeln!(out, "  {}", autopilot_toolchain::diagnostics::render(d))
                    .output_error()?;
            }
            let figure = |v: Option<f64>| {
                v.map_or_else(|| "unknown".to_owned(), |v| format!("{:.1}%", v * 100.0))
            };
            writeln!(
                out,
                "  profile {}; {}\n  build {} ms; run {}; invokes {}; printed accuracy {}; model accuracy {}; arena {}",
                event.profile,
                event.tflm_source,
                event.build_ms,
                event.run_ms.map_or_else(|| "-".to_owned(), |m| format!("{m} ms")),
                event.invokes.map_or_else(|| "unknown".to_owned(), |n| n.to_string()),
                figure(event.printed_accuracy),
                figure(event.model_accuracy),
                event.arena_used_bytes.map_or_else(|| "unknown".to_owned(), |n| format!("{n} bytes")),
            )
            .input_error()?;
        }
    }
    Ok(status)
}
