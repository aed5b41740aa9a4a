//! A sketch on disk: its folder, its main `.ino`, and the files a build reads (what the
//! compile cache hashes).

use std::path::{Path, PathBuf};

/// Extensions of the files Arduino builds compile or include from a sketch folder.
const SOURCE_EXTENSIONS: &[&str] = &[
    "ino", "pde", "h", "hh", "hpp", "c", "cc", "cpp", "cxx", "s", "S", "tpp", "ipp",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sketch {
    /// The sketch folder, absolute.
    pub dir: PathBuf,
    /// The main `.ino`, absolute.
    pub main: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SketchError {
    #[error("{}: not found", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: not a sketch: expected a `.ino` file or a folder holding one", path.display())]
    NotASketch { path: PathBuf },
    #[error("{}: several `.ino` files and none named after the folder; pass the main one", path.display())]
    Ambiguous { path: PathBuf },
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Sketch {
    /// Opens a `.ino` file, or a folder holding `<folder>.ino` or exactly one `.ino`.
    pub fn open(path: &Path) -> Result<Sketch, SketchError> {
        let io = |source| SketchError::Io {
            path: path.to_owned(),
            source,
        };
        if !path.exists() {
            return Err(SketchError::NotFound {
                path: path.to_owned(),
            });
        }
        let absolute = fs_err::canonicalize(path).map_err(io)?;
        if absolute.is_file() {
            if absolute.extension().is_none_or(|ext| ext != "ino") {
                return Err(SketchError::NotASketch {
                    path: path.to_owned(),
                });
            }
            let dir = absolute.parent().map(Path::to_path_buf).ok_or_else(|| {
                SketchError::NotASketch {
                    path: path.to_owned(),
                }
            })?;
            return Ok(Sketch {
                dir,
                main: absolute,
            });
        }
        let named = absolute
            .file_name()
            .map(|name| absolute.join(format!("{}.ino", name.to_string_lossy())));
        if let Some(named) = named.filter(|p| p.is_file()) {
            return Ok(Sketch {
                dir: absolute,
                main: named,
            });
        }
        let mut inos: Vec<PathBuf> = fs_err::read_dir(&absolute)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "ino"))
            .collect();
        match inos.len() {
            0 => Err(SketchError::NotASketch {
                path: path.to_owned(),
            }),
            1 => Ok(Sketch {
                dir: absolute,
                main: inos.remove(0),
            }),
            _ => Err(SketchError::Ambiguous {
                path: path.to_owned(),
            }),
        }
    }

    /// The main file's name without `.ino`.
    pub fn name(&self) -> String {
        self.main
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The main file's name (`Blink.ino`); build outputs are named after it.
    pub fn main_file_name(&self) -> String {
        self.main
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// arduino-cli insists that the main file is named after its folder.
    pub fn name_matches_folder(&self) -> bool {
        self.dir
            .file_name()
            .is_some_and(|dir| dir.to_string_lossy() == self.name())
    }

    /// The files a build reads, relative to the folder and sorted: sources at the top level
    /// and everything under `src/` (the Arduino sketch layout).
    pub fn files(&self) -> Result<Vec<PathBuf>, SketchError> {
        let mut files = Vec::new();
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SketchError::Io { path, source }
        };
        for entry in fs_err::read_dir(&self.dir).map_err(io(&self.dir))? {
            let path = entry.map_err(io(&self.dir))?.path();
            if path.is_file() && is_source(&path) {
                files.push(path);
            }
        }
        let src = self.dir.join("src");
        if src.is_dir() {
            let mut stack = vec![src];
            while let Some(dir) = stack.pop() {
                for entry in fs_err::read_dir(&dir).map_err(io(&dir))? {
                    let path = entry.map_err(io(&dir))?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.is_file() {
                        files.push(path);
                    }
                }
            }
        }
        let mut relative: Vec<PathBuf> = files
            .into_iter()
            .filter_map(|p| p.strip_prefix(&self.dir).ok().map(Path::to_path_buf))
            .filter(|p| !p.to_string_lossy().starts_with('.'))
            .collect();
        relative.sort();
        Ok(relative)
    }
}

fn is_source(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| SOURCE_EXTENSIONS.iter().any(|known| ext == *known))
}
