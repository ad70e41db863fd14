//! Why: the layer picture in the README (arrows point down) only stays true if something
//! checks it. This scans `src/` for `use`/path references that point up a layer, and for
//! outside crates used outside their owner module.

use std::path::Path;

/// For each module, the crate modules it must not reference.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("core", &["tasks", "model", "engine", "gpu", "browser", "ui", "study", "steer"]),
    ("tasks", &["model", "engine", "gpu", "browser", "ui", "study", "steer"]),
    ("model", &["engine", "gpu", "browser", "ui", "study", "steer"]),
    ("steer", &["engine", "gpu", "browser", "ui", "study"]),
    ("gpu", &["tasks", "model", "engine", "browser", "ui", "study", "steer"]),
    ("engine", &["browser", "ui", "study"]),
    ("browser", &["ui", "engine", "model", "gpu", "tasks", "worker"]),
    ("worker", &["ui"]),
    ("ui", &["worker"]),
    // Studies are pure: protocol, assignment, log, export, analysis. Only core and tasks.
    ("study", &["model", "engine", "gpu", "browser", "ui", "steer", "worker"]),
];

/// Modules that may use no outside crate but these (std is always allowed).
const PURE: &[(&str, &[&str])] = &[("study", &["serde", "serde_json"])];

/// Outside crates and the only modules allowed to name them.
const OWNERS: &[(&str, &[&str])] = &[
    ("leptos", &["ui"]),
    ("web_sys", &["browser"]),
    ("js_sys", &["browser"]),
    ("gloo_timers", &["browser"]),
    ("gloo_file", &["browser"]),
    ("gloo_net", &["browser"]),
    ("gloo_events", &["browser"]),
    ("wasm_bindgen", &["browser"]),
    ("wasm_bindgen_futures", &["browser"]),
    ("wgpu", &["gpu"]),
    ("candle_core", &["model", "engine", "steer"]),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn code_lines(src: &str) -> impl Iterator<Item = &str> {
    src.lines().map(str::trim).filter(|l| !l.starts_with("//"))
}

#[test]
fn layers_only_point_down_and_crates_stay_with_their_owners() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        if let Some((_, forbidden)) = FORBIDDEN.iter().find(|(m, _)| *m == module) {
            for line in code_lines(&text) {
                for f in *forbidden {
                    if line.contains(&format!("crate::{f}::"))
                        || line.contains(&format!("crate::{f};"))
                        || line.contains(&format!("super::super::{f}"))
                    {
                        problems
                            .push(format!("{}: `{module}` must not reference `{f}`: {line}", rel.display()));
                    }
                }
            }
        }
        for (krate, owners) in OWNERS {
            if owners.contains(&module.as_str()) || module == "main" || module == "bin" {
                continue;
            }
            for line in code_lines(&text) {
                if line.contains(&format!("{krate}::")) {
                    problems.push(format!(
                        "{}: `{krate}` belongs to {owners:?}, not `{module}`: {line}",
                        rel.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "layering violations:\n{}", problems.join("\n"));
}

/// The first path segment of each `use` / `extern crate` item and of each `name::` path.
fn crates_named(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '_') {
                i += 1;
            }
            let word: String = bytes[start..i].iter().collect();
            let prev = if start > 0 { bytes[start - 1] } else { ' ' };
            let path_start = prev != ':' && prev != '.' && !prev.is_ascii_alphanumeric() && prev != '_';
            if path_start && bytes.get(i) == Some(&':') && bytes.get(i + 1) == Some(&':') {
                out.push(word);
            }
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn pure_modules_use_only_their_allowed_outside_crates() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // Names a path may start with that are not outside crates.
    const LOCAL: &[&str] = &[
        "crate", "super", "self", "Self", "std", "core", "alloc", "f32", "f64", "u8", "u32", "u64", "usize",
        "i32", "i64", "str", "char", "bool",
    ];
    let mut problems = Vec::new();
    for (module, allowed) in PURE {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        assert!(!files.is_empty(), "src/{module} has no files");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            // Local names (modules, types, enums, consts) also start `Name::` paths.
            let mut locals: Vec<String> = Vec::new();
            for line in code_lines(&text) {
                for kw in ["mod ", "struct ", "enum ", "trait ", "type ", "fn ", "const ", "static ", "use "]
                {
                    if let Some(rest) = line.split_once(kw).map(|(_, r)| r) {
                        let name: String =
                            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                        locals.push(name);
                    }
                }
                if let Some(rest) = line.strip_prefix("use ").or_else(|| line.strip_prefix("pub use ")) {
                    for part in rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                        locals.push(part.to_string());
                    }
                }
            }
            for line in code_lines(&text) {
                if let Some(rest) = line.strip_prefix("use ").or_else(|| line.strip_prefix("pub use ")) {
                    let first: String =
                        rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    let declared_mod = text.contains(&format!("mod {first};"));
                    if !LOCAL.contains(&first.as_str()) && !allowed.contains(&first.as_str()) && !declared_mod
                    {
                        problems.push(format!(
                            "{}: `{module}` may not use crate `{first}`: {line}",
                            file.display()
                        ));
                    }
                    continue;
                }
                for name in crates_named(line) {
                    let outside = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && !LOCAL.contains(&name.as_str())
                        && !locals.contains(&name);
                    if outside && !allowed.contains(&name.as_str()) {
                        problems.push(format!(
                            "{}: `{module}` may not use crate `{name}`: {line}",
                            file.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "outside crates in pure modules:\n{}", problems.join("\n"));
}
