//! Why: a researcher's typo must be caught before any participant sees the study, with a
//! message that names the field and the line — and no input may crash the validator.
//! `tests/protocols/bad/` holds one malformed protocol per file (written by
//! `tests/protocols/make_bad.py`, whose JSON writer records each field's line itself);
//! `expected.txt` maps each file to the fragment its rejection must contain.

use std::path::Path;

use interlab::study::{parse_protocol, StudyError};

/// The corpus must stay at least this large (issue 7 asks for 50).
const MIN_CASES: usize = 50;

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/protocols")
}

fn expectations() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir().join("bad/expected.txt")).expect("expected.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (f, frag) = l.split_once('\t').unwrap_or_else(|| panic!("bad expected.txt line: {l}"));
            (f.to_string(), frag.to_string())
        })
        .collect()
}

#[test]
fn every_malformed_protocol_is_rejected_with_its_specific_message() {
    let cases = expectations();
    assert!(cases.len() >= MIN_CASES, "only {} malformed protocols", cases.len());
    let mut on_disk: Vec<String> = std::fs::read_dir(dir().join("bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases.iter().map(|(f, _)| f.clone()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every file in bad/ needs exactly one expectation");
    let mut failures = Vec::new();
    for (file, fragment) in &cases {
        let text = std::fs::read_to_string(dir().join("bad").join(file)).unwrap();
        match parse_protocol(&text) {
            Ok(_) => failures.push(format!("{file}: accepted")),
            Err(StudyError::Invalid(issues)) => {
                let msgs: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
                if !msgs.iter().any(|m| m.contains(fragment.as_str())) {
                    failures
                        .push(format!("{file}: expected '{fragment}', got:\n    {}", msgs.join("\n    ")));
                }
                assert!(
                    issues.iter().all(|i| i.line >= 1 && i.line <= text.lines().count().max(1)),
                    "{file}: line out of range: {msgs:?}"
                );
            }
            Err(other) => failures.push(format!("{file}: wrong error kind {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_base_of_the_corpus_and_the_shipped_studies_are_valid() {
    let base = std::fs::read_to_string(dir().join("good-base.json")).unwrap();
    parse_protocol(&base).unwrap_or_else(|e| panic!("{e}"));
    for name in ["assistance-persistence", "advisor-manipulation", "attention-editing"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("public/studies/{name}.json"));
        let p =
            parse_protocol(&std::fs::read_to_string(path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.metadata.id, name);
    }
}

/// The schema example in docs/studies.md must stay a valid protocol.
#[test]
fn the_docs_schema_example_is_valid() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/studies.md")).unwrap();
    let at = readme.find("A trimmed example").expect("docs/studies.md: the schema example");
    let start = readme[at..].find("```json").unwrap() + at + "```json".len();
    let end = readme[start..].find("```").unwrap() + start;
    let text = readme[start..end].replace("<64 hex digits>", &"ab".repeat(32));
    let p = parse_protocol(&text).unwrap_or_else(|e| panic!("docs/studies.md example: {e}"));
    assert_eq!(p.trials().count(), 10);
}

/// Every truncation and many seeded byte edits of a valid protocol: never a panic, and
/// anything accepted re-validates identically.
#[test]
fn no_input_panics_the_validator() {
    let base = std::fs::read_to_string(dir().join("good-base.json")).unwrap();
    let bytes = base.as_bytes();
    let mut rejected = 0;
    for cut in 0..bytes.len() {
        if parse_protocol(&String::from_utf8_lossy(&bytes[..cut])).is_err() {
            rejected += 1;
        }
    }
    assert!(rejected >= bytes.len() - 2, "truncations accepted: {}", bytes.len() - rejected);
    let mut rng = interlab::core::Rng::new(99);
    let junk = b"{}[]\",:0-9eE.tfn \\\n";
    for _ in 0..3000 {
        let mut b = bytes.to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len() as u64) as usize;
            b[i] = junk[rng.below(junk.len() as u64) as usize];
        }
        let text = String::from_utf8_lossy(&b);
        if let Err(e) = parse_protocol(&text) {
            assert!(!e.issues().is_empty(), "an invalid protocol must carry issues");
        }
    }
}

/// The CLI: exit codes and messages for `study validate`, and the files `study simulate`
/// and `study analyze` write.
#[test]
fn cli_validate_simulate_analyze() {
    use std::process::Command;
    let exe = env!("CARGO_BIN_EXE_interlab");
    let bad = dir().join("bad/43-advice-unknown.json");
    let out = Command::new(exe).args(["study", "validate"]).arg(&bad).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("line 74: blocks[1].trials[0].advice: unknown advice 'sometimes'"), "{stdout}");
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("public/studies/advisor-manipulation.json");
    let out = Command::new(exe).args(["study", "validate"]).arg(&good).output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("ok: advisor-manipulation")
    );

    let tmp = std::env::temp_dir().join(format!("interlab-study-cli-{}", std::process::id()));
    let out = Command::new(exe)
        .args(["study", "simulate"])
        .arg(&good)
        .args(["--n", "40", "--sim-seed", "2", "--out"])
        .arg(&tmp)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["trials.csv", "events.csv", "export.json"] {
        assert!(tmp.join(f).metadata().unwrap().len() > 100, "{f}");
    }
    let table = tmp.join("analysis.csv");
    let out = Command::new(exe)
        .args(["study", "analyze"])
        .arg(tmp.join("trials.csv"))
        .arg("--out")
        .arg(&table)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(
        text.starts_with("metric,condition,n_participants,")
            && text.contains("harmful_choice_rate,advisor=manipulative"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
