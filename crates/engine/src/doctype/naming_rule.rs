//! Naming rules (SPEC F5), parsed from a doctype's `autoname`.

use super::{DocType, FieldType};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamingRule {
    /// `field:<fieldname>`: the value of that field.
    Field(String),
    /// `hash`: ten random hex characters.
    Hash,
    /// `autoincrement`: 1, 2, 3… per doctype.
    Autoincrement,
    /// A series such as `SINV-.YYYY.-.#####`: parts split by `.`; `YYYY`,
    /// `YY`, `MM`, `DD` are date parts, a run of `#` the zero-padded counter.
    Series(String),
    /// `prompt`: the caller supplies the name.
    Prompt,
}

impl NamingRule {
    pub fn parse(autoname: &str) -> Result<NamingRule> {
        let a = autoname.trim();
        let rule = if let Some(field) = a.strip_prefix("field:") {
            NamingRule::Field(field.trim().to_owned())
        } else if a.eq_ignore_ascii_case("hash") {
            NamingRule::Hash
        } else if a.eq_ignore_ascii_case("autoincrement") {
            NamingRule::Autoincrement
        } else if a.eq_ignore_ascii_case("prompt") {
            NamingRule::Prompt
        } else if a
            .split('.')
            .any(|p| !p.is_empty() && p.chars().all(|c| c == '#'))
        {
            NamingRule::Series(a.to_owned())
        } else {
            return Err(Error::invalid(
                "autoname",
                format!(
                    "Unknown naming rule {a:?}: use field:<fieldname>, hash, autoincrement, prompt or a series like SINV-.YYYY.-.#####"
                ),
            ));
        };
        Ok(rule)
    }

    pub(super) fn validate_against(&self, dt: &DocType) -> Result<()> {
        if let NamingRule::Field(f) = self {
            match dt.field(f) {
                Some(field) if field.fieldtype != FieldType::Table => Ok(()),
                _ => Err(Error::invalid(
                    "autoname",
                    format!(
                        "Naming rule field:{f} names no field of {} that could hold a name",
                        dt.name
                    ),
                )),
            }
        } else {
            Ok(())
        }
    }

    /// For a series: the prefix (date parts resolved) and the counter width.
    pub fn series_parts(pattern: &str, today: chrono::NaiveDate) -> (String, usize) {
        let mut prefix = String::new();
        let mut width = 0;
        for part in pattern.split('.') {
            match part {
                "YYYY" => prefix.push_str(&today.format("%Y").to_string()),
                "YY" => prefix.push_str(&today.format("%y").to_string()),
                "MM" => prefix.push_str(&today.format("%m").to_string()),
                "DD" => prefix.push_str(&today.format("%d").to_string()),
                p if !p.is_empty() && p.chars().all(|c| c == '#') => width = p.len(),
                p => prefix.push_str(p),
            }
        }
        (prefix, width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_resolves_date_parts_and_width() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        assert_eq!(
            NamingRule::series_parts("SINV-.YYYY.-.#####", day),
            ("SINV-2026-".to_owned(), 5)
        );
        assert_eq!(
            NamingRule::series_parts("X.YY.MM.DD.-.###", day),
            ("X260309-".to_owned(), 3)
        );
    }

    #[test]
    fn unknown_rules_are_refused() {
        assert!(NamingRule::parse("whatever").is_err());
        assert_eq!(
            NamingRule::parse("field:title").unwrap(),
            NamingRule::Field("title".into())
        );
        assert!(matches!(
            NamingRule::parse("SINV-.#####").unwrap(),
            NamingRule::Series(_)
        ));
    }
}
