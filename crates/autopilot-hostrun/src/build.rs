//! The host build of one sketch: prototypes (arduino-ctags), library discovery as arduino-cli
//! does it, compile against the core stand-in and either the library profile over tfmicro or the
//! user's installed library ([`TflmSource`]), link with that TFLM and the observer. Compiler
//! output is parsed by the same GCC parser as real compiles; a failed build is an outcome.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use autopilot_diagnostics::{PathMap, parse_gcc_output};
use autopilot_toolchain::{Sandbox, SandboxConfig};
use autopilot_trace::Diagnostic;
use regex::Regex;

use crate::HostError;
use crate::command::{self, CXX_FLAGS, HostCompiler, INSTALLED_CXX_FLAGS, has_extension, run_ok};
use crate::installed::InstalledTflm;
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

/// The TFLM a sketch builds against.
#[derive(Debug, Clone, Copy)]
pub enum TflmSource<'a> {
    /// crates.io `tfmicro` behind the pinned library's API profile.
    Profile {
        tflm: &'a TflmLibrary,
        profile: &'a PreparedProfile,
    },
    /// The user's installed pinned library, built from its own sources: its real headers.
    Installed(&'a InstalledTflm),
}

impl TflmSource<'_> {
    /// The library as a discovery candidate: its top-level headers make it join.
    fn candidate(&self) -> Result<Candidate, HostError> {
        let (name, all_headers) = match self {
            TflmSource::Profile { profile, .. } => (
                profile.profile.library.clone(),
                profile.profile.headers.iter().cloned().collect::<Vec<_>>(),
            ),
            TflmSource::Installed(installed) => {
                (installed.library.name.clone(), installed.headers()?)
            }
        };
        Ok(Candidate {
            name,
            top_level: all_headers
                .iter()
                .filter(|h| !h.contains('/'))
                .cloned()
                .collect(),
            has: has_header,
            all_headers,
        })
    }

    fn include_dirs(&self) -> Vec<PathBuf> {
        match self {
            TflmSource::Profile { tflm, profile } => {
                profile.profile.include_dirs(&profile.poison_dir, tflm)
            }
            TflmSource::Installed(installed) => vec![installed.library.src()],
        }
    }

    /// The base flags of the sketch's units: they must agree with the library's.
    fn flags(&self) -> &'static [&'static str] {
        match self {
            TflmSource::Profile { .. } => CXX_FLAGS,
            TflmSource::Installed(_) => INSTALLED_CXX_FLAGS,
        }
    }

    fn poison_dir(&self) -> Option<&Path> {
        match self {
            TflmSource::Profile { profile, .. } => Some(&profile.poison_dir),
            TflmSource::Installed(_) => None,
        }
    }

    /// Objects and archive to link, after the sketch's own objects.
    fn link_inputs(&self) -> Vec<PathBuf> {
        match self {
            TflmSource::Profile { tflm, profile } => {
                let mut inputs = profile.objects.clone();
                inputs.push(tflm.archive.clone());
                inputs
            }
            TflmSource::Installed(installed) => {
                let mut inputs = installed.objects.clone();
                inputs.push(installed.archive.clone());
                inputs
            }
        }
    }

    /// Folders the build reads besides the sketch and `data/host`.
    fn readable(&self) -> Vec<PathBuf> {
        match self {
            TflmSource::Profile { tflm, profile } => {
                let mut dirs = vec![
                    tflm.dir.clone(),
                    tflm.tf_root.clone(),
                    profile.profile.dir.clone(),
                    profile.poison_dir.clone(),
                ];
                dirs.extend(
                    profile
                        .objects
                        .iter()
                        .filter_map(|o| o.parent().map(Path::to_path_buf)),
                );
                dirs
            }
            TflmSource::Installed(installed) => {
                vec![installed.dir.clone(), installed.library.dir.clone()]
            }
        }
    }
}

