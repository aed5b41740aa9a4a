//! The compile cache: the outcome of a compile stored on disk under the hash of everything it
//! depended on (sketch files including the model header, FQBN, backend, tool/core/library
//! versions, settings), with the firmware of a successful build. An identical request gets
//! the stored outcome back without running the compiler.
//!
//! Layout: `<dir>/<key>/result.json` and `<dir>/<key>/firmware.elf`. Entries are written in a
//! temporary folder and renamed into place, so readers never see half an entry; an entry that
//! cannot be read is a miss.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use autopilot_trace::ComponentVersion;
use sha2::{Digest, Sha256};

use crate::compile::CompileResult;

/// Bumped when the key or the stored format changes.
const CACHE_FORMAT: &str = "autopilot-compile-cache/1";

/// Everything a compile depends on.
#[derive(Debug, Clone, Copy)]
pub struct CacheInputs<'a> {
    pub fqbn: &'a str,
    pub backend: &'a str,
    pub versions: &'a [ComponentVersion],
    /// Other settings that change the output (warning level, preferences).
    pub settings: &'a [String],
    /// Sketch files: path relative to the sketch folder and contents.
    pub files: &'a [(PathBuf, Vec<u8>)],
}

impl CacheInputs<'_> {
    /// The key: SHA-256 over a length-prefixed encoding of every input, hex.
    pub fn key(&self) -> String {
        let mut hash = Sha256::new();
        let mut field = |name: &str, value: &[u8]| {
            hash.update(name.as_bytes());
            hash.update((value.len() as u64).to_le_bytes());
            hash.update(value);
        };
        field("format", CACHE_FORMAT.as_bytes());
        field("fqbn", self.fqbn.as_bytes());
        field("backend", self.backend.as_bytes());
        let mut versions: Vec<_> = self
            .versions
            .iter()
            .map(|v| format!("{}={}", v.name, v.version))
            .collect();
        versions.sort();
        for version in versions {
            field("version", version.as_bytes());
        }
        for setting in self.settings {
            field("setting", setting.as_bytes());
        }
        for (path, contents) in self.files {
            field("file", path.to_string_lossy().as_bytes());
            field("contents", contents);
        }
        hex::encode(hash.finalize())
    }
}

#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    pub fn new(dir: &Path) -> Self {
        CompileCache {
            dir: dir.to_owned(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// The stored result, with `elf` pointing at the cached firmware.
    pub fn get(&self, key: &str) -> Option<CompileResult> {
        let entry = self.entry(key);
        let text = fs_err::read_to_string(entry.join("result.json")).ok()?;
        match serde_json::from_str::<CompileResult>(&text) {
            Ok(mut result) => {
                let elf = entry.join("firmware.elf");
                result.elf = elf.is_file().then_some(elf);
                Some(result)
            }
            Err(error) => {
                tracing::warn!(%error, entry = %entry.display(), "unreadable compile cache entry; ignored");
                None
            }
        }
    }

    /// Stores a result (and copies its firmware). Failures are logged, never fatal: the
    /// compile itself succeeded.
    pub fn put(&self, key: &str, result: &CompileResult) {
        if let Err(error) = self.try_put(key, result) {
            tracing::warn!(%error, key, "cannot store compile cache entry");
        }
    }

    fn try_put(&self, key: &str, result: &CompileResult) -> std::io::Result<()> {
        let target = self.entry(key);
        if target.join("result.json").is_file() {
            return Ok(());
        }
        fs_err::create_dir_all(&self.dir)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let temp = self
            .dir
            .join(format!(".tmp-{key}-{}-{nanos}", std::process::id()));
        fs_err::create_dir_all(&temp)?;
        let mut stored = result.clone();
        stored.cache_hit = false;
        if let Some(elf) = &result.elf {
            fs_err::copy(elf, temp.join("firmware.elf"))?;
        }
        stored.elf = None;
        let json = serde_json::to_string_pretty(&stored).map_err(std::io::Error::other)?;
        fs_err::write(temp.join("result.json"), json)?;
        if fs_err::rename(&temp, &target).is_err() {
            // Another compile stored the same key first; theirs is as good as ours.
            let _ = fs_err::remove_dir_all(&temp);
        }
        Ok(())
    }
}
