//! Function prototypes for a sketch, as the Arduino builders make them: arduino-ctags lists the
//! functions of the concatenated `.ino` source, and every free function without a prototype
//! gets one, inserted before the first function definition with `#line` directives. Pure.

use std::fmt::Write as _;

/// One function definition from ctags output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionTag {
    pub name: String,
    pub line: u32,
    pub prototype: String,
}

/// Parses `arduino-ctags -f - --fields=KSTtzns` output into the free functions that need a
/// prototype (not methods, not already declared, not templates).
pub fn functions_needing_prototypes(ctags: &str) -> Vec<FunctionTag> {
    let mut declared = std::collections::HashSet::new();
    let mut functions = Vec::new();
    for line in ctags.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 4 {
            continue;
        }
        let name = fields[0];
        let code = fields[2];
        let mut kind = "";
        let mut line_no = 0;
        let mut signature = "";
        let mut returntype = "";
        let mut scoped = false;
        for field in &fields[3..] {
            if let Some(v) = field.strip_prefix("kind:") {
                kind = v;
            } else if let Some(v) = field.strip_prefix("line:") {
                line_no = v.parse().unwrap_or(0);
            } else if let Some(v) = field.strip_prefix("signature:") {
                signature = v;
            } else if let Some(v) = field.strip_prefix("returntype:") {
                returntype = v;
            } else if ["class:", "struct:", "namespace:", "union:"]
                .iter()
                .any(|p| field.starts_with(p))
            {
                scoped = true;
            }
        }
        match kind {
            "prototype" => {
                declared.insert(name.to_owned());
            }
            // Why skip templates and scoped names: a prototype for them would not compile (the
            // builders skip them too).
            "function" if !scoped && !returntype.is_empty() && !code.contains("template") => {
                let is_static = code
                    .trim_start_matches("/^")
                    .trim_start()
                    .starts_with("static ");
                functions.push(FunctionTag {
                    name: name.to_owned(),
                    line: line_no,
                    prototype: format!(
                        "{}{returntype} {name}{signature};",
                        if is_static { "static " } else { "" }
                    ),
                });
            }
            _ => {}
        }
    }
    functions.retain(|f| !declared.contains(&f.name));
    functions
}

/// Inserts the prototypes into `source` (the concatenated sketch, whose lines carry `#line`
/// directives naming `file`), before the line of the first function definition.
/// `first_code_line` is the line in `source` where that function starts.
pub fn insert_prototypes(
    source: &str,
    file: &str,
    functions: &[FunctionTag],
    first_code_line: usize,
    sketch_line_of_first: u32,
) -> String {
    if functions.is_empty() {
        return source.to_owned();
    }
    let mut out = String::with_capacity(source.len() + 256);
    for (index, line) in source.lines().enumerate() {
        if index + 1 == first_code_line {
            for f in functions {
                let _ = writeln!(out, "#line {} \"{file}\"\n{}", f.line, f.prototype);
            }
            let _ = writeln!(out, "#line {sketch_line_of_first} \"{file}\"");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
