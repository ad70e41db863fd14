//! The task registry: every task family's entries, in gallery order. Adding a task is one
//! `TaskInfo` in its file and one line in its family's `TASKS`.

use super::{dlr, recall, signal, structured, Params, Task, TaskInfo};
use crate::core::{ConfigError, FieldError};

/// All families, in the order the gallery and `interlab tasks list` show them.
pub static FAMILIES: &[&[&TaskInfo]] = &[recall::TASKS, dlr::TASKS, structured::TASKS, signal::TASKS];

/// Every registered task.
pub fn all() -> impl Iterator<Item = &'static TaskInfo> {
    FAMILIES.iter().flat_map(|f| f.iter().copied())
}

/// The entry for `name`, or an error on the `task` field listing the valid names.
pub fn find(name: &str) -> Result<&'static TaskInfo, FieldError> {
    all().find(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = all().map(|t| t.name).collect();
        FieldError::new("task", format!("unknown task '{name}' (tasks: {})", names.join(", ")))
    })
}

/// Parse `pairs` as `name`'s parameters (other keys ignored) and build the generator.
pub fn build<'a>(
    name: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Box<dyn Task>, ConfigError> {
    let info = find(name).map_err(|e| ConfigError { errors: vec![e] })?;
    let params = Params::from_pairs(info.params, pairs)?;
    (info.build)(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_default_builds() {
        let mut names: Vec<&str> = all().map(|t| t.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate task names");
        for info in all() {
            let t = (info.build)(Params::defaults(info.params))
                .unwrap_or_else(|e| panic!("{}: defaults invalid: {e}", info.name));
            assert_eq!(t.info().name, info.name);
            let s = t.shape();
            assert!(s.seq_len >= 1 && s.vocab >= 1 && s.output.channels() >= 1, "{}: {s:?}", info.name);
        }
    }

    #[test]
    fn parameter_keys_never_clash_with_model_or_app_keys() {
        use crate::core::config::FIELDS;
        use crate::core::share::is_app_key;
        for info in all() {
            let mut keys: Vec<&str> = info.params.iter().map(|p| p.key).collect();
            for k in &keys {
                assert!(
                    *k != "task" && !is_app_key(k) && !FIELDS.iter().any(|f| f.key == *k),
                    "{}: key '{k}' is taken",
                    info.name
                );
            }
            let n = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), n, "{}: duplicate parameter keys", info.name);
        }
    }

    #[test]
    fn unknown_task_lists_the_valid_ones() {
        let e = build("nope", []).err().unwrap();
        let m = e.for_field("task").unwrap();
        assert!(m.contains("unknown task 'nope'") && m.contains("mqar"), "{m}");
    }
}
