//! Snapshot redactions for human output: what changes from run to run (timings, temporary
//! paths, loopback ports, the checkout's location) becomes a stable placeholder.

use std::path::Path;

/// insta settings whose filters redact timings (`1.2 s`, `35 ms`, `[   4.2s]`), session-file
/// time stamps, loopback ports, temporary folders, `extra` paths (each with its placeholder) and the workspace root.
/// Bind them around a snapshot: `settings(&[]).bind(|| insta::assert_snapshot!(text))`.
pub fn settings(extra: &[(&Path, &str)]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    // Longer paths first: a temporary folder inside the workspace keeps its own name.
    for (path, placeholder) in extra {
        let text = path.display().to_string();
        settings.add_filter(&regex_escape(&text), *placeholder);
        if let Ok(canonical) = path.canonicalize() {
            settings.add_filter(
                &regex_escape(&canonical.display().to_string()),
                *placeholder,
            );
        }
    }
    settings.add_filter(
        &regex_escape(&crate::workspace_root().display().to_string()),
        "[ROOT]",
    );
    settings.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]");
    // Session files are named `<app>-<yyyymmdd>-<hhmmss>-<ms>.jsonl`.
    settings.add_filter(r"\b\d{8}-\d{6}-\d{3}\b", "[STAMP]");
    // Progress lines start with the elapsed time, right-aligned: `[   4.2s]`.
    settings.add_filter(r"\[ *\d+\.\d+s\]", "[ELAPSED]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"\b\d+(\.\d+)?\s?(ms|µs|s)\b", "[TIME]");
    settings
}

/// `text` as a regular expression that matches it literally.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A finished command as one snapshot: its exit code, stdout and stderr together.
pub fn command_output(output: &std::process::Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output
            .status
            .code()
            .map_or_else(|| "signal".to_owned(), |code| code.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
