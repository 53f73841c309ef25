//! Conditional events (SPEC F17): an expression over the current document,
//! such as Frappe's `doc.public == 1` or `doc.docstatus == 1`, evaluated by
//! an embedded, sandboxed engine (rhai): no file or network access, bounded
//! operations, depth, sizes and time. Invalid expressions are refused when
//! saved.

use std::cell::Cell;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, Scope, AST};

use crate::document::Doc;
use crate::error::{Error, Result};

const MAX_OPERATIONS: u64 = 200_000;
const MAX_TIME: Duration = Duration::from_millis(250);

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let mut e = Engine::new();
    e.set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(16)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(64 * 1024)
        .set_max_array_size(10_000)
        .set_max_map_size(10_000)
        .set_max_modules(0)
        .on_print(|_| {})
        .on_debug(|_, _, _| {})
        .on_progress(|ops| {
            let late =
                ops % 1024 == 0 && DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() > t));
            late.then(|| Dynamic::from("time limit"))
        });
    e
});

/// Words rhai reserves that are ordinary field names in doctypes
/// (`doc.public` is Frappe's own example).
const RESERVED: &[&str] = &[
    "public",
    "private",
    "protected",
    "static",
    "shared",
    "with",
    "is",
    "goto",
    "exit",
    "match",
    "case",
    "new",
    "use",
    "module",
    "package",
    "super",
    "thread",
    "spawn",
    "go",
    "await",
    "async",
    "sync",
    "yield",
    "default",
    "void",
    "null",
    "nil",
    "var",
    "include",
    "import",
    "export",
    "as",
    "global",
];

/// Rewrites `.word` into `["word"]` where `word` is reserved by rhai, outside
/// string literals, so `doc.public` reads the field.
fn rewrite_reserved(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + 8);
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 1;
            } else if c == q {
                quote = None;
            }
        } else if c == '"' || c == '\'' || c == '`' {
            quote = Some(c);
            out.push(c);
        } else if c == '.' {
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            let word: String = chars[start..end].iter().collect();
            if RESERVED.contains(&word.as_str()) {
                out.push_str(&format!("[\"{word}\"]"));
                i = end;
                continue;
            }
            out.push(c);
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// A checked condition, ready to evaluate.
pub struct Condition {
    ast: AST,
}

impl Condition {
    /// Compiles `text`; None when there is no condition. `cmd:` functions are
    /// refused for now with a message that says so.
    pub fn compile(text: Option<&str>) -> Result<Option<Condition>> {
        let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if t.starts_with("cmd:") {
            return Err(Error::invalid(
                "condition",
                "cmd: conditions (custom functions) are not supported by this site yet; use an expression such as doc.public == 1",
            ));
        }
        let ast = ENGINE
            .compile_expression(rewrite_reserved(t))
            .map_err(|e| Error::invalid("condition", format!("Invalid condition {t:?}: {e}")))?;
        Ok(Some(Condition { ast }))
    }

    /// Whether `doc` satisfies the condition.
    pub fn matches(&self, doc: &Doc) -> Result<bool> {
        let value = rhai::serde::to_dynamic(doc)
            .map_err(|e| Error::Corrupt(format!("document for condition: {e}")))?;
        let mut scope = Scope::new();
        scope.push_constant("doc", value);
        DEADLINE.with(|d| d.set(Some(Instant::now() + MAX_TIME)));
        let out = ENGINE.eval_ast_with_scope::<Dynamic>(&mut scope, &self.ast);
        DEADLINE.with(|d| d.set(None));
        let out =
            out.map_err(|e| Error::invalid("condition", format!("Condition stopped: {e}")))?;
        if let Some(b) = out.clone().try_cast::<bool>() {
            return Ok(b);
        }
        if let Some(n) = out.clone().try_cast::<i64>() {
            return Ok(n != 0);
        }
        Err(Error::invalid(
            "condition",
            format!(
                "A condition must give true or false, not {}",
                out.type_name()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: serde_json::Value) -> Doc {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn frappes_examples_work_verbatim() {
        let public = Condition::compile(Some("doc.public == 1"))
            .unwrap()
            .unwrap();
        assert!(public.matches(&doc(json!({"public": 1}))).unwrap());
        assert!(!public.matches(&doc(json!({"public": 0}))).unwrap());
        let submitted = Condition::compile(Some("doc.docstatus == 1"))
            .unwrap()
            .unwrap();
        assert!(submitted.matches(&doc(json!({"docstatus": 1}))).unwrap());
        assert_eq!(
            rewrite_reserved(r#"doc.title == "a.public""#),
            r#"doc.title == "a.public""#
        );
    }

    #[test]
    fn invalid_and_runaway_conditions_are_stopped_with_a_clear_error() {
        let bad = Condition::compile(Some("doc.public =="))
            .err()
            .unwrap()
            .to_string();
        assert!(bad.contains("Invalid condition"), "{bad}");
        assert!(Condition::compile(Some("cmd: app.note.is_odd")).is_err());
        // Loops and statements are not expressions: refused when saved.
        let looping = Condition::compile(Some("{ let x = 0; loop { x += 1; } }"))
            .err()
            .unwrap()
            .to_string();
        assert!(looping.contains("Invalid condition"), "{looping}");
        // Work that would explode is stopped by the limits.
        let greedy = Condition::compile(Some(r#""x".pad(1000000000, "y").len() > 0"#))
            .unwrap()
            .unwrap();
        let err = greedy.matches(&doc(json!({}))).unwrap_err().to_string();
        assert!(err.contains("Condition stopped"), "{err}");
        assert!(Condition::compile(Some("")).unwrap().is_none());
    }
}
