//! The matrix of an experiment as a deterministic list of sessions, and shards of it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use autopilot_trace::{BatchCell, SamplingParams, SessionId};
use serde::{Deserialize, Serialize};

use super::experiment::Experiment;

/// One session of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionPlan {
    /// Position in the whole matrix (stable across shards and re-runs).
    pub index: usize,
    pub id: SessionId,
    /// `provider:model`.
    pub model: String,
    /// `None`: the app's own target.
    pub target: Option<String>,
    pub variant: String,
    pub sampling_name: String,
    pub sampling: SamplingParams,
    /// 0-based repeat within the cell.
    pub repeat: u32,
    pub seed: u64,
    /// Stable key of the cell: `model|target|variant|sampling`.
    pub cell: String,
}

impl SessionPlan {
    /// The provider part of the model (`openai`, `ollama`, `replay`).
    pub fn provider(&self) -> &str {
        self.model
            .split_once(':')
            .map_or(self.model.as_str(), |(p, _)| p)
    }

    /// The trace's view of where this session sits.
    pub fn batch_cell(&self, experiment: &str) -> BatchCell {
        BatchCell {
            experiment: experiment.to_owned(),
            cell: self.cell.clone(),
            repeat: self.repeat,
        }
    }
}

/// Two sessions of a matrix with one id: one trace file would hold both.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "sessions {first} and {second} of the matrix get the same session id {id}; rename a model, variant or sampling setting"
)]
pub struct DuplicateSessionId {
    pub id: SessionId,
    /// `cell` and repeat of the two sessions.
    pub first: String,
    pub second: String,
}

/// Expands the matrix: models × targets × variants × sampling × runs, in that nesting order.
/// Session ids are unique by construction ([`SessionId::sanitized`]); a collision all the same
/// is an error here, before anything runs, never a lost session.
pub fn expand(experiment: &Experiment) -> Result<Vec<SessionPlan>, DuplicateSessionId> {
    check_unique_ids(experiment)?;
    Ok(sessions(experiment).collect())
}

/// The sessions of the matrix in [`expand`]'s order, made one at a time as they are asked for
/// (a batch holds the running ones, not the whole plan). Call [`check_unique_ids`] first.
pub fn sessions(experiment: &Experiment) -> impl Iterator<Item = SessionPlan> + Clone + '_ {
    let targets = experiment.targets.len().max(1);
    let runs = experiment.runs as usize;
    let len = experiment.models.len()
        * targets
        * experiment.variants.len()
        * experiment.sampling.len()
        * runs;
    (0..len).map(move |index| {
        // The index in mixed radix, runs varying fastest.
        let repeat = index % runs;
        let rest = index / runs;
        let setting = &experiment.sampling[rest % experiment.sampling.len()];
        let rest = rest / experiment.sampling.len();
        let variant = &experiment.variants[rest % experiment.variants.len()];
        let rest = rest / experiment.variants.len();
        let target = experiment.targets.get(rest % targets).cloned();
        let model = &experiment.models[rest / targets];
        let repeat = u32::try_from(repeat).expect("runs is a u32");
        let target_name = target.as_deref().unwrap_or("app");
        let seed = experiment.seed.wrapping_add(u64::from(repeat));
        SessionPlan {
            index,
            id: SessionId::sanitized(&format!(
                "{model}--{target_name}--{variant}--{}--r{repeat:03}",
                setting.name
            )),
            model: model.clone(),
            target: target.clone(),
            variant: variant.clone(),
            sampling_name: setting.name.clone(),
            sampling: setting.params(seed),
            repeat,
            seed,
            cell: format!("{model}|{target_name}|{variant}|{}", setting.name),
        }
    })
}

/// Fails when two sessions of the matrix get one id. Holds a 64-bit hash per id, not the ids;
/// only when two hashes meet are the ids themselves compared, in a second, exact pass.
pub fn check_unique_ids(experiment: &Experiment) -> Result<(), DuplicateSessionId> {
    let hash = |id: &SessionId| {
        let mut hasher = std::hash::DefaultHasher::new();
        id.hash(&mut hasher);
        hasher.finish()
    };
    let mut seen = HashSet::new();
    if sessions(experiment).all(|plan| seen.insert(hash(&plan.id))) {
        return Ok(());
    }
    let mut first_of: HashMap<SessionId, SessionPlan> = HashMap::new();
    for plan in sessions(experiment) {
        if let Some(first) = first_of.get(&plan.id) {
            return Err(DuplicateSessionId {
                id: plan.id.clone(),
                first: format!("{} run {}", first.cell, first.repeat),
                second: format!("{} run {}", plan.cell, plan.repeat),
            });
        }
        first_of.insert(plan.id.clone(), plan);
    }
    Ok(())
}

/// Shard `k` of `n` (1-based): the sessions whose matrix index is `k-1` modulo `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid shard {0:?}: write K/N with 1 <= K <= N, e.g. 2/8")]
pub struct ShardError(String);

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ShardError(s.to_owned());
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let k: usize = k.trim().parse().map_err(|_| err())?;
        let n: usize = n.trim().parse().map_err(|_| err())?;
        if k == 0 || n == 0 || k > n {
            return Err(err());
        }
        Ok(Shard { k, n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl Shard {
    pub fn contains(&self, plan: &SessionPlan) -> bool {
        plan.index % self.n == self.k - 1
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn experiment() -> Experiment {
        Experiment::parse(
            "name='e'\napp='a.toml'\nmodels=['openai:gpt-4o','ollama:qwen2.5-coder:32b']\nvariants=['a','b']\nruns=5\nseed=10\n[[sampling]]\nname='P'\ntemperature=0.1\n[[sampling]]\nname='NP'\n",
            Path::new("e.toml"),
        )
        .unwrap()
    }

    #[test]
    fn the_matrix_is_complete_unique_and_seeded_per_run() {
        let plans = expand(&experiment()).unwrap();
        assert_eq!(plans.len(), 2 * 2 * 2 * 5);
        let ids: BTreeSet<_> = plans.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids.len(), plans.len());
        assert!(
            plans[0]
                .id
                .as_str()
                .starts_with("openai_gpt-4o--app--a--P--r000-")
        );
        assert_eq!(plans[3].seed, 13);
        assert_eq!(plans[3].sampling.seed, Some(13));
        assert!(plans.iter().enumerate().all(|(i, p)| p.index == i));
        assert_eq!(plans.last().unwrap().provider(), "ollama");
    }

    #[test]
    fn models_that_sanitise_alike_and_long_names_keep_their_sessions() {
        let long = "x".repeat(140);
        let exp = Experiment::parse(
            &format!(
                "name='e'\napp='a'\nmodels=['test:model','test:mo/del','test:mo_del','ollama:{long}']\nruns=3\n"
            ),
            Path::new("e.toml"),
        )
        .unwrap();
        let plans = expand(&exp).unwrap();
        let ids: BTreeSet<_> = plans.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids.len(), 4 * 3, "{ids:?}");
    }

    #[test]
    fn shards_partition_the_matrix() {
        let plans = expand(&experiment()).unwrap();
        let mut union = Vec::new();
        for k in 1..=3 {
            let shard: Shard = format!("{k}/3").parse().unwrap();
            union.extend(plans.iter().filter(|p| shard.contains(p)).map(|p| p.index));
        }
        union.sort_unstable();
        assert_eq!(union, (0..plans.len()).collect::<Vec<_>>());
    }

    #[test]
    fn bad_shards_are_rejected() {
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!("2/8".parse::<Shard>().unwrap(), Shard { k: 2, n: 8 });
    }
}
