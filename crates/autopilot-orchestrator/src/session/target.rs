//! The session's target as the pure steps see it: one projection of the toolchain's `Target`
//! (board facts, allowed libraries, the pinned TinyML library and the APIs it lacks), made
//! once per session. Prompts, spec rules, prechecks and the repair prompt's board block all
//! read it, so they cannot disagree about the board.

use autopilot_steps::{ForbiddenApi, TargetFacts, TinymlLibrary};
use autopilot_toolchain::{LibraryCatalog, Target, TinyMlApi};

/// The toolchain's target projected for the pure steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetView {
    /// What prompts and the spec rules see (with the libraries a spec may name).
    pub facts: TargetFacts,
    /// The APIs the target's pinned TinyML library lacks, for prechecks and prompts.
    pub forbidden: Vec<ForbiddenApi>,
}

impl TargetView {
    pub fn new(target: &Target, catalog: &LibraryCatalog, api: &TinyMlApi) -> TargetView {
        let allowed = allowed_libraries(catalog, target);
        TargetView {
            facts: target_facts(target, &allowed),
            forbidden: forbidden_apis(target, api),
        }
    }
}

/// The APIs the target's pinned TinyML library lacks, for prechecks and prompts.
fn forbidden_apis(target: &Target, api: &TinyMlApi) -> Vec<ForbiddenApi> {
    let Some(pinned) = &target.tinyml else {
        return Vec::new();
    };
    let Some(facts) = api.facts(&pinned.library, &pinned.version) else {
        return Vec::new();
    };
    facts
        .forbidden_headers
        .iter()
        .chain(&facts.forbidden_symbols)
        .map(|item| ForbiddenApi {
            symbol_or_header: item.name.clone(),
            reason: item.describe(),
        })
        .collect()
}

/// Library names a spec may name for the target: allow-listed libraries for its architecture,
/// its pinned TinyML and sensor libraries, and the libraries its core ships.
fn allowed_libraries(catalog: &LibraryCatalog, target: &Target) -> Vec<String> {
    let arch = target.architecture();
    let mut names: Vec<String> = catalog
        .libraries
        .iter()
        .filter(|l| {
            l.architectures.is_empty() || l.architectures.iter().any(|a| a == &arch || a == "*")
        })
        .map(|l| l.name.clone())
        .collect();
    names.extend(target.tinyml.iter().map(|t| t.library.clone()));
    names.extend(target.sensors.iter().filter_map(|s| s.library.clone()));
    for core in catalog.cores.iter().filter(|c| c.architecture == arch) {
        names.extend(
            core.headers
                .iter()
                .map(|h| h.trim_end_matches(".h").to_owned()),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The target as prompts see it.
fn target_facts(target: &Target, allowed_libraries: &[String]) -> TargetFacts {
    TargetFacts {
        name: target.name.clone(),
        board: target.display_name.clone(),
        fqbn: target.fqbn.clone(),
        flash_bytes: Some(target.flash_bytes),
        ram_bytes: Some(target.ram_bytes),
        tinyml: target.tinyml.as_ref().map(|t| TinymlLibrary {
            name: t.library.clone(),
            version: t.version.clone(),
            header: t.header.clone(),
        }),
        simulator: target.simulator.as_ref().map(|s| s.kind.clone()),
        allowed_libraries: allowed_libraries.to_vec(),
    }
}
