//! `autopilot merge`: joins the run directories of shards into one.

use std::path::{Path, PathBuf};

use autopilot_trace::SessionId;

use super::resume::{
    Manifest, ManifestError, SessionState, read_manifest, scan_session, set_aside, write_manifest,
};

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Sessions copied into the output.
    pub copied: usize,
    /// Sessions already present with identical content.
    pub identical: usize,
    /// Unfinished sessions in the output replaced by a finished copy (the old one set aside).
    pub replaced: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{0} has no manifest.json: it is not a batch run directory")]
    NotARunDir(PathBuf),
    #[error("{path} holds a different experiment ({theirs}) than {first} ({ours})")]
    DifferentExperiment {
        path: PathBuf,
        theirs: String,
        first: PathBuf,
        ours: String,
    },
    #[error(
        "session {id} differs between {existing} and {incoming} and both are finished (or both unfinished)"
    )]
    Conflict {
        id: String,
        existing: PathBuf,
        incoming: PathBuf,
    },
    #[error("cannot merge {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MergeError + '_ {
    move |source| MergeError::Io {
        path: path.to_owned(),
        source,
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs_err::create_dir_all(to)?;
    for entry in fs_err::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if !target.exists() {
            fs_err::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Copies every session of `inputs` into `out`, which may already hold some. All inputs must
/// hold the same experiment. Nothing in `out` is overwritten: identical sessions are skipped,
/// an unfinished one is set aside for a finished copy, and two different finished copies are
/// a conflict.
pub fn merge_run_dirs(inputs: &[PathBuf], out: &Path) -> Result<MergeReport, MergeError> {
    let mut manifests = Vec::new();
    for input in inputs {
        let manifest =
            read_manifest(input)?.ok_or_else(|| MergeError::NotARunDir(input.clone()))?;
        manifests.push(manifest);
    }
    let Some(first) = manifests.first().cloned() else {
        return Ok(MergeReport::default());
    };
    let existing_out = read_manifest(out)?;
    let candidates = manifests
        .iter()
        .zip(inputs)
        .map(|(m, p)| (m, p.as_path()))
        .chain(existing_out.as_ref().map(|m| (m, out)));
    for (manifest, path) in candidates {
        if manifest.experiment_hash != first.experiment_hash {
            return Err(MergeError::DifferentExperiment {
                path: path.to_owned(),
                theirs: manifest.experiment.name.clone(),
                first: inputs[0].clone(),
                ours: first.experiment.name.clone(),
            });
        }
    }
    let mut report = MergeReport::default();
    let out_sessions = out.join("sessions");
    fs_err::create_dir_all(&out_sessions).map_err(io(&out_sessions))?;
    for input in inputs {
        let sessions = input.join("sessions");
        if !sessions.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = fs_err::read_dir(&sessions)
            .map_err(io(&sessions))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        for file in files {
            let Some(id) = file
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| SessionId::new(s).ok())
            else {
                continue;
            };
            let target = out_sessions.join(format!("{id}.jsonl"));
            if target.exists() {
                let same = fs_err::read(&target).map_err(io(&target))?
                    == fs_err::read(&file).map_err(io(&file))?;
                if same {
                    report.identical += 1;
                    continue;
                }
                let theirs = scan_session(input, &id).map_err(io(&file))?;
                let ours = scan_session(out, &id).map_err(io(&target))?;
                let incoming_better = matches!(theirs, SessionState::Finished(_))
                    && !matches!(ours, SessionState::Finished(_));
                if !incoming_better {
                    if matches!(ours, SessionState::Finished(_))
                        && !matches!(theirs, SessionState::Finished(_))
                    {
                        continue; // ours is finished, theirs is not: keep ours.
                    }
                    return Err(MergeError::Conflict {
                        id: id.to_string(),
                        existing: target,
                        incoming: file,
                    });
                }
                set_aside(out, &id).map_err(io(&target))?;
                report.replaced += 1;
            } else {
                report.copied += 1;
            }
            fs_err::copy(&file, &target).map_err(io(&file))?;
            let artifacts = input.join("artifacts").join(id.as_str());
            if artifacts.is_dir() {
                copy_tree(&artifacts, &out.join("artifacts").join(id.as_str()))
                    .map_err(io(&artifacts))?;
            }
        }
    }
    let now = autopilot_trace::format_timestamp(jiff::Timestamp::now());
    let merged = Manifest {
        shard: None,
        invocations: manifests.iter().map(|m| m.invocations).sum::<u32>()
            + existing_out.as_ref().map_or(0, |m| m.invocations),
        created: existing_out
            .as_ref()
            .map_or_else(|| first.created.clone(), |m| m.created.clone()),
        updated: now,
        ..first
    };
    write_manifest(out, &merged)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{Experiment, expand};

    fn manifest(exp: &Experiment) -> Manifest {
        Manifest {
            format: 1,
            experiment: exp.clone(),
            experiment_hash: Manifest::hash_experiment(exp),
            shard: None,
            autopilot_version: "0".into(),
            git_revision: None,
            tool_versions: vec![],
            created: "t".into(),
            updated: "t".into(),
            invocations: 1,
        }
    }

    fn finished_line(id: &str) -> String {
        format!(
            "{{\"v\":1,\"session\":\"{id}\",\"seq\":0,\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":{{\"type\":\"session_finished\",\"outcome\":{{\"status\":\"success\",\"attempt\":1}},\"totals\":{{\"attempts\":1,\"llm_calls\":1,\"input_tokens\":0,\"output_tokens\":0,\"wall_ms\":1}}}}}}\n"
        )
    }

    #[test]
    fn shards_merge_into_the_whole_and_a_second_merge_changes_nothing() {
        let exp = Experiment::parse(
            "name='e'\napp='a'\nmodels=['replay:x']\nruns=7\n",
            Path::new("e.toml"),
        )
        .unwrap();
        let plans = expand(&exp).unwrap();
        let root = tempfile::tempdir().unwrap();
        let mut shards = Vec::new();
        for k in 1..=3 {
            let dir = root.path().join(format!("shard{k}"));
            write_manifest(&dir, &manifest(&exp)).unwrap();
            fs_err::create_dir_all(dir.join("sessions")).unwrap();
            for plan in plans.iter().filter(|p| p.index % 3 == k - 1) {
                fs_err::write(
                    dir.join(format!("sessions/{}.jsonl", plan.id)),
                    finished_line(plan.id.as_str()),
                )
                .unwrap();
            }
            shards.push(dir);
        }
        let out = root.path().join("merged");
        let report = merge_run_dirs(&shards, &out).unwrap();
        assert_eq!(
            report,
            MergeReport {
                copied: 7,
                identical: 0,
                replaced: 0
            }
        );
        let again = merge_run_dirs(&shards, &out).unwrap();
        assert_eq!(
            again,
            MergeReport {
                copied: 0,
                identical: 7,
                replaced: 0
            }
        );
        let other = Experiment::parse(
            "name='f'\napp='a'\nmodels=['replay:x']\n",
            Path::new("e.toml"),
        )
        .unwrap();
        let stranger = root.path().join("stranger");
        write_manifest(&stranger, &manifest(&other)).unwrap();
        let err = merge_run_dirs(&[stranger], &out).unwrap_err();
        assert!(
            matches!(err, MergeError::DifferentExperiment { .. }),
            "{err}"
        );
    }
}