/// The sandbox for every tool that reads the sketch: the sketch, the stand-ins and the TFLM
/// source readable; only the build folder writable.
fn build_sandbox(request: &BuildRequest, source: &TflmSource<'_>) -> Option<Sandbox> {
    let config = request.sandbox.as_ref()?;
    let mut sandbox = Sandbox::new(config)
        .read_only(&request.sketch_dir)
        .read_only(&request.data_dir)
        .writable(&request.build_dir);
    for dir in source.readable() {
        sandbox = sandbox.read_only(&dir);
    }
    Some(sandbox)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Builds the sketch for the host against tfmicro and the library's API profile.
pub async fn build_sketch(
    request: &BuildRequest,
    compiler: &HostCompiler,
    tflm: &TflmLibrary,
    profile: &PreparedProfile,
) -> Result<HostBuild, HostError> {
    build_sketch_with(request, compiler, &TflmSource::Profile { tflm, profile }).await
}

/// Builds the sketch for the host against `source`.
pub async fn build_sketch_with(
    request: &BuildRequest,
    compiler: &HostCompiler,
    source: &TflmSource<'_>,
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
    let sandbox = build_sandbox(request, source);
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

    // Library discovery: the TFLM library (profiled or installed) and the stand-ins.
    let stand_ins = stand_in_libraries(&request.data_dir)?;
    let mut candidates: Vec<Candidate> = stand_ins.iter().map(|(c, _)| c.clone()).collect();
    let tflm_candidate = source.candidate()?;
    let tflm_name = tflm_candidate.name.clone();
    candidates.push(tflm_candidate);
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
        if *lib == tflm_name {
            include_dirs.extend(source.include_dirs());
            // The installed library's units that need the core build with the sketch.
            if let TflmSource::Installed(installed) = source {
                for unit in installed.core_sources() {
                    let object = obj.join(format!("{lib}-{}.o", file_stem(&unit)));
                    units.push((unit, object));
                }
            }
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
    let flags = source.flags();
    let poison_dir = source.poison_dir();
    // The sketch first: its diagnostics are the ones that matter.
    let sketch_obj = obj.join(format!("{name}.ino.o"));
    let spec = compiler
        .compile_spec_as("c++", flags, defines, &include_dirs, &cpp, &sketch_obj)
        .sandbox(sandbox.clone());
    let out = command::run(&spec).await?;
    let paths = PathMap::sketch(&sketch_build).with(&request.sketch_dir, "");
    if !out.success() {
        return Ok(failed(
            &out.stderr.text(),
            &paths,
            poison_dir,
            joined,
            started,
        ));
    }
    for (unit, object) in &units {
        let spec = compiler
            .compile_spec_as("c++", flags, defines, &include_dirs, unit, object)
            .sandbox(sandbox.clone());
        let out = command::run(&spec).await?;
        if !out.success() {
            return Ok(failed(
                &out.stderr.text(),
                &paths,
                poison_dir,
                joined,
                started,
            ));
        }
    }
    let mut inputs = vec![sketch_obj];
    inputs.extend(units.into_iter().map(|(_, o)| o));
    inputs.extend(source.link_inputs());
    let binary = request.build_dir.join(format!("{name}.host"));
    let link = compiler
        .link_spec(&inputs, WRAPPED, &binary)
        .sandbox(sandbox.clone());
    let out = command::run(&link).await?;
    if !out.success() {
        return Ok(failed(
            &out.stderr.text(),
            &paths,
            poison_dir,
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
    poison_dir: Option<&Path>,
    libraries: Vec<String>,
    started: Instant,
) -> HostBuild {
    let parsed = parse_gcc_output(text, paths);
    let diagnostics = match poison_dir {
        Some(dir) => {
            let poison = dir.to_string_lossy();
            parsed
                .diagnostics
                .into_iter()
                .map(|d| unpoison(d, &poison))
                .collect()
        }
        // Real headers: the compiler's words stand as they are.
        None => parsed.diagnostics,
    };
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
