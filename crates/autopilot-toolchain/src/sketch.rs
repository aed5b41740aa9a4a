//! A sketch on disk: its folder, its main `.ino`, and the files a build reads (what the
//! compile cache hashes).

use std::path::{Path, PathBuf};

/// Extensions of the files arduino-cli copies from a sketch folder, any depth: the main-file
/// extensions and `AdditionalFileValidExtensions` (upstream `internal/arduino/globals/
/// globals.go`, read by `supportedFiles` in `internal/arduino/sketch/sketch.go`). Case
/// matters (`.S`). `.s` is kept for arduino-builder, whose sketch loader is older.
const SOURCE_EXTENSIONS: &[&str] = &[
    "ino", "pde", "h", "c", "hpp", "hh", "cpp", "cxx", "cc", "S", "s", "adoc", "md", "json", "tpp",
    "ipp",
];
/// Main-file extensions, the deprecated `.pde` included.
const MAIN_EXTENSIONS: &[&str] = &["ino", "pde"];

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
            if !is_main(&absolute) {
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
        // `<folder>.ino`, else `<folder>.pde`, as arduino-cli looks for the main file.
        let named = absolute.file_name().and_then(|name| {
            MAIN_EXTENSIONS
                .iter()
                .map(|ext| absolute.join(format!("{}.{ext}", name.to_string_lossy())))
                .find(|p| p.is_file())
        });
        if let Some(named) = named {
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

    /// The files a build reads, relative to the folder and sorted: what arduino-cli copies
    /// (`supportedFiles`): files with a [`SOURCE_EXTENSIONS`] extension and a name not starting
    /// with `.`, in every subfolder except build folders (holding `build.options.json`), plus
    /// everything under `src/` (arduino-builder copies that folder whole).
    pub fn files(&self) -> Result<Vec<PathBuf>, SketchError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SketchError::Io { path, source }
        };
        let src = self.dir.join("src");
        let mut files = Vec::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs_err::read_dir(&dir).map_err(io(&dir))? {
                let path = entry.map_err(io(&dir))?.path();
                if path.is_dir() {
                    if !path.join("build.options.json").is_file() {
                        stack.push(path);
                    }
                } else if path.is_file() {
                    let hidden = path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                    if (!hidden && is_source(&path)) || path.starts_with(&src) {
                        files.push(path);
                    }
                }
            }
        }
        let mut relative: Vec<PathBuf> = files
            .into_iter()
            .filter_map(|p| p.strip_prefix(&self.dir).ok().map(Path::to_path_buf))
            .collect();
        relative.sort();
        Ok(relative)
    }
}

fn is_main(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| MAIN_EXTENSIONS.iter().any(|known| ext == *known))
}

fn is_source(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| SOURCE_EXTENSIONS.iter().any(|known| ext == *known))
}
