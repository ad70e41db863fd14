//! Independent checks for the structured family.

use super::Checker;

pub fn checker(name: &str) -> Option<Checker> {
    let _ = name;
    None
}
