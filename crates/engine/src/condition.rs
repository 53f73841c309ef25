//! Conditional events (SPEC F17): an expression over the current document,
//! such as Frappe's `doc.public == 1` or `doc.docstatus == 1`, evaluated by
//! an embedded, sandboxed engine (rhai): no file or network access, bounded
//! operations, depth, sizes and time. Invalid expressions are refused when
//! saved.

use std::cell::Cell;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, Scope, AST};

use rusqlite::Connection;

use crate::doctype::Registry;
use crate::document::Doc;
use crate::error::{Error, Result};

const MAX_OPERATIONS: u64 = 200_000;
const MAX_TIME: Duration = Duration::from_millis(250);

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The sandbox every condition runs in: no modules, no output, bounded
/// operations, depth, sizes and time (see DEADLINE).
fn sandboxed() -> Engine {
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
}

static ENGINE: LazyLock<Engine> = LazyLock::new(sandboxed);

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

/// Python words of Frappe's expressions and their rhai spelling.
const PYTHON_WORDS: &[(&str, &str)] = &[
    ("and", "&&"),
    ("or", "||"),
    ("not", "!"),
    ("None", "()"),
    ("True", "true"),
    ("False", "false"),
];

/// Reads a Frappe (Python-flavoured) expression as rhai, outside string
/// literals: `.word` where rhai reserves `word` becomes `["word"]` (so
/// `doc.public` reads the field), `'text'` becomes `"text"`, and `and`,
/// `or`, `not`, `None`, `True`, `False` become rhai's own.
fn rewrite(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + 8);
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == '\\' && i + 1 < chars.len() {
                out.push(c);
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
                out.push(if q == '\'' { '"' } else { c });
            } else if q == '\'' && c == '"' {
                out.push_str("\\\"");
            } else {
                out.push(c);
            }
            i += 1;
            continue;
        }
        if c == '"' || c == '`' || c == '\'' {
            quote = Some(c);
            out.push(if c == '\'' { '"' } else { c });
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let mut end = i;
            while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            let word: String = chars[i..end].iter().collect();
            let after_dot = out.ends_with('.');
            if after_dot && RESERVED.contains(&word.as_str()) {
                out.pop();
                out.push_str(&format!("[\"{word}\"]"));
            } else if let Some((_, rhai)) =
                PYTHON_WORDS.iter().find(|(w, _)| !after_dot && *w == word)
            {
                out.push_str(rhai);
            } else {
                out.push_str(&word);
            }
            i = end;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

pub const CONDITION_SCRIPT: &str = "Condition Script";

/// A checked condition, ready to evaluate.
#[derive(Clone)]
pub enum Condition {
    /// An expression over `doc`.
    Expr(AST),
    /// `cmd: <script>.<function>`: a function of a Condition Script,
    /// called with `consumer`, `doc` and `update_log`.
    Cmd { script: String, function: String },
}

/// What a `cmd:` function may read: the site's documents through a
/// read-only connection, with the doctypes of the moment.
#[derive(Clone)]
pub struct ScriptEnv {
    pub conn: Arc<Mutex<Connection>>,
    pub registry: Arc<Registry>,
}

impl ScriptEnv {
    /// An empty store: enough to compile (check) a script or expression.
    fn detached() -> Result<ScriptEnv> {
        Ok(ScriptEnv {
            conn: Arc::new(Mutex::new(Connection::open_in_memory()?)),
            registry: Arc::new(Registry::default()),
        })
    }
}

/// The engine for Condition Scripts: the sandbox, plus store queries.
fn script_engine(env: &ScriptEnv) -> Engine {
    let mut e = sandboxed();
    let env = env.clone();
    // count(doctype, filters): Frappe's frappe.db.count — filters as a map
    // {field: value} or {field: [op, value]}.
    e.register_fn(
        "count",
        move |doctype: &str,
              filters: rhai::Map|
              -> std::result::Result<i64, Box<rhai::EvalAltResult>> {
            let filters: serde_json::Value = rhai::serde::from_dynamic(&Dynamic::from_map(filters))
                .map_err(|e| e.to_string())?;
            let conn = env.conn.lock().unwrap_or_else(|p| p.into_inner());
            crate::query::count_in(&conn, &env.registry, doctype, Some(&filters))
                .map_err(|e| e.to_string().into())
        },
    );
    e
}

/// `frappe.db` inside `eval:` expressions.
#[derive(Clone)]
struct Db;

/// `get_value(doctype, name, field)`: Frappe's `frappe.db.get_value`. The
/// name may be `None` (the doctype's one document, as for Global Defaults),
/// a document name, or a map of filters (the first match).
fn get_value(
    env: &ScriptEnv,
    doctype: &str,
    name: Dynamic,
    field: &str,
) -> std::result::Result<Dynamic, Box<rhai::EvalAltResult>> {
    let conn = env.conn.lock().unwrap_or_else(|p| p.into_inner());
    let filters = if name.is_unit() {
        None
    } else if let Some(n) = name.clone().try_cast::<rhai::ImmutableString>() {
        Some(serde_json::json!({ "name": n.as_str() }))
    } else {
        Some(rhai::serde::from_dynamic(&name).map_err(|e| e.to_string())?)
    };
    let names = crate::query::names_in(&conn, &env.registry, doctype, filters.as_ref(), 1)
        .map_err(|e| e.to_string())?;
    let Some(found) = names.first() else {
        return Ok(Dynamic::UNIT);
    };
    let data: String = conn
        .query_row(
            "SELECT data FROM documents WHERE doctype = ?1 AND name = ?2",
            (doctype, found),
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    let doc = crate::document::store::parse(doctype, found, &data).map_err(|e| e.to_string())?;
    match doc.get(field) {
        Some(v) => rhai::serde::to_dynamic(v),
        None => Ok(Dynamic::UNIT),
    }
}

/// The engine for `eval:` values: Condition Scripts' engine plus
/// `get_value` and `frappe.db.get_value`.
fn value_engine(env: &ScriptEnv) -> Engine {
    let mut e = script_engine(env);
    e.register_type_with_name::<Db>("Db");
    let env1 = env.clone();
    e.register_fn(
        "get_value",
        move |doctype: &str, name: Dynamic, field: &str| get_value(&env1, doctype, name, field),
    );
    let env2 = env.clone();
    e.register_fn(
        "get_value",
        move |_db: &mut Db, doctype: &str, name: Dynamic, field: &str| {
            get_value(&env2, doctype, name, field)
        },
    );
    e
}

/// Evaluates the expression of an `eval:` remote value filter (SPEC F16)
/// over the incoming `doc`; it may read the local store, as in the seed's
/// `frappe.db.get_value('Global Defaults', None, 'country')`.
pub fn eval_value(env: &ScriptEnv, expr: &str, doc: &Doc) -> Result<serde_json::Value> {
    let engine = value_engine(env);
    let ast = engine.compile_expression(rewrite(expr)).map_err(|e| {
        Error::invalid(
            "remote_value_filters",
            format!("Invalid eval: expression {expr:?}: {e}"),
        )
    })?;
    let mut scope = Scope::new();
    scope.push_constant("doc", to_dynamic(doc)?);
    let mut frappe = rhai::Map::new();
    frappe.insert("db".into(), Dynamic::from(Db));
    scope.push("frappe", frappe);
    DEADLINE.with(|d| d.set(Some(Instant::now() + MAX_TIME)));
    let out = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast);
    DEADLINE.with(|d| d.set(None));
    let out = out.map_err(|e| {
        Error::invalid(
            "remote_value_filters",
            format!("eval: {expr:?} stopped: {e}"),
        )
    })?;
    rhai::serde::from_dynamic(&out).map_err(|e| {
        Error::invalid(
            "remote_value_filters",
            format!("eval: {expr:?} gave no usable value: {e}"),
        )
    })
}

/// Checks an `eval:` expression when a mapping is saved.
pub fn check_eval(expr: &str) -> Result<()> {
    value_engine(&ScriptEnv::detached()?)
        .compile_expression(rewrite(expr))
        .map(|_| ())
        .map_err(|e| {
            Error::invalid(
                "remote_value_filters",
                format!("Invalid eval: expression {expr:?}: {e}"),
            )
        })
}

/// Checks a Condition Script's source (run before it is stored).
pub fn check_script(source: &str) -> Result<AST> {
    script_engine(&ScriptEnv::detached()?)
        .compile(source)
        .map_err(|e| Error::invalid("script", format!("Invalid script: {e}")))
}

impl Condition {
    /// Compiles `text`; None when there is no condition. A `cmd:` names a
    /// script and a function (`cmd: my_custom_app.note.is_odd_note` is the
    /// function `is_odd_note` of the Condition Script `my_custom_app.note`).
    pub fn compile(text: Option<&str>) -> Result<Option<Condition>> {
        let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if let Some(path) = t.strip_prefix("cmd:") {
            let path = path.trim();
            return match path.rsplit_once('.') {
                Some((script, function)) if !script.is_empty() && !function.is_empty() => {
                    Ok(Some(Condition::Cmd {
                        script: script.to_owned(),
                        function: function.to_owned(),
                    }))
                }
                _ => Err(Error::invalid(
                    "condition",
                    format!("cmd: needs <script>.<function>, got {path:?}"),
                )),
            };
        }
        let ast = ENGINE
            .compile_expression(rewrite(t))
            .map_err(|e| Error::invalid("condition", format!("Invalid condition {t:?}: {e}")))?;
        Ok(Some(Condition::Expr(ast)))
    }

    /// For `cmd:`: checks that the script exists here and defines the
    /// function with three parameters (consumer, doc, update_log).
    pub fn check_target(&self, tx: &rusqlite::Transaction) -> Result<()> {
        let Condition::Cmd { script, function } = self else {
            return Ok(());
        };
        let ast = load_script(tx, script)?;
        if ast
            .iter_functions()
            .any(|f| f.name == function && f.params.len() == 3)
        {
            Ok(())
        } else {
            Err(Error::invalid(
                "condition",
                format!("Condition Script {script} has no function {function}(consumer, doc, update_log)"),
            ))
        }
    }

    /// Whether `doc` satisfies an expression condition.
    pub fn matches(&self, doc: &Doc) -> Result<bool> {
        let Condition::Expr(ast) = self else {
            return Err(Error::invalid(
                "condition",
                "A cmd: condition needs its script's environment",
            ));
        };
        let mut scope = Scope::new();
        scope.push_constant("doc", to_dynamic(doc)?);
        DEADLINE.with(|d| d.set(Some(Instant::now() + MAX_TIME)));
        let out = ENGINE.eval_ast_with_scope::<Dynamic>(&mut scope, ast);
        DEADLINE.with(|d| d.set(None));
        truthy(out.map_err(|e| Error::invalid("condition", format!("Condition stopped: {e}")))?)
    }

    /// Whether an entry passes, for either form: a `cmd:` function gets
    /// `consumer` (the Event Consumer), `doc` and `update_log` (the entry).
    pub fn passes(
        &self,
        tx: &rusqlite::Transaction,
        env: &ScriptEnv,
        consumer: &Doc,
        doc: &Doc,
        entry: &crate::stream::log::LogEntry,
    ) -> Result<bool> {
        let Condition::Cmd { script, function } = self else {
            return self.matches(doc);
        };
        let ast = load_script(tx, script)?;
        let args = (to_dynamic(consumer)?, to_dynamic(doc)?, to_dynamic(entry)?);
        let engine = script_engine(env);
        DEADLINE.with(|d| d.set(Some(Instant::now() + MAX_TIME)));
        let out = engine.call_fn::<Dynamic>(&mut Scope::new(), &ast, function, args);
        DEADLINE.with(|d| d.set(None));
        truthy(out.map_err(|e| {
            Error::invalid(
                "condition",
                format!("Condition stopped in {script}.{function}: {e}"),
            )
        })?)
    }
}

fn to_dynamic<T: serde::Serialize>(v: &T) -> Result<Dynamic> {
    rhai::serde::to_dynamic(v).map_err(|e| Error::Corrupt(format!("value for a condition: {e}")))
}

fn load_script(tx: &rusqlite::Transaction, script: &str) -> Result<AST> {
    let doc = crate::document::store::load(tx, CONDITION_SCRIPT, script)?.ok_or_else(|| {
        Error::invalid(
            "condition",
            format!("No Condition Script named {script} on this site"),
        )
    })?;
    check_script(
        doc.get("script")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default(),
    )
}

fn truthy(out: Dynamic) -> Result<bool> {
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
            rewrite(r#"doc.title == "a.public""#),
            r#"doc.title == "a.public""#
        );
        // Python-flavoured conditions read as they do in Frappe.
        let open = Condition::compile(Some("doc.status == 'Open' and not doc.public"))
            .unwrap()
            .unwrap();
        assert!(open
            .matches(&doc(json!({"status": "Open", "public": false})))
            .unwrap());
        assert!(!open
            .matches(&doc(json!({"status": "Closed", "public": false})))
            .unwrap());
        assert_eq!(rewrite(r#"x == 'it"s'"#), r#"x == "it\"s""#);
    }

    #[test]
    fn invalid_and_runaway_conditions_are_stopped_with_a_clear_error() {
        let bad = Condition::compile(Some("doc.public =="))
            .err()
            .unwrap()
            .to_string();
        assert!(bad.contains("Invalid condition"), "{bad}");
        assert!(Condition::compile(Some("cmd: nodot")).is_err());
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
