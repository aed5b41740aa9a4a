//! The build environment, for repair prompts grounded in what is really installed: the symbol
//! names compiler errors mention, their real declarations in the installed headers (a plain
//! scan, no ctags), and the versions of the core and the libraries (`platform.txt`,
//! `library.properties`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::SystemTime;

use aho_corasick::AhoCorasick;
use autopilot_trace::{ComponentVersion, Declaration, Diagnostic};
use regex::Regex;

use crate::target::Fqbn;

/// Reads a `key=value` file (`platform.txt`, `library.properties`, `boards.txt`).
pub fn read_properties(path: &Path) -> Option<BTreeMap<String, String>> {
    let text = fs_err::read_to_string(path).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect(),
    )
}

/// The `version=` of a platform's `platform.txt`.
pub fn platform_version(platform_dir: &Path) -> Option<String> {
    platform_properties(&platform_dir.join("platform.txt"))?
        .get("version")
        .cloned()
}

/// Name and version of every library in `dir` (each sub-folder with a `library.properties`),
/// sorted by name.
pub fn library_versions(dir: &Path) -> Vec<ComponentVersion> {
    // Once per folder and process while the folder keeps its modification time (an installed
    // or removed library changes it; an install also forgets them all).
    let time = modified(dir);
    let mut known = LIBRARY_VERSIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some((at, versions)) = known.get(dir)
        && time.is_some()
        && *at == time
    {
        return versions.clone();
    }
    let versions = read_library_versions(dir);
    if settled(time) {
        known.insert(dir.to_owned(), (time, versions.clone()));
    }
    versions
}

/// Library versions by folder, with the folder's modification time when read.
type LibraryVersions = HashMap<PathBuf, (Option<SystemTime>, Vec<ComponentVersion>)>;
static LIBRARY_VERSIONS: LazyLock<Mutex<LibraryVersions>> = LazyLock::new(Mutex::default);

fn read_library_versions(dir: &Path) -> Vec<ComponentVersion> {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    let mut versions: Vec<ComponentVersion> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let mut properties = read_properties(&entry.path().join("library.properties"))?;
            Some(ComponentVersion {
                name: properties.remove("name")?,
                version: properties.remove("version").unwrap_or_default(),
            })
        })
        .collect();
    versions.sort_by(|a, b| a.name.cmp(&b.name));
    versions
}

/// A platform's `boards.txt` or `platform.txt`, parsed once per process while the file keeps
/// its modification time and size (every compile asked for the board's folders again).
fn platform_properties(path: &Path) -> Option<Arc<BTreeMap<String, String>>> {
    let meta = fs_err::metadata(path).ok()?;
    let stamp = (meta.modified().ok(), meta.len());
    let mut known = PROPERTIES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((at, properties)) = known.get(path)
        && *at == stamp
    {
        return Some(properties.clone());
    }
    let properties = Arc::new(read_properties(path)?);
    if settled(stamp.0) {
        known.insert(path.to_owned(), (stamp, properties.clone()));
    }
    Some(properties)
}

type PropertiesStamp = (Option<SystemTime>, u64);
/// Parsed properties files by path, with the stamp they were read at.
type KnownProperties = HashMap<PathBuf, (PropertiesStamp, Arc<BTreeMap<String, String>>)>;
static PROPERTIES: LazyLock<Mutex<KnownProperties>> = LazyLock::new(Mutex::default);

/// The core and variant folders of a board (from `boards.txt`, menu options applied) and the
/// platform's `libraries` folder.
pub fn platform_include_dirs(platform_dir: &Path, fqbn: &Fqbn) -> Vec<PathBuf> {
    let boards = platform_properties(&platform_dir.join("boards.txt")).unwrap_or_default();
    let property = |key: &str| {
        let mut value = boards.get(&format!("{}.{key}", fqbn.board)).cloned();
        for (option, choice) in &fqbn.options {
            if let Some(v) = boards.get(&format!("{}.menu.{option}.{choice}.{key}", fqbn.board)) {
                value = Some(v.clone());
            }
        }
        value
    };
    let mut dirs = Vec::new();
    let core = property("build.core").unwrap_or_else(|| "arduino".to_owned());
    dirs.push(platform_dir.join("cores").join(core));
    if let Some(variant) = property("build.variant") {
        dirs.push(platform_dir.join("variants").join(variant));
    }
    dirs.push(platform_dir.join("libraries"));
    dirs
}

