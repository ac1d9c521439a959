//! Templating: `${…}` and `{{…}}` placeholders in the strings of a flow (a step's `config`, `env`
//! values, `for_each` items), checked without running anything and rendered against the values of a
//! run — the contract is "Templating" in `design/FLOW-FORMAT.md`.
//!
//! Pure code: no I/O besides the clock and randomness of the built-ins, and the process environment
//! when the [`RenderContext`] allows it.
//!
//! # Syntax
//!
//! - `${expr}` and `{{expr}}` (TestMesh's spelling) mean the same, anywhere in a string; spaces
//!   around `expr` are ignored. `{{` opens a placeholder only when a name follows it, so Go or
//!   Handlebars template text in a config (`{{.Name}}`, `{{#each}}`) passes through untouched.
//! - Escapes: `$${` writes a literal `${` and `\{{` a literal `{{`. Any other `$`, `{` or `\` is
//!   literal text (`$100`, `{"a": 1}`).
//! - A reference path: `name`, `a.b`, `items[0].id`, `items.0.id`, `items[-1]` (the last item),
//!   `headers["content-type"]` (`'…'` quotes too), `steps.create_user.status`,
//!   `create-user.body.id`. A name is `[A-Za-z0-9_][A-Za-z0-9_-]*`; other keys go in brackets.
//! - A default: `${PORT:-8080}`, used when the reference is unresolved or null. The default is
//!   itself a template (`${HOST:-${BASE}}`, `${ID:-${uuid()}}`) without its surrounding spaces,
//!   and it cannot contain the placeholder's closer (`}`, or `}}` for `{{…}}`). A literal default
//!   is a string: `${PORT:-8080}` gives `"8080"`, as it would from the environment.
//! - `${env.NAME}`: the process environment, when the context allows it (local and CI runs); a
//!   server run gets an error saying that it cannot read the server's environment, unless a
//!   default is written (`${env.TOKEN:-${secret.TOKEN}}` runs anywhere). Values are strings.
//! - `${secret.NAME}`: the context's secrets. Every secret value used is reported in
//!   [`Rendered::secrets`] so that callers mask it (see [`mask`]); so are values derived from
//!   one (`base64(secret.X)`, `sha256(secret.X)`) and environment variables whose names look like
//!   credentials (`…TOKEN`, `…SECRET`, `…PASSWORD`, `…KEY`, `…AUTH`, …).
//! - Functions: `uuid()` (v4), `now()` (RFC 3339 UTC with milliseconds, `2024-05-01T12:34:56.789Z`),
//!   `timestamp()` (unix seconds, a number), `timestamp_ms()`, `random_int(min, max)` (both
//!   included, a number), `random_string(n)` (`[A-Za-z0-9]`, `n` ≤ 4096), `fake.email()`
//!   (`first.last1234@example.com`, RFC 2606 domains), `fake.name()` (`First Last`),
//!   `fake.first_name()`, `fake.last_name()`, `base64(x)` (standard, padded), `sha256(x)`
//!   (lower-case hex). Arguments are quoted strings (`"…"`, `'…'`, with `\"`, `\\`, `\n`, `\t`;
//!   literal: no placeholders inside), whole numbers, references or calls; `base64`/`sha256` take any value as text, and integer
//!   arguments may be strings holding a whole number (variables from an env file are strings).
//! - Built-in names: `run.id`, `flow.name` (from the context, else the scope), and TestMesh's
//!   `UUID`, `RANDOM_ID` (one uuid per string, shared by both names, as in TestMesh), `TIMESTAMP`
//!   (unix seconds, a number), `ISO_TIMESTAMP` (`2024-05-01T12:34:56Z`), `DATE` (`2024-05-01`),
//!   `TIME` (`12:34:56`), `DATETIME` (`2024-05-01 12:34:56`), `YEAR`, `MONTH`, `DAY`, `HOUR`,
//!   `MINUTE`, `SECOND` (zero-padded strings). Times are UTC, not the machine's zone. A variable of
//!   the scope with one of TestMesh's names wins over the built-in.
//!
//! # Values
//!
//! - Typed: a string that is exactly one placeholder (no text or spaces around it) takes the value's
//!   type — number, bool, object, list, null.
//! - Inside a longer string, values are text: strings as they are, numbers and booleans as JSON
//!   writes them, objects and lists as compact JSON, and **null as nothing** (null counts as "no
//!   value" throughout, which is also when a default applies; write `${x:-null}` for the word).
//! - [`RenderContext::render_value`] renders every string of a JSON value (object values and list
//!   items, not keys); other values are kept.
//! - The clock is read once per render call, so the built-ins of one config agree with each other
//!   (`${DATE}T${TIME}`); a new render (each attempt of a step) reads it again. `uuid()` and the
//!   random functions give a new value at each call.
//!
//! # Resolution
//!
//! References are resolved by a [`Scope`], which the runner implements. The engine only asks it:
//! the rule that `${step_id.name}` is that step's capture `name` first and its action output's
//! field `name` second, variable precedence, and `steps.<id>` are the scope's business.
//! [`MapScope`] is a plain map of variables, for tests and the command line.
//!
//! # Errors
//!
//! Every error of a value is returned, each with the JSON pointer of its string within the value
//! and a byte offset within that string: the placeholder's `$`/`{` for a reference or call that
//! fails (and for an unclosed placeholder), the offending character for other syntax errors. An
//! unresolved reference names itself and says what does exist where it went wrong. [`check`] and
//! [`check_value`] find the syntax errors without resolving anything and list the references, so
//! that validation can compare them with the known variables and earlier steps.

