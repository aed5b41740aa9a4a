//! The host build of one sketch: prototypes (arduino-ctags), library discovery as arduino-cli
//! does it, compile against the core stand-in and the library profile, link with the host TFLM
//! and the observer. Compiler output is parsed by the same GCC parser as real compiles; a failed
//! build is an outcome.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use autopilot_diagnostics::{PathMap, parse_gcc_output};
use autopilot_toolchain::{Sandbox, SandboxConfig};
use autopilot_trace::Diagnostic;
use regex::Regex;

use crate::HostError;
use crate::command::{self, HostCompiler, has_extension, run_ok};
use crate::profile::{CoreFamily, PreparedProfile};
use crate::prototypes::{functions_needing_prototypes, insert_prototypes};
use crate::tflm::TflmLibrary;

/// The mangled symbols the observer wraps.
pub const WRAPPED: &[&str] = &[
    "_ZN6tflite16MicroInterpreter6InvokeEv",
    "_ZN6tflite16MicroInterpreter15AllocateTensorsEv",
];

/// Headers every core provides (never trigger library discovery).
const CORE_HEADERS: &[&str] = &["Arduino.h", "Wire.h", "avr/pgmspace.h"];

/// One host build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The sketch folder: `<name>/<name>.ino` plus local headers (`model.h`).
    pub sketch_dir: PathBuf,
    /// Scratch folder for this build (reused, overwritten).
    pub build_dir: PathBuf,
    /// `data/host` of the repository.
    pub data_dir: PathBuf,
    pub family: CoreFamily,
    pub ctags: PathBuf,
    pub jobs: usize,
    /// Files to add beside the sketch when it lacks them (`model.h` from the app), as a session
    /// writes them into the sketch folder.
    pub extra_files: Vec<(String, String)>,
    /// The sandbox the sketch's compile, link and run happen in (`None`: the user opted out).
    pub sandbox: Option<SandboxConfig>,
}

/// A library that joined the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedLibrary {
    pub name: String,
    pub include_dirs: Vec<PathBuf>,
    pub sources: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HostBuildOutcome {
    Built {
        binary: PathBuf,
    },
    Failed {
        diagnostics: Vec<Diagnostic>,
        /// The compiler's text (paths made relative to the sketch).
        output: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct HostBuild {
    pub outcome: HostBuildOutcome,
    pub libraries: Vec<String>,
    pub duration: Duration,
}

static INCLUDE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?m)^\s*#\s*include\s*[<"]([^>"]+)[>"]"#).expect("valid regex"));

/// The headers a source includes, in order.
pub fn includes(source: &str) -> Vec<String> {
    INCLUDE
        .captures_iter(source)
        .map(|c| c[1].to_owned())
        .collect()
}

/// A candidate library for discovery.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    /// Headers in its source root (what an `#include` can name to make it join).
    pub top_level: Vec<String>,
    /// Whether it has this header anywhere (once joined).
    pub has: fn(&Candidate, &str) -> bool,
    pub all_headers: Vec<String>,
}

fn has_header(c: &Candidate, header: &str) -> bool {
    c.all_headers.iter().any(|h| h == header)
}

/// arduino-cli's discovery: walking the sketch's includes in order, a header the core, the
/// sketch or a joined library provides is fine; one in a candidate's source root makes that
/// library join; the first header nobody provides stops discovery (the compile then reports it
/// as missing, like the board's build). Returns the names of the joined candidates, in order.
pub fn discover(headers: &[String], local: &[String], candidates: &[Candidate]) -> Vec<String> {
    let mut joined: Vec<&Candidate> = Vec::new();
    for header in headers {
        if CORE_HEADERS.contains(&header.as_str())
            || local.contains(header)
            || joined.iter().any(|c| (c.has)(c, header))
        {
            continue;
        }
        if let Some(c) = candidates
            .iter()
            .find(|c| c.top_level.iter().any(|t| t == header))
        {
            joined.push(c);
            continue;
        }
        // A standard header (<math.h>, <stdint.h>, <cstring>…) is not a library's business.
        if !header.contains('/') && (has_extension(header, &["h"]) || !header.contains('.')) {
            continue;
        }
        break;
    }
    joined.into_iter().map(|c| c.name.clone()).collect()
}

fn stand_in_libraries(data_dir: &Path) -> Result<Vec<(Candidate, PathBuf)>, HostError> {
    let root = data_dir.join("libraries");
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = fs_err::read_dir(&root)
        .map_err(HostError::io(&root))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for dir in entries {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('@').next())
            .unwrap_or_default()
            .to_owned();
        let src = dir.join("src");
        let headers: Vec<String> = fs_err::read_dir(&src)
            .map_err(HostError::io(&src))?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| has_extension(n, &["h"]))
            .collect();
        out.push((
            Candidate {
                name,
                top_level: headers.clone(),
                has: has_header,
                all_headers: headers,
            },
            src,
        ));
    }
    Ok(out)
}