static SYMBOL_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"'([^']+)' was not declared",
        r"'([^']+)' (?:in namespace '[^']+' )?does not name a (?:template )?type",
        r"'([^']+)' is not a member of '[^']+'",
        r"'([^']+)' has not been declared",
        r"'(?:class |struct )?([^']+)' has no member named '[^']+'",
        r"has no member named '([^']+)'",
        r"no matching function for call to '([^']+)'",
        r"no member named '([^']+)'",
        r"use of undeclared identifier '([^']+)'",
        r"request for member '([^']+)'",
        r"invalid use of incomplete type '([^']+)'",
        r"too (?:few|many) arguments to function '([^']+)'",
        r"conflicting declaration '([^']+)'",
        r"redefinition of '([^']+)'",
        r"'([^']+)' is not a (?:template|class, namespace, or enumeration|type|namespace)",
        r"expected type-specifier before '([^']+)'",
        r"undefined reference to `([^']+)'",
        r"variable '([^']+)' has initializer but incomplete type",
        r"aggregate '([^']+)' has incomplete type",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid regex"))
    .collect()
});
static IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").expect("valid regex"));

const NOT_SYMBOLS: &[&str] = &[
    "const",
    "constexpr",
    "unsigned",
    "signed",
    "char",
    "int",
    "long",
    "short",
    "float",
    "double",
    "void",
    "bool",
    "auto",
    "struct",
    "class",
    "static",
    "volatile",
    "enum",
    "union",
    "typename",
    "operator",
    "uint8_t",
    "int8_t",
    "uint16_t",
    "int16_t",
    "uint32_t",
    "int32_t",
    "size_t",
    "with",
    "std",
];

/// The identifier a quoted C++ name stands for: `tflite::MicroInterpreter::MicroInterpreter(…)`
/// → `MicroInterpreter`, `const tflite::Model* model` → `model`, `Foo<3, 4>` → `Foo`.
fn identifier(quoted: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut plain = String::new();
    for c in quoted.chars() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    IDENTIFIER
        .find_iter(&plain)
        .map(|m| m.as_str())
        .filter(|word| !NOT_SYMBOLS.contains(word))
        .last()
        .map(str::to_owned)
}

/// The symbol names one diagnostic message is about (`'X' was not declared`, `has no member
/// named 'Y'`, `no matching function for call to 'Z(…)'` …), in order, without duplicates.
pub fn symbols_in_message(message: &str) -> Vec<String> {
    let mut found = Vec::new();
    for pattern in SYMBOL_PATTERNS.iter() {
        for caps in pattern.captures_iter(message) {
            if let Some(symbol) = identifier(&caps[1])
                && !found.contains(&symbol)
            {
                found.push(symbol);
            }
        }
    }
    // Order by position in the message, so the first name mentioned comes first.
    found.sort_by_key(|symbol| message.find(symbol.as_str()).unwrap_or(usize::MAX));
    found
}

/// The symbols the errors of a compile mention, first seen first.
pub fn symbols_from_diagnostics(diagnostics: &[Diagnostic]) -> Vec<String> {
    let mut seen = Vec::new();
    for diagnostic in diagnostics {
        for symbol in symbols_in_message(&diagnostic.message) {
            if !seen.contains(&symbol) {
                seen.push(symbol);
            }
        }
    }
    seen
}

/// Bounds for [`find_declarations`].
#[derive(Debug, Clone, Copy)]
pub struct LookupLimits {
    pub per_symbol: usize,
    pub total: usize,
    /// Header files read at most (a huge library folder stays cheap).
    pub max_files: usize,
    /// Larger files are skipped.
    pub max_file_bytes: u64,
}

impl Default for LookupLimits {
    fn default() -> Self {
        LookupLimits {
            per_symbol: 3,
            total: 24,
            max_files: 20_000,
            max_file_bytes: 4 * 1024 * 1024,
        }
    }
}

const HEADER_EXTENSIONS: &[&str] = &["h", "hh", "hpp", "hxx", "inc"];
const SKIPPED_DIRS: &[&str] = &["examples", "extras", "test", "tests", "docs", "doc"];

/// The header files under `dirs`, in search order (each root's files sorted), at most
/// `max_files`, without duplicates.
fn header_files(dirs: &[PathBuf], max_files: usize) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    for root in dirs {
        for file in root_headers(root).iter() {
            if files.len() >= max_files {
                return files;
            }
            if seen.insert(file.clone()) {
                files.push(file.clone());
            }
        }
    }
    files
}

