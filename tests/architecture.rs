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
];

/// Outside crates and the only modules allowed to name them.
const OWNERS: &[(&str, &[&str])] = &[
    ("leptos", &["ui"]),
    ("web_sys", &["browser"]),
    ("js_sys", &["browser"]),
    ("gloo_timers", &["browser"]),
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
        let module = rel.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs").to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        if let Some((_, forbidden)) = FORBIDDEN.iter().find(|(m, _)| *m == module) {
            for line in code_lines(&text) {
                for f in *forbidden {
                    if line.contains(&format!("crate::{f}::")) || line.contains(&format!("crate::{f};")) || line.contains(&format!("super::super::{f}")) {
                        problems.push(format!("{}: `{module}` must not reference `{f}`: {line}", rel.display()));
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
                    problems.push(format!("{}: `{krate}` belongs to {owners:?}, not `{module}`: {line}", rel.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "layering violations:\n{}", problems.join("\n"));
}