fn sources_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs_err::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e == "cpp" || e == "cc" || e == "c")
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The sandbox for every tool that reads the sketch: the sketch, the stand-ins and profile, the
/// built library readable; only the build folder writable.
fn build_sandbox(
    request: &BuildRequest,
    tflm: &TflmLibrary,
    profile: &PreparedProfile,
) -> Option<Sandbox> {
    let config = request.sandbox.as_ref()?;
    let mut sandbox = Sandbox::new(config)
        .read_only(&request.sketch_dir)
        .read_only(&request.data_dir)
        .read_only(&tflm.dir)
        .read_only(&tflm.tf_root)
        .read_only(&profile.profile.dir)
        .read_only(&profile.poison_dir)
        .writable(&request.build_dir);
    for object in &profile.objects {
        if let Some(dir) = object.parent() {
            sandbox = sandbox.read_only(dir);
        }
    }
    Some(sandbox)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Builds the sketch for the host.
pub async fn build_sketch(
    request: &BuildRequest,
    compiler: &HostCompiler,
    tflm: &TflmLibrary,
    profile: &PreparedProfile,
) -> Result<HostBuild, HostError> {
    let started = Instant::now();
    let name = request
        .sketch_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("sketch")
        .to_owned();
    let ino = request.sketch_dir.join(format!("{name}.ino"));
    let text = fs_err::read_to_string(&ino).map_err(HostError::io(&ino))?;
    let sketch_build = request.build_dir.join("sketch");
    if sketch_build.exists() {
        fs_err::remove_dir_all(&sketch_build).map_err(HostError::io(&sketch_build))?;
    }
    fs_err::create_dir_all(&sketch_build).map_err(HostError::io(&sketch_build))?;
    // The sketch's other files (model.h, helpers) sit beside the generated .cpp, as in a real build.
    let mut local = Vec::new();
    let mut local_sources = Vec::new();
    for entry in fs_err::read_dir(&request.sketch_dir)
        .map_err(HostError::io(&request.sketch_dir))?
        .filter_map(Result::ok)
    {
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        if path.is_file() && !has_extension(&file, &["ino"]) {
            let to = sketch_build.join(&file);
            fs_err::copy(&path, &to).map_err(HostError::io(&to))?;
            if has_extension(&file, &["cpp", "c"]) {
                local_sources.push(to);
            }
            local.push(file);
        }
    }
    for (file, text) in &request.extra_files {
        if !local.contains(file) {
            let to = sketch_build.join(file);
            fs_err::write(&to, text).map_err(HostError::io(&to))?;
            local.push(file.clone());
        }
    }
    // Prototypes, as the builders generate them.
    let file_label = format!("{name}.ino");
    let cpp = sketch_build.join(format!("{name}.ino.cpp"));
    let plain = format!("#include <Arduino.h>\n#line 1 \"{file_label}\"\n{text}");
    fs_err::write(&cpp, &plain).map_err(HostError::io(&cpp))?;
    let sandbox = build_sandbox(request, tflm, profile);
    let tags = run_ok(&command::ctags_spec(&request.ctags, &cpp).sandbox(sandbox.clone())).await?;
    let functions = functions_needing_prototypes(&tags.stdout.text());
    let with_prototypes = match functions.iter().map(|f| f.line).min() {
        // The .ino's line L is line L + 2 of the generated file.
        Some(first) => {
            insert_prototypes(&plain, &file_label, &functions, first as usize + 2, first)
        }
        None => plain,
    };
    fs_err::write(&cpp, &with_prototypes).map_err(HostError::io(&cpp))?;

    // Library discovery: the profile's library and the stand-ins.
    let stand_ins = stand_in_libraries(&request.data_dir)?;
    let mut candidates: Vec<Candidate> = stand_ins.iter().map(|(c, _)| c.clone()).collect();
    let profile_name = profile.profile.library.clone();
    candidates.push(Candidate {
        name: profile_name.clone(),
        top_level: profile
            .profile
            .top_level_headers()
            .map(str::to_owned)
            .collect(),
        has: has_header,
        all_headers: profile.profile.headers.iter().cloned().collect(),
    });
    let joined = discover(&includes(&text), &local, &candidates);

    let core = request.data_dir.join("cores");
    let mut include_dirs = vec![
        sketch_build.clone(),
        core.join(request.family.dir_name()),
        core.join("common"),
    ];
    let mut units: Vec<(PathBuf, PathBuf)> = Vec::new();
    let obj = request.build_dir.join("obj");
    fs_err::create_dir_all(&obj).map_err(HostError::io(&obj))?;
    for lib in &joined {
        if *lib == profile_name {
            include_dirs.extend(profile.profile.include_dirs(&profile.poison_dir, tflm));
        } else if let Some((_, src)) = stand_ins.iter().find(|(c, _)| &c.name == lib) {
            include_dirs.push(src.clone());
            for source in sources_in(src) {
                let object = obj.join(format!("{lib}-{}.o", file_stem(&source)));
                units.push((source, object));
            }
        }
    }
    units.push((
        core.join("common/HostRuntime.cc"),
        obj.join("HostRuntime.o"),
    ));
    for source in &local_sources {
        units.push((
            source.clone(),
            obj.join(format!("local-{}.o", file_stem(source))),
        ));
    }

    let defines = request.family.defines();
    // The sketch first: its diagnostics are the ones that matter.
    let sketch_obj = obj.join(format!("{name}.ino.o"));
    let spec = compiler
        .compile_spec(defines, &include_dirs, &cpp, &sketch_obj)
        .sandbox(sandbox.clone());
    let out = command::run(&spec).await?;
    let paths = PathMap::sketch(&sketch_build).with(&request.sketch_dir, "");
    if !out.success() {
        return Ok(failed(
            &out.stderr.text(),
            &paths,
            &profile.poison_dir,
            joined,
            started,
        ));
    }
    for (source, object) in &units {
        let spec = compiler
            .compile_spec(defines, &include_dirs, source, object)
            .sandbox(sandbox.clone());
        let out = command::run(&spec).await?;
        if !out.success() {
            return Ok(failed(
                &out.stderr.text(),
                &paths,
                &profile.poison_dir,
                joined,
                started,
            ));
        }
    }
    let mut inputs = vec![sketch_obj];
    inputs.extend(units.into_iter().map(|(_, o)| o));
    inputs.extend(profile.objects.iter().cloned());
    inputs.push(tflm.archive.clone());
    let binary = request.build_dir.join(format!("{name}.host"));
    let link = compiler
        .link_spec(&inputs, WRAPPED, &binary)
        .sandbox(sandbox.clone());
    let out = command::run(&link).await?;
    if !out.success() {
        return Ok(failed(
            &out.stderr.text(),
            &paths,
            &profile.poison_dir,
            joined,
            started,
        ));
    }
    Ok(HostBuild {
        outcome: HostBuildOutcome::Built { binary },
        libraries: joined,
        duration: started.elapsed(),
    })
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn failed(
    text: &str,
    paths: &PathMap,
    poison_dir: &Path,
    libraries: Vec<String>,
    started: Instant,
) -> HostBuild {
    let parsed = parse_gcc_output(text, paths);
    let poison = poison_dir.to_string_lossy();
    let diagnostics = parsed
        .diagnostics
        .into_iter()
        .map(|d| unpoison(d, &poison))
        .collect();
    HostBuild {
        outcome: HostBuildOutcome::Failed {
            diagnostics,
            output: paths.apply_in(text),
        },
        libraries,
        duration: started.elapsed(),
    }
}

static INCLUDED_FROM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^In file included from (.+):(\d+)").expect("valid regex"));

/// A poison header's `#error` becomes what the board's compiler says for a missing header:
/// `fatal error: X: No such file or directory` at the sketch's `#include` line.
fn unpoison(mut d: Diagnostic, poison_dir: &str) -> Diagnostic {
    let from_poison = d.file.as_deref().is_some_and(|f| f.starts_with(poison_dir));
    let site = d
        .context
        .iter()
        .rev()
        .find_map(|c| INCLUDED_FROM.captures(c))
        .map(|c| (c[1].to_owned(), c[2].parse::<u32>().ok()));
    let missing = d
        .message
        .strip_prefix("#error \"")
        .and_then(|m| m.split_once(": No such file or directory"))
        .map(|(path, _)| path.to_owned());
    if let (true, Some((file, line)), Some(path)) = (from_poison, site, missing) {
        d.file = Some(file);
        d.line = line;
        d.column = None;
        d.severity = autopilot_trace::Severity::Fatal;
        d.message = format!("{path}: No such file or directory");
        d.context.clear();
    }
    d
}

/// Milliseconds of a build, for traces.
pub fn duration_ms(build: &HostBuild) -> u64 {
    millis(build.duration)
}