/// The header files of one root folder, and the folders walked with their modification times.
struct RootHeaders {
    files: Arc<Vec<PathBuf>>,
    dirs: Vec<(PathBuf, Option<SystemTime>)>,
}

/// Header listings of this process, by root: every repair prompt searches the same core and
/// library folders, and walking them again (a `getdents` and a `stat` per entry) was a tenth
/// of a session's own cost. A listing is reused while every folder it walked keeps its
/// modification time (adding, removing or renaming an entry changes its folder's time);
/// file contents are always read fresh.
static HEADER_INDEX: LazyLock<Mutex<HashMap<PathBuf, RootHeaders>>> = LazyLock::new(Mutex::default);

fn modified(path: &Path) -> Option<SystemTime> {
    fs_err::metadata(path).ok()?.modified().ok()
}

/// Whether a modification time is old enough to key a cache on: file times come from a coarse
/// clock, so a change within the same tick as the time read would go unseen.
fn settled(time: Option<SystemTime>) -> bool {
    time.is_some_and(|time| {
        time.elapsed()
            .is_ok_and(|age| age > std::time::Duration::from_secs(2))
    })
}

fn root_headers(root: &Path) -> Arc<Vec<PathBuf>> {
    let mut index = HEADER_INDEX.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = index.get(root)
        && known.dirs.iter().all(|(dir, time)| modified(dir) == *time)
    {
        return known.files.clone();
    }
    let walked = walk_headers(root);
    let files = walked.files.clone();
    if walked.dirs.iter().all(|(_, time)| settled(*time)) {
        index.insert(root.to_owned(), walked);
    } else {
        index.remove(root);
    }
    files
}

fn walk_headers(root: &Path) -> RootHeaders {
    let mut stack = vec![root.to_owned()];
    let mut found = Vec::new();
    let mut dirs = Vec::new();
    while let Some(dir) = stack.pop() {
        // The time before the listing: an entry added while listing changes it afterwards.
        let time = modified(&dir);
        let Ok(entries) = fs_err::read_dir(&dir) else {
            dirs.push((dir, time));
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) {
                    stack.push(path);
                }
            } else if path
                .extension()
                .is_some_and(|ext| HEADER_EXTENSIONS.iter().any(|h| ext == *h))
            {
                found.push(path);
            }
        }
        dirs.push((dir, time));
    }
    found.sort();
    RootHeaders {
        files: Arc::new(found),
        dirs,
    }
}

/// Header contents of this process: a repair reads the same core and library headers as the
/// last one. An entry is used while the file keeps its modification time and length (one
/// `stat` instead of open, read and close); only settled files are kept, at most
/// `MAX_HEADER_BYTES` in all.
static HEADER_TEXT: LazyLock<Mutex<HeaderTexts>> = LazyLock::new(Mutex::default);
const MAX_HEADER_BYTES: usize = 32 * 1024 * 1024;

#[derive(Default)]
struct HeaderTexts {
    files: HashMap<PathBuf, (PropertiesStamp, Arc<[u8]>)>,
    bytes: usize,
}

/// The bytes of a header no larger than `max_bytes`, or `None` (unreadable or too large).
fn header_bytes(file: &Path, max_bytes: u64) -> Option<Arc<[u8]>> {
    let meta = fs_err::metadata(file).ok()?;
    if meta.len() > max_bytes {
        return None;
    }
    let stamp = (meta.modified().ok(), meta.len());
    let mut texts = HEADER_TEXT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((at, bytes)) = texts.files.get(file)
        && *at == stamp
    {
        return Some(bytes.clone());
    }
    let bytes: Arc<[u8]> = fs_err::read(file).ok()?.into();
    if settled(stamp.0) && texts.bytes + bytes.len() <= MAX_HEADER_BYTES {
        texts.bytes += bytes.len();
        if let Some((_, old)) = texts.files.insert(file.to_owned(), (stamp, bytes.clone())) {
            texts.bytes -= old.len();
        }
    }
    Some(bytes)
}

/// Forgets every cached listing and library version (after a library install).
pub fn forget_library_versions() {
    HEADER_INDEX
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    LIBRARY_VERSIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    PROPERTIES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    *HEADER_TEXT.lock().unwrap_or_else(PoisonError::into_inner) = HeaderTexts::default();
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

static TYPE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:static|extern|inline|virtual|explicit|const|constexpr|friend|volatile|unsigned|signed|struct|class|enum|typename|alignas\(\d+\))\s+)*[A-Za-z_][\w:<>, ]*[\s\*&]+(?:const\s+)?(?:[\w:]+::)?$")
        .expect("valid regex")
});
static KIND_KEYWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:class|struct|union|enum|namespace|typedef|using)\b").expect("valid regex")
});
const CONTROL_WORDS: &[&str] = &[
    "return", "if", "else", "while", "for", "switch", "case", "delete", "new", "throw", "sizeof",
    "do", "goto",
];

