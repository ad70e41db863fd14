//! Default names of the files the lab and the CLI save, so a folder of downloads says what
//! each file is, which task and seed made it, and which build (or protocol) wrote it:
//! `interlab-<what>-<task>-s<seed>-v<version>.<ext>` for runs, and
//! `<study id>-<participant>-v<protocol version>[-<what>].<ext>` for study data.
//! Every part is made safe for a file name (anything but `A-Z a-z 0-9 . _ +` becomes `_`;
//! `-` separates the parts, so it is replaced inside them too).

/// `s` with every character that is unsafe in a file name, or a part separator (`-`),
/// replaced by `_`; an empty part becomes `_` so the name keeps its shape.
fn part(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+') { c } else { '_' })
        .collect();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// A run export made by this build: `interlab-<what>-<task>-s<seed>-v<crate version>.<ext>`,
/// e.g. `interlab-curve-mqar-s0-v0.1.0.csv`.
pub fn export_name(what: &str, task: &str, seed: u64, ext: &str) -> String {
    export_name_for(what, task, seed, crate::VERSION, ext)
}

/// `export_name` with the version given (tests, or files named for another build).
pub fn export_name_for(what: &str, task: &str, seed: u64, version: &str, ext: &str) -> String {
    format!("interlab-{}-{}-s{seed}-v{}.{}", part(what), part(task), part(version), part(ext))
}

/// A participant's study file: `<study id>-<participant>-v<protocol version>` then
/// `-<what>` when `what` is not empty, then `.<ext>`; e.g. `pilot-p01-v1.2-trials.csv`.
pub fn study_export_name(study_id: &str, participant: &str, version: &str, what: &str, ext: &str) -> String {
    let tail = if what.is_empty() { String::new() } else { format!("-{}", part(what)) };
    format!("{}-{}-v{}{tail}.{}", part(study_id), part(participant), part(version), part(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_exports_carry_what_task_seed_and_version() {
        assert_eq!(export_name_for("curve", "mqar", 7, "0.1.0", "csv"), "interlab-curve-mqar-s7-v0.1.0.csv");
        assert_eq!(
            export_name("weights", "dlr_copy", 0, "safetensors"),
            format!("interlab-weights-dlr_copy-s0-v{}.safetensors", crate::VERSION)
        );
    }

    #[test]
    fn unsafe_characters_and_separators_become_underscores() {
        assert_eq!(
            export_name_for("sweep", "../a b/c-d", u64::MAX, "1.0-rc1", "csv"),
            "interlab-sweep-.._a_b_c_d-s18446744073709551615-v1.0_rc1.csv"
        );
        assert_eq!(export_name_for("", "", 1, "", "json"), "interlab-_-_-s1-v_.json");
    }

    #[test]
    fn study_exports_carry_study_participant_and_protocol_version() {
        assert_eq!(study_export_name("pilot", "p01", "1.2", "trials", "csv"), "pilot-p01-v1.2-trials.csv");
        assert_eq!(study_export_name("pilot", "p/01", "1", "", "json"), "pilot-p_01-v1.json");
    }
}
