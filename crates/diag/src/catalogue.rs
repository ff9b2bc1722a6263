//! Stable diagnostic codes and the catalogue that explains them.

use crate::Severity;

/// A stable diagnostic code: its id never changes meaning once released.
#[derive(Debug)]
pub struct Code {
    /// The id users see and search for, e.g. `B0102`. The letter names the
    /// part of hvhost: `G` general, `B` buildfile, `Q` qvmconf, `I` IFS
    /// images, `H` host checks, `V` the VMM.
    pub id: &'static str,
    /// A short kebab-case name, e.g. `missing-filename` (the SARIF rule name).
    pub name: &'static str,
    /// The default severity.
    pub severity: Severity,
    /// One line: what the code means.
    pub summary: &'static str,
    /// The long explanation (Markdown): what it means, why, and how to fix it,
    /// with a wrong and a right example.
    pub explanation: &'static str,
}

impl PartialEq for Code {
    fn eq(&self, other: &Code) -> bool {
        self.id == other.id
    }
}

impl Eq for Code {}

/// Every code of every part of hvhost, for `hvhost explain` and SARIF rules.
#[derive(Debug, Default, Clone)]
pub struct Catalogue {
    codes: Vec<&'static Code>,
}

impl Catalogue {
    /// An empty catalogue.
    pub fn new() -> Catalogue {
        Catalogue::default()
    }

    /// Adds a crate's codes (its `ALL` slice).
    pub fn extend(&mut self, codes: &[&'static Code]) -> &mut Catalogue {
        self.codes.extend_from_slice(codes);
        self.codes.sort_by(|a, b| a.id.cmp(b.id));
        self.codes.dedup_by(|a, b| a.id == b.id);
        self
    }

    /// Looks a code up by id (any case) or by name.
    pub fn find(&self, key: &str) -> Option<&'static Code> {
        self.codes
            .iter()
            .copied()
            .find(|c| c.id.eq_ignore_ascii_case(key) || c.name == key)
    }

    /// All codes, sorted by id.
    pub fn codes(&self) -> &[&'static Code] {
        &self.codes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_id_in_any_case_and_by_name() {
        let mut cat = Catalogue::new();
        cat.extend(crate::ALL);
        assert_eq!(cat.find("g0001").map(|c| c.id), Some("G0001"));
        assert_eq!(cat.find("input-not-text").map(|c| c.id), Some("G0002"));
        assert!(cat.find("G9999").is_none());
    }

    #[test]
    fn every_code_is_explained() {
        for code in crate::ALL {
            assert!(
                code.explanation.len() > 80,
                "{} explanation too short",
                code.id
            );
            assert!(code.explanation.starts_with(&format!("# {}", code.id)));
        }
    }
}