/// Whether `line` declares `symbol`, which starts at byte `at`.
fn declares(line: &str, at: usize, symbol: &str) -> bool {
    let trimmed = line.trim_start();
    if trimmed.starts_with("//") || trimmed.starts_with('*') || trimmed.starts_with("/*") {
        return false;
    }
    let before = &line[..at];
    let after = line[at + symbol.len()..].trim_start();
    let first_word = trimmed
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("");
    if trimmed.starts_with('#') {
        return trimmed.starts_with("#define") && before.trim_end().ends_with("define");
    }
    if CONTROL_WORDS.contains(&first_word) || before.ends_with('.') || before.ends_with("->") {
        return false;
    }
    if KIND_KEYWORD.is_match(before) && !before.contains('(') && !before.contains('=') {
        return true;
    }
    let before_trimmed = before.trim();
    if before_trimmed.contains('=') || before_trimmed.contains('(') || before_trimmed.contains(';')
    {
        return false;
    }
    if after.starts_with('(') {
        // A function or a constructor: `Type name(…)`, `name(…)` at the start of a line.
        return before_trimmed.is_empty()
            || before_trimmed.ends_with('~')
            || TYPE_PREFIX.is_match(before.trim_start());
    }
    if after.starts_with([';', '[', '=', ',', '{']) {
        // A variable (`const unsigned char model[] = {`) or an enumerator (`kFoo = 3,`).
        return before_trimmed.is_empty() || TYPE_PREFIX.is_match(before.trim_start());
    }
    false
}

/// The declaration text: the line, continued until its parenthesis closes (at most 4 lines),
/// whitespace collapsed, at most 240 characters.
fn declaration_text(lines: &[&str], index: usize) -> String {
    let mut text = lines[index].trim().to_owned();
    let mut next = index + 1;
    while text.matches('(').count() > text.matches(')').count()
        && next < lines.len()
        && next < index + 4
    {
        text.push(' ');
        text.push_str(lines[next].trim());
        next += 1;
    }
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::data::truncate(&mut text, 240);
    text
}

/// Finds where `symbols` are declared in the headers under `dirs` (searched in order).
pub fn find_declarations(
    symbols: &[String],
    dirs: &[PathBuf],
    limits: LookupLimits,
) -> Vec<Declaration> {
    let mut unique = BTreeSet::new();
    let symbols: Vec<&String> = symbols
        .iter()
        .filter(|s| !s.is_empty() && unique.insert(s.as_str()))
        .collect();
    if symbols.is_empty() {
        return Vec::new();
    }
    let Ok(matcher) = AhoCorasick::new(symbols.iter().map(|s| s.as_bytes())) else {
        return Vec::new();
    };
    let mut per_symbol: BTreeMap<&str, Vec<Declaration>> = BTreeMap::new();
    let mut total = 0;
    for file in header_files(dirs, limits.max_files) {
        if total >= limits.total {
            break;
        }
        let Some(bytes) = header_bytes(&file, limits.max_file_bytes) else {
            continue;
        };
        if !matcher.is_match(&bytes) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let line_bytes = line.as_bytes();
            for found in matcher.find_overlapping_iter(line_bytes) {
                let symbol = symbols[found.pattern().as_usize()].as_str();
                let (start, end) = (found.start(), found.end());
                let bounded = (start == 0 || !is_ident_byte(line_bytes[start - 1]))
                    && (end == line_bytes.len() || !is_ident_byte(line_bytes[end]));
                let list = per_symbol.entry(symbol).or_default();
                if !bounded
                    || list.len() >= limits.per_symbol
                    || total >= limits.total
                    || !declares(line, start, symbol)
                {
                    continue;
                }
                list.push(Declaration {
                    symbol: symbol.to_owned(),
                    file: file.to_string_lossy().into_owned(),
                    line: u32::try_from(index + 1).unwrap_or(u32::MAX),
                    text: declaration_text(&lines, index),
                });
                total += 1;
            }
        }
    }
    // Report in the order the symbols were asked for.
    symbols
        .iter()
        .filter_map(|symbol| per_symbol.remove(symbol.as_str()))
        .flatten()
        .collect()
}