mod functions;
mod parse;
mod render;

#[cfg(test)]
mod tests;

pub use render::{Env, RenderContext, Rendered};

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// `.name` or `["name"]`: a field of an object (or, when it is a number, an item of a list:
    /// `items.0`).
    Key(String),
    /// `[i]`: an item of a list, counted from the end when negative (`[-1]` is the last).
    Index(i64),
}

/// Writes a path the way a template would: `a.b[0]["content-type"]`.
pub fn path_to_string(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for (i, segment) in path.iter().enumerate() {
        match segment {
            PathSegment::Key(key) if is_plain_name(key) => {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(key);
            }
            PathSegment::Key(key) => {
                out.push('[');
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(']');
            }
            PathSegment::Index(index) => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }
    out
}

fn is_plain_name(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Follows `path` inside `value`: keys into objects, indexes (or keys that are numbers) into lists.
/// Scopes use it below their first segment.
pub fn lookup<'v>(value: &'v Value, path: &[PathSegment]) -> Option<&'v Value> {
    path.iter().try_fold(value, |value, segment| match (value, segment) {
        (Value::Object(map), PathSegment::Key(key)) => map.get(key),
        (Value::Object(map), PathSegment::Index(index)) => map.get(&index.to_string()),
        (Value::Array(items), PathSegment::Key(key)) => items.get(key.parse::<usize>().ok()?),
        (Value::Array(items), PathSegment::Index(index)) => {
            let at = if *index < 0 { items.len().checked_sub(index.unsigned_abs() as usize)? } else { *index as usize };
            items.get(at)
        }
        _ => None,
    })
}

/// Where references resolve: implemented by the runner over a run's variables and step outputs.
pub trait Scope {
    /// The value at `path` (never empty; its first segment is a [`PathSegment::Key`]), or `None`
    /// when there is none. Called once per reference, and more only to explain a failure.
    fn resolve(&self, path: &[PathSegment]) -> Option<Value>;

    /// The top-level names in scope, used only to suggest one when a reference does not resolve.
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A [`Scope`] over a map of variables (each may be any JSON value), for tests and the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapScope {
    /// The variables.
    pub vars: Map<String, Value>,
}

impl MapScope {
    /// A scope over `vars`.
    pub fn new(vars: Map<String, Value>) -> Self {
        MapScope { vars }
    }

    /// Adds or replaces a variable.
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        self.vars.insert(name.into(), value);
    }
}

impl From<Map<String, Value>> for MapScope {
    fn from(vars: Map<String, Value>) -> Self {
        MapScope { vars }
    }
}

impl Scope for MapScope {
    fn resolve(&self, path: &[PathSegment]) -> Option<Value> {
        let (PathSegment::Key(first), rest) = path.split_first()? else { return None };
        lookup(self.vars.get(first)?, rest).cloned()
    }

    fn names(&self) -> Vec<String> {
        self.vars.keys().cloned().collect()
    }
}

/// Where a reference's value comes from, for validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// A variable, a capture or a step: resolved by the [`Scope`].
    Scope,
    /// `env.NAME`: the process environment (local runs only).
    Env,
    /// `secret.NAME`: the run's secrets.
    Secret,
    /// A built-in (`run.id`, `flow.name`, `UUID`, `DATE`, …): always has a value while running.
    Builtin,
}

