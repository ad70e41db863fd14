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
const PURE: &[(&str, &[&str])] = &[
    // pulldown_cmark: consent/instruction markdown is pure text -> HTML, tested natively here.
    ("study", &["serde", "serde_json", "pulldown_cmark"]),
];

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
    ("pulldown_cmark", &["study"]),
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

/// The engine's files (one node per file, `steering/` as one) and the engine files each one
/// names outside its tests: `super::x`, `crate::engine::x`, grouped `super::{a, b}` items,
/// and names re-exported by `engine/mod.rs` (`pub use session::ChunkReport` makes a
/// `super::ChunkReport` an edge to `session`).
fn engine_file_graph(engine: &Path) -> Vec<(String, Vec<String>)> {
    let mut nodes: Vec<String> = Vec::new();
    for e in std::fs::read_dir(engine).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_str().unwrap().to_string();
        if name != "mod" && (p.is_dir() || p.extension().is_some_and(|x| x == "rs")) {
            nodes.push(name);
        }
    }
    nodes.sort();
    // `pub use module::{A, B};` in mod.rs: re-exported name -> module.
    let mod_rs = std::fs::read_to_string(engine.join("mod.rs")).unwrap();
    let mut reexports: Vec<(String, String)> = Vec::new();
    for line in code_lines(&mod_rs) {
        if let Some(rest) = line.strip_prefix("pub use ") {
            if let Some((module, items)) = rest.split_once("::") {
                for item in items.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if !item.is_empty() {
                        reexports.push((item.to_string(), module.to_string()));
                    }
                }
            }
        }
    }
    let target = |word: &str| -> Option<String> {
        if nodes.iter().any(|n| n == word) {
            return Some(word.to_string());
        }
        reexports.iter().find(|(item, _)| item == word).map(|(_, m)| m.clone())
    };
    let mut graph = Vec::new();
    for node in &nodes {
        let mut files = Vec::new();
        let dir = engine.join(node);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(engine.join(format!("{node}.rs")));
        }
        let mut edges: Vec<String> = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            // Inside steering/, `super::` is steering itself; the engine is `super::super::`.
            let prefixes: &[&str] = if dir.is_dir() {
                &["super::super::", "crate::engine::"]
            } else {
                &["super::", "crate::engine::"]
            };
            for line in code_lines(code) {
                for prefix in prefixes {
                    for (i, _) in line.match_indices(prefix) {
                        if *prefix == "super::" && line[..i].ends_with("super::") {
                            continue;
                        }
                        let rest = &line[i + prefix.len()..];
                        let words: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                            let inner = group.split('}').next().unwrap_or("");
                            inner.split(',').map(|w| w.trim().split("::").next().unwrap_or("")).collect()
                        } else {
                            vec![rest
                                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                                .next()
                                .unwrap()]
                        };
                        for w in words {
                            if let Some(t) = target(w.trim()) {
                                if t != *node && !edges.contains(&t) {
                                    edges.push(t);
                                }
                            }
                        }
                    }
                }
            }
        }
        edges.sort();
        graph.push((node.clone(), edges));
    }
    graph
}

/// A cycle in `graph` as a path `a -> b -> ... -> a`, if there is one.
fn find_cycle(graph: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &[(String, Vec<String>)],
        state: &mut Vec<(String, u8)>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        let s = state.iter().find(|(m, _)| m == n).map(|(_, s)| *s).unwrap_or(0);
        if s == 1 {
            let start = stack.iter().position(|m| m == n).unwrap();
            let mut cycle = stack[start..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if s == 2 {
            return None;
        }
        state.push((n.to_string(), 1));
        stack.push(n.to_string());
        for next in graph.iter().find(|(m, _)| m == n).map(|(_, e)| e.as_slice()).unwrap_or(&[]) {
            if let Some(c) = visit(next, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.retain(|(m, _)| m != n);
        state.push((n.to_string(), 2));
        None
    }
    let mut state = Vec::new();
    for (n, _) in graph {
        if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_engine_files_import_each_other_without_a_cycle() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    let graph = engine_file_graph(&engine);
    // The scan sees real edges (a scan that found none would pass vacuously).
    let edges = |n: &str| graph.iter().find(|(m, _)| m == n).map(|(_, e)| e.clone()).unwrap_or_default();
    assert!(edges("session").contains(&"trainer".to_string()), "{graph:?}");
    assert!(edges("plan").contains(&"env".to_string()), "{graph:?}");
    assert!(edges("messages").contains(&"session".to_string()), "via `super::ChunkReport`: {graph:?}");
    if let Some(c) = find_cycle(&graph) {
        panic!("the engine's files import each other in a circle: {}", c.join(" -> "));
    }
}

#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let g = |e: &[(&str, &[&str])]| -> Vec<(String, Vec<String>)> {
        e.iter().map(|(n, es)| (n.to_string(), es.iter().map(|s| s.to_string()).collect())).collect()
    };
    assert_eq!(find_cycle(&g(&[("a", &["b"]), ("b", &["c"]), ("c", &[])])), None);
    let c = find_cycle(&g(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])).unwrap();
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
}

#[test]
fn no_process_globals_hold_run_settings() {
    // Settings reach the engine as values (`engine::RunEnv`): no `static` atomics or cells.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for module in ["core", "tasks", "model", "steer", "engine", "gpu", "study"] {
        rust_files(&src.join(module), &mut files);
    }
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in code_lines(&text) {
            let is_static = line.starts_with("static ") || line.starts_with("pub static ");
            if is_static && (line.contains("Atomic") || line.contains("Mutex") || line.contains("Cell")) {
                problems.push(format!("{}: {line}", file.display()));
            }
        }
    }
    assert!(problems.is_empty(), "process-wide mutable settings:\n{}", problems.join("\n"));
}
