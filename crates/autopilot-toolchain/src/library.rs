//! The library resolver: a missing header to a library name, through the curated map and
//! allow-list in `data/libraries.toml` and `arduino-cli lib search`. It never installs a name
//! that is not allow-listed, and installs only when the caller allows it; an install succeeds
//! only when arduino-cli's exit code says so.

use std::path::Path;

use autopilot_trace::{Diagnostic, LibraryInstalled, LibraryResolved, ResolutionSource, Severity};
use serde::Deserialize;

use crate::backend::arduino_cli;
use crate::compile::{CompileError, Compiler};
use crate::data::{self, DataError};
use crate::target::Target;
use crate::tinyml::TinyMlApi;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFiles {
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub patterns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryEntry {
    pub name: String,
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub header_prefixes: Vec<String>,
    /// Architectures it supports (`library.properties`); empty means all.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// `false`: known, but never installed (gone from the registry, …).
    #[serde(default = "yes")]
    pub install: bool,
    #[serde(default)]
    pub note: String,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreHeaders {
    pub architecture: String,
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub header_prefixes: Vec<String>,
}

/// `data/libraries.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryCatalog {
    #[serde(default)]
    pub project_files: ProjectFiles,
    #[serde(default, rename = "library")]
    pub libraries: Vec<LibraryEntry>,
    #[serde(default, rename = "core")]
    pub cores: Vec<CoreHeaders>,
}

const BUILTIN: &str = include_str!("../../../data/libraries.toml");

impl LibraryCatalog {
    /// The repository's `data/libraries.toml` as it was at build time.
    pub fn builtin() -> LibraryCatalog {
        LibraryCatalog::parse(Path::new("data/libraries.toml"), BUILTIN)
            .expect("the built-in catalog is valid (a test checks it)")
    }

    pub fn load(path: &Path) -> Result<LibraryCatalog, DataError> {
        LibraryCatalog::parse(path, &data::read(path)?)
    }

    pub fn parse(path: &Path, text: &str) -> Result<LibraryCatalog, DataError> {
        let invalid = |message: String| DataError::invalid(path, message);
        let catalog: LibraryCatalog = data::parse_toml(path, text)?;
        for (index, library) in catalog.libraries.iter().enumerate() {
            if library.name.trim().is_empty() {
                return Err(invalid(format!(
                    "key `library[{index}].name`: must not be empty"
                )));
            }
            if library.headers.is_empty() && library.header_prefixes.is_empty() {
                return Err(invalid(format!(
                    "key `library[{index}].headers`: `{}` lists no header",
                    library.name
                )));
            }
        }
        Ok(catalog)
    }

    /// Whether `name` may be installed.
    pub fn is_allowed(&self, name: &str) -> bool {
        self.libraries
            .iter()
            .any(|lib| lib.name == name && lib.install)
    }

    pub fn entry(&self, name: &str) -> Option<&LibraryEntry> {
        self.libraries.iter().find(|lib| lib.name == name)
    }

    fn is_project_file(&self, header: &str) -> bool {
        let base = header.rsplit('/').next().unwrap_or(header);
        self.project_files
            .headers
            .iter()
            .any(|h| h == header || h == base)
            || self
                .project_files
                .patterns
                .iter()
                .any(|p| glob(p, header) || glob(p, base))
    }

    /// Libraries whose headers (exactly, or by prefix) include `header`.
    fn candidates(&self, header: &str) -> Vec<&LibraryEntry> {
        let base = header.rsplit('/').next().unwrap_or(header);
        let exact: Vec<&LibraryEntry> = self
            .libraries
            .iter()
            .filter(|lib| {
                lib.headers
                    .iter()
                    .any(|h| h == header || (!header.contains('/') && h == base))
            })
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        self.libraries
            .iter()
            .filter(|lib| {
                lib.header_prefixes
                    .iter()
                    .any(|p| header.starts_with(p.as_str()))
            })
            .collect()
    }

    fn core_of(&self, header: &str) -> Vec<&str> {
        self.cores
            .iter()
            .filter(|core| {
                core.headers.iter().any(|h| h == header)
                    || core
                        .header_prefixes
                        .iter()
                        .any(|p| header.starts_with(p.as_str()))
            })
            .map(|core| core.architecture.as_str())
            .collect()
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// `<Foo.h>`, `"./Foo.h"` → `Foo.h`.
pub fn normalize_header(header: &str) -> String {
    let trimmed = header
        .trim()
        .trim_matches(|c| c == '<' || c == '>' || c == '"');
    trimmed.strip_prefix("./").unwrap_or(trimmed).to_owned()
}

/// What the resolver knows about the session.
#[derive(Debug, Clone, Copy)]
pub struct ResolveContext<'a> {
    pub target: &'a Target,
    /// Libraries installed now (names).
    pub installed: &'a [String],
    pub tinyml_api: Option<&'a TinyMlApi>,
}

/// Resolves a missing header with the catalog alone (steps 1–3 of `data/libraries.toml`).
/// `None` when only a registry search could tell.
pub fn resolve_offline(
    catalog: &LibraryCatalog,
    ctx: &ResolveContext<'_>,
    attempt: u32,
    header: &str,
) -> Option<LibraryResolved> {
    let header = normalize_header(header);
    let resolved =
        |library: Option<String>, source, candidates: Vec<String>, allowed, reason: String| {
            LibraryResolved {
                attempt,
                header: header.clone(),
                library,
                source,
                candidates,
                allowed,
                reason,
            }
        };
    if catalog.is_project_file(&header) {
        return Some(resolved(
            None,
            ResolutionSource::ProjectFile,
            Vec::new(),
            false,
            "a project file, not a library: include only the files the project provides (the model header)".to_owned(),
        ));
    }
    if let (Some(api), Some(tinyml)) = (ctx.tinyml_api, &ctx.target.tinyml)
        && let Some(facts) = api.facts(&tinyml.library, &tinyml.version)
        && let Some(removed) = facts.forbidden_headers.iter().find(|f| f.name == header)
    {
        return Some(resolved(
            None,
            ResolutionSource::NotFound,
            vec![tinyml.library.clone()],
            false,
            format!(
                "not part of {} {}: {}",
                tinyml.library,
                tinyml.version,
                removed.describe()
            ),
        ));
    }
    let architecture = ctx.target.architecture();
    let all = catalog.candidates(&header);
    let candidates: Vec<&LibraryEntry> = all
        .iter()
        .copied()
        .filter(|lib| lib.architectures.is_empty() || lib.architectures.contains(&architecture))
        .collect();
    if candidates.is_empty() && !all.is_empty() {
        let names: Vec<String> = all.iter().map(|lib| lib.name.clone()).collect();
        return Some(resolved(
            None,
            ResolutionSource::NotFound,
            names.clone(),
            false,
            format!(
                "{} support(s) other boards, not {architecture} ({})",
                names.join(", "),
                ctx.target.display_name
            ),
        ));
    }
    if !candidates.is_empty() {
        let names: Vec<String> = candidates.iter().map(|lib| lib.name.clone()).collect();
        // The target's pinned TinyML library first, then an installable one.
        let pinned = ctx.target.tinyml.as_ref().map(|t| t.library.as_str());
        let sensor = ctx
            .target
            .sensors
            .iter()
            .filter_map(|s| s.library.as_deref())
            .find(|l| names.iter().any(|n| n == l));
        let chosen = candidates
            .iter()
            .find(|lib| Some(lib.name.as_str()) == pinned || Some(lib.name.as_str()) == sensor)
            .or_else(|| candidates.iter().find(|lib| lib.install))
            .unwrap_or(&candidates[0]);
        let allowed = chosen.install;
        let reason = if ctx.installed.contains(&chosen.name) {
            format!(
                "{} is installed but has no `{header}`: the code uses an API this version lacks",
                chosen.name
            )
        } else if allowed {
            chosen.note.clone()
        } else {
            format!(
                "{} is known but never installed: {}",
                chosen.name, chosen.note
            )
        };
        return Some(resolved(
            Some(chosen.name.clone()),
            ResolutionSource::CuratedMap,
            names,
            allowed,
            reason,
        ));
    }
    let cores = catalog.core_of(&header);
    if !cores.is_empty() {
        let reason = if cores.contains(&architecture.as_str()) {
            format!("comes with the {architecture} core; nothing to install")
        } else {
            format!(
                "comes with the {} core, not with {architecture} ({}): use what this board offers",
                cores.join("/"),
                ctx.target.display_name
            )
        };
        return Some(resolved(
            None,
            ResolutionSource::NotFound,
            Vec::new(),
            false,
            reason,
        ));
    }
    None
}

/// The headers `fatal error: X: No such file or directory` diagnostics name, first seen first.
pub fn missing_headers(diagnostics: &[Diagnostic]) -> Vec<String> {
    let mut headers = Vec::new();
    for diagnostic in diagnostics {
        if let Some(header) = diagnostic
            .message
            .strip_suffix(": No such file or directory")
            && diagnostic.severity == Severity::Fatal
            && !headers.iter().any(|h| h == header)
        {
            headers.push(header.to_owned());
        }
    }
    headers
}

/// Resolves a missing header (see [`missing_headers`]): the catalog, then `arduino-cli lib search provides:<header>`
/// when arduino-cli is the session's backend. The chosen library is always allow-listed or
/// reported as not allowed.
pub async fn resolve(
    catalog: &LibraryCatalog,
    compiler: &Compiler,
    tinyml_api: Option<&TinyMlApi>,
    attempt: u32,
    header: &str,
) -> Result<LibraryResolved, CompileError> {
    let installed: Vec<String> = compiler.versions().iter().map(|v| v.name.clone()).collect();
    let ctx = ResolveContext {
        target: compiler.target(),
        installed: &installed,
        tinyml_api,
    };
    if let Some(resolved) = resolve_offline(catalog, &ctx, attempt, header) {
        return Ok(resolved);
    }
    let header = normalize_header(header);
    let mut resolved = LibraryResolved {
        attempt,
        header: header.clone(),
        library: None,
        source: ResolutionSource::NotFound,
        candidates: Vec::new(),
        allowed: false,
        reason: String::new(),
    };
    let Some(program) = compiler.cli_program() else {
        "not in the curated map, and no arduino-cli to search the registry"
            .clone_into(&mut resolved.reason);
        return Ok(resolved);
    };
    let hits = match arduino_cli::lib_search(&compiler.config().arduino_cli, program, &header).await
    {
        Ok(hits) => hits,
        Err(error) => {
            // `lib search` refreshes its index when older than an hour and fails offline
            // (exit 1, `Error updating library index`): the header stays unresolved, the
            // session goes on.
            resolved.reason = format!(
                "not found: `lib search provides:{header}` failed ({error}); not in the curated map either"
            );
            data::truncate(&mut resolved.reason, 500);
            return Ok(resolved);
        }
    };
    resolved.candidates = hits.iter().map(|hit| hit.name.clone()).collect();
    if let Some(hit) = hits.iter().find(|hit| catalog.is_allowed(&hit.name)) {
        resolved.library = Some(hit.name.clone());
        resolved.source = ResolutionSource::LibSearch;
        resolved.allowed = true;
        resolved.reason = format!(
            "`lib search provides:{header}` found {} result(s)",
            hits.len()
        );
    } else if let Some(first) = hits.first() {
        resolved.library = Some(first.name.clone());
        resolved.source = ResolutionSource::LibSearch;
        resolved.reason = format!(
            "`{}` provides it but is not in the allow-list (data/libraries.toml)",
            first.name
        );
    } else {
        resolved.reason =
            format!("no library provides `{header}`: the header is probably invented");
    }
    Ok(resolved)
}

/// The version to install: the target's pinned one for this library, if any.
pub fn pinned_version(target: &Target, library: &str) -> Option<String> {
    if let Some(tinyml) = target.tinyml.as_ref().filter(|t| t.library == library) {
        return Some(tinyml.version.clone());
    }
    target
        .sensors
        .iter()
        .find(|s| s.library.as_deref() == Some(library))
        .and_then(|s| s.version.clone())
}

/// What [`install`] did: the trace event, and whether the installed libraries changed (an
/// `Already installed` answer changes nothing, so nothing needs compiling again).
#[derive(Debug, Clone, PartialEq)]
pub struct InstallReport {
    pub event: LibraryInstalled,
    pub changed: bool,
}

/// Installs `library` (at the target's pinned version) when it is allow-listed and the caller
/// allows installs; otherwise reports why not, without running anything. Versions are read
/// again after a successful install so the compile cache key follows; `changed` says whether
/// they moved.
pub async fn install(
    catalog: &LibraryCatalog,
    compiler: &mut Compiler,
    attempt: u32,
    library: &str,
    allow_installs: bool,
) -> Result<InstallReport, CompileError> {
    let version = pinned_version(compiler.target(), library);
    let refused = |message: String| InstallReport {
        event: LibraryInstalled {
            attempt,
            library: library.to_owned(),
            version: version.clone(),
            succeeded: false,
            exit_code: None,
            message,
        },
        changed: false,
    };
    if !catalog.is_allowed(library) {
        return Ok(refused(format!(
            "`{library}` is not in the allow-list (data/libraries.toml); not installed"
        )));
    }
    if !allow_installs {
        return Ok(refused(
            "library installs are not allowed for this run".to_owned(),
        ));
    }
    let Some(program) = compiler.cli_program().map(Path::to_path_buf) else {
        return Ok(refused(
            "installing needs arduino-cli; arduino-builder uses its libraries folder as it is"
                .to_owned(),
        ));
    };
    let installed = arduino_cli::lib_install(
        &compiler.config().arduino_cli,
        &program,
        attempt,
        library,
        version.as_deref(),
    )
    .await?;
    let changed = compiler.after_install(&installed).await?;
    Ok(InstallReport {
        event: installed,
        changed,
    })
}