/// A reference used by a template, as listed by [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// As written: `create_user.body.id`.
    pub text: String,
    /// The path, split; for `env.NAME` and `secret.NAME` it includes the namespace.
    pub path: Vec<PathSegment>,
    /// Where it resolves.
    pub namespace: Namespace,
    /// JSON pointer of the string within the checked value (empty for a lone string).
    pub pointer: String,
    /// Byte offset of its placeholder within the string.
    pub offset: usize,
    /// Whether its placeholder has a default, so that it may be missing.
    pub has_default: bool,
}

/// What kind of problem a [`TemplateError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The template is malformed (found by [`check`] too).
    Syntax,
    /// A reference, secret or environment variable has no value.
    Unresolved,
    /// `env.NAME` where the process environment may not be read.
    Forbidden,
    /// A function got an argument it cannot use (found once the argument's value is known).
    Argument,
}

/// One problem of a template: what, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// JSON pointer (RFC 6901) of the string within the rendered value; empty for a lone string.
    pub pointer: String,
    /// Byte offset within the string (see the module documentation for which byte).
    pub offset: usize,
    /// What is wrong, in one sentence without a trailing period: ``unresolved reference `user_id` ``.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TemplateError {}

/// Every problem found in one render or check, in the order of the strings and their placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateErrors(pub Vec<TemplateError>);

impl std::ops::Deref for TemplateErrors {
    type Target = [TemplateError];

    fn deref(&self) -> &[TemplateError] {
        &self.0
    }
}

impl IntoIterator for TemplateErrors {
    type Item = TemplateError;
    type IntoIter = std::vec::IntoIter<TemplateError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for TemplateErrors {
    /// One line per error: ``at `/url`, byte 0: unresolved reference `BASE` ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if error.pointer.is_empty() {
                write!(f, "at byte {}: {error}", error.offset)?;
            } else {
                write!(f, "at `{}`, byte {}: {error}", error.pointer, error.offset)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for TemplateErrors {}

/// Checks the syntax of one string without resolving anything, and lists the references it uses
/// (in defaults and function arguments too), or every syntax error.
pub fn check(text: &str) -> Result<Vec<Reference>, TemplateErrors> {
    let mut references = Vec::new();
    let mut errors = Vec::new();
    check_string(text, "", &mut references, &mut errors);
    if errors.is_empty() { Ok(references) } else { Err(TemplateErrors(errors)) }
}

/// [`check`] over every string of a JSON value (object values and list items); references and
/// errors carry the JSON pointer of their string.
pub fn check_value(value: &Value) -> Result<Vec<Reference>, TemplateErrors> {
    fn walk(value: &Value, pointer: &mut String, references: &mut Vec<Reference>, errors: &mut Vec<TemplateError>) {
        let mut descend = |segment: &str, item: &Value, pointer: &mut String| {
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
            walk(item, pointer, references, errors);
            pointer.truncate(len);
        };
        match value {
            Value::String(text) => check_string(text, pointer, references, errors),
            Value::Array(items) => {
                items.iter().enumerate().for_each(|(i, item)| descend(&i.to_string(), item, pointer))
            }
            Value::Object(map) => map.iter().for_each(|(key, item)| descend(key, item, pointer)),
            _ => {}
        }
    }
    let mut references = Vec::new();
    let mut errors = Vec::new();
    walk(value, &mut String::new(), &mut references, &mut errors);
    if errors.is_empty() { Ok(references) } else { Err(TemplateErrors(errors)) }
}

fn check_string(text: &str, pointer: &str, references: &mut Vec<Reference>, errors: &mut Vec<TemplateError>) {
    if !parse::may_have_placeholders(text) {
        return;
    }
    let (template, found) = parse::parse(text);
    errors.extend(found.into_iter().map(|error| TemplateError { pointer: pointer.to_owned(), ..error }));
    template.references(pointer, references);
}

/// Replaces every occurrence of the `secrets` in `text` with `***` (longest first, so that a secret
/// containing another is masked whole). Borrows `text` when there is nothing to mask.
pub fn mask<'t>(text: &'t str, secrets: &BTreeSet<String>) -> Cow<'t, str> {
    let mut ordered: Vec<&str> = secrets.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    ordered.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = Cow::Borrowed(text);
    for secret in ordered {
        if out.contains(secret) {
            out = Cow::Owned(out.replace(secret, "***"));
        }
    }
    out
}

/// The closest of `candidates` to a misspelt `word`, compared without case, when it is close
/// enough to be what was meant.
fn closest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_lowercase();
    candidates
        .map(|candidate| (strsim::jaro_winkler(&word, &candidate.to_lowercase()), candidate))
        .filter(|(score, candidate)| *score >= 0.8 && *candidate != word)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}
