//! The sketch folder: its name (arduino-cli requires the folder and the `.ino` to share it) and
//! the copy of a passing attempt's folder to the final one.

use std::path::Path;

/// A sketch (folder and `.ino`) name from an app name: letters, digits and `_`, starting with a
/// letter (arduino-cli requires the folder and the `.ino` to share it).
pub fn sketch_name(app_name: &str) -> String {
    let mut name: String = app_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(60)
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "sketch_");
    }
    name
}

/// Copies a sketch folder (its files, not sub-folders) to `to`, refusing to overwrite a
/// non-empty folder that is not a sketch folder autopilot wrote. The file named `linked` (the
/// model header, the app's own bytes that nothing edits) is hard-linked where the file system
/// allows, not copied again.
pub(super) fn copy_sketch(from: &Path, to: &Path, linked: Option<&str>) -> std::io::Result<()> {
    let exists = to.exists();
    if exists && fs_err::read_dir(to)?.next().is_some() {
        let ours = fs_err::read_dir(to)?.filter_map(Result::ok).all(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let extension = Path::new(&name)
                .extension()
                .map(std::ffi::OsStr::to_ascii_lowercase);
            from.join(&name).exists() || extension.is_some_and(|e| e == "ino" || e == "h")
        });
        if !ours {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} holds files autopilot did not write; not overwritten",
                    to.display()
                ),
            ));
        }
    }
    if !exists {
        fs_err::create_dir_all(to)?;
    }
    for entry in fs_err::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let target = to.join(entry.file_name());
            if linked.is_some_and(|name| entry.file_name() == name) {
                let mut link = fs_err::hard_link(entry.path(), &target);
                if link
                    .as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
                {
                    // A file already there (a run before) is replaced, as a copy would be.
                    fs_err::remove_file(&target)?;
                    link = fs_err::hard_link(entry.path(), &target);
                }
                if link.is_ok() {
                    continue;
                }
            }
            fs_err::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketch_names_are_valid_identifiers() {
        assert_eq!(sketch_name("color classifier"), "color_classifier");
        assert_eq!(sketch_name("3d-thing"), "sketch_3d_thing");
    }
}
