//! Rendering: templates evaluated against a [`Scope`] and a [`RenderContext`] (secrets, the process
//! environment when allowed, the run's id, the clock), typed when a string is one placeholder.

use super::functions::{Builtin, Function, to_text};
use super::parse::{Expr, Part, Placeholder, Ref, Target, Template, may_have_placeholders, parse};
use super::{ErrorKind, PathSegment, Scope, TemplateError, TemplateErrors, closest, path_to_string};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Where `${env.NAME}` reads from.
#[derive(Debug, Clone, Copy, Default)]
pub enum Env<'a> {
    /// Server runs: `${env.NAME}` is an error (a default, if written, is used instead), so that a
    /// flow cannot read the server's own environment.
    #[default]
    Forbidden,
    /// Local and CI runs: the process environment.
    Process,
    /// A fixed set of variables standing in for the environment (tests, or a snapshot taken once).
    Vars(&'a BTreeMap<String, String>),
}

/// Everything a render needs besides the template: where names resolve, the secrets, whether the
/// process environment may be read, and the run's built-in values.
///
/// Build one with [`RenderContext::new`] and the `with_*` methods, then call
/// [`render_value`](Self::render_value) (a step's config), [`render_str`](Self::render_str) (one
/// string, typed) or [`render_text`](Self::render_text) (one string, always text).
#[derive(Clone, Copy)]
pub struct RenderContext<'a> {
    /// Resolves references: variables, steps' outputs.
    pub scope: &'a dyn Scope,
    /// `${secret.NAME}` values; every one used is reported in [`Rendered::secrets`].
    pub secrets: &'a BTreeMap<String, String>,
    /// Where `${env.NAME}` reads from.
    pub env: Env<'a>,
    /// `${run.id}`; when `None`, the scope is asked.
    pub run_id: Option<&'a str>,
    /// `${flow.name}`; when `None`, the scope is asked.
    pub flow_name: Option<&'a str>,
    /// A fixed instant for the clock built-ins (tests, reproducible renders); `None` reads the clock
    /// once at the start of each render.
    pub clock: Option<DateTime<Utc>>,
}

static NO_SECRETS: BTreeMap<String, String> = BTreeMap::new();

impl<'a> RenderContext<'a> {
    /// A context over `scope`, with no secrets, the environment forbidden, no run id or flow name,
    /// and the live clock.
    pub fn new(scope: &'a dyn Scope) -> Self {
        RenderContext { scope, secrets: &NO_SECRETS, env: Env::Forbidden, run_id: None, flow_name: None, clock: None }
    }

    /// Sets the secrets `${secret.NAME}` reads.
    pub fn with_secrets(mut self, secrets: &'a BTreeMap<String, String>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Sets where `${env.NAME}` reads from.
    pub fn with_env(mut self, env: Env<'a>) -> Self {
        self.env = env;
        self
    }

    /// Sets `${run.id}`.
    pub fn with_run_id(mut self, run_id: &'a str) -> Self {
        self.run_id = Some(run_id);
        self
    }

    /// Sets `${flow.name}`.
    pub fn with_flow_name(mut self, flow_name: &'a str) -> Self {
        self.flow_name = Some(flow_name);
        self
    }

    /// Fixes the instant the clock built-ins read.
    pub fn with_clock(mut self, now: DateTime<Utc>) -> Self {
        self.clock = Some(now);
        self
    }

    /// Renders every string inside `value` (object values and list items, recursively; keys are
    /// left as written), each typed by the one-placeholder rule. Errors carry the JSON pointer of
    /// their string; all of them are returned.
    pub fn render_value(&self, value: &Value) -> Result<Rendered<Value>, TemplateErrors> {
        let mut renderer = Renderer::new(self);
        let mut pointer = String::new();
        let value = renderer.value(value, &mut pointer);
        renderer.finish(value)
    }

    /// Renders one string: a string that is exactly one placeholder takes its value's type, any
    /// other string is text.
    pub fn render_str(&self, text: &str) -> Result<Rendered<Value>, TemplateErrors> {
        let mut renderer = Renderer::new(self);
        let value = renderer.string(text, "");
        renderer.finish(value)
    }

    /// Renders one string as text, whatever its placeholders hold (a sole placeholder holding an
    /// object gives its JSON). Borrows `text` when it has nothing to replace.
    pub fn render_text<'t>(&self, text: &'t str) -> Result<Rendered<Cow<'t, str>>, TemplateErrors> {
        if !may_have_placeholders(text) {
            return Ok(Rendered { value: Cow::Borrowed(text), secrets: BTreeSet::new() });
        }
        let mut renderer = Renderer::new(self);
        let (template, errors) = parse(text);
        renderer.errors.extend(errors);
        let value = match template.parts.as_slice() {
            [] => Some(Cow::Borrowed("")),
            [Part::Text(only)] if only.len() == text.len() => Some(Cow::Borrowed(text)),
            _ => renderer.template_text(&template).map(Cow::Owned),
        };
        renderer.finish(value.unwrap_or_default())
    }
}

/// The result of a render, and the sensitive strings that went into it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered<T> {
    /// The rendered value.
    pub value: T,
    /// Every secret value used (and every value derived from one, such as `base64(secret.X)`, and
    /// environment variables named like credentials), so that logs, results and events can mask
    /// them with [`mask`](super::mask). Empty strings are never listed.
    pub secrets: BTreeSet<String>,
}

/// One render in progress: the clock read once, the secrets seen, the errors found.
struct Renderer<'c, 'a> {
    ctx: &'c RenderContext<'a>,
    now: DateTime<Utc>,
    secrets: BTreeSet<String>,
    errors: Vec<TemplateError>,
    /// TestMesh's `UUID`/`RANDOM_ID`: one value per string.
    string_uuid: Option<String>,
}

/// The value of an expression, and whether it is (derived from) a secret.
type Evaluated = (Value, bool);

impl<'c, 'a> Renderer<'c, 'a> {
    fn new(ctx: &'c RenderContext<'a>) -> Self {
        Renderer {
            ctx,
            now: ctx.clock.unwrap_or_else(Utc::now),
            secrets: BTreeSet::new(),
            errors: Vec::new(),
            string_uuid: None,
        }
    }

    fn finish<T>(self, value: T) -> Result<Rendered<T>, TemplateErrors> {
        if self.errors.is_empty() {
            Ok(Rendered { value, secrets: self.secrets })
        } else {
            Err(TemplateErrors(self.errors))
        }
    }

    fn value(&mut self, value: &Value, pointer: &mut String) -> Value {
        match value {
            Value::String(text) => self.string(text, pointer),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&i.to_string());
                        let rendered = self.value(item, pointer);
                        pointer.truncate(len);
                        rendered
                    })
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                        let rendered = self.value(item, pointer);
                        pointer.truncate(len);
                        (key.clone(), rendered)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// One string; `Null` stands in when it fails (the errors say why).
    fn string(&mut self, text: &str, pointer: &str) -> Value {
        if !may_have_placeholders(text) {
            return Value::String(text.to_owned());
        }
        self.string_uuid = None;
        let first_error = self.errors.len();
        let (template, errors) = parse(text);
        self.errors.extend(errors);
        let value = self.template_value(&template);
        for error in &mut self.errors[first_error..] {
            error.pointer = pointer.to_owned();
        }
        value.unwrap_or(Value::Null)
    }

    /// A template typed: the value of its sole placeholder, or else its text.
    fn template_value(&mut self, template: &Template<'_>) -> Option<Value> {
        match template.sole_placeholder() {
            Some(placeholder) => self.placeholder(placeholder),
            None => self.template_text(template).map(Value::String),
        }
    }

    /// A template as text; `None` when a placeholder failed (all failures are recorded).
    fn template_text(&mut self, template: &Template<'_>) -> Option<String> {
        let mut out = String::new();
        let mut ok = true;
        for part in &template.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Placeholder(placeholder) => match self.placeholder(placeholder) {
                    Some(value) => out.push_str(&to_text(&value)),
                    None => ok = false,
                },
            }
        }
        ok.then_some(out)
    }

    fn placeholder(&mut self, placeholder: &Placeholder<'_>) -> Option<Value> {
        let result = self.expr(&placeholder.expr, placeholder.offset);
        match (result, &placeholder.default) {
            (Ok((value, _)), Some(default)) if value.is_null() => self.template_value(default),
            (Ok((value, _)), _) => Some(value),
            (Err(error), Some(default)) if matches!(error.kind, ErrorKind::Unresolved | ErrorKind::Forbidden) => {
                self.template_value(default)
            }
            (Err(error), _) => {
                self.errors.push(error);
                None
            }
        }
    }

    fn expr(&mut self, expr: &Expr<'_>, offset: usize) -> Result<Evaluated, TemplateError> {
        match expr {
            Expr::Str(text) => Ok((Value::String(text.clone()), false)),
            Expr::Int(n) => Ok((Value::from(*n), false)),
            Expr::Ref(reference) => self.reference(reference, offset),
            Expr::Call { function, args } => {
                let mut values = Vec::with_capacity(args.len());
                let mut secret = false;
                for arg in args {
                    let (value, from_secret) = self.expr(arg, offset)?;
                    secret |= from_secret;
                    values.push(value);
                }
                let value = function.call(&values, self.now).map_err(|message| TemplateError {
                    kind: ErrorKind::Argument,
                    pointer: String::new(),
                    offset,
                    message,
                    help: None,
                })?;
                let secret = secret && function.derives_from_arguments();
                if secret && let Value::String(text) = &value {
                    self.note_secret(text);
                }
                Ok((value, secret))
            }
        }
    }

    fn reference(&mut self, reference: &Ref<'_>, offset: usize) -> Result<Evaluated, TemplateError> {
        match &reference.target {
            Target::Scope => match self.ctx.scope.resolve(&reference.path) {
                Some(value) => Ok((value, false)),
                None => Err(unresolved(
                    offset,
                    format!("unresolved reference `{}`", reference.text),
                    self.unresolved_help(&reference.path, reference.text),
                )),
            },
            Target::Secret(name) => match self.ctx.secrets.get(name) {
                Some(value) => {
                    self.note_secret(value);
                    Ok((Value::String(value.clone()), true))
                }
                None => Err(unresolved(
                    offset,
                    format!("unknown secret `{name}`"),
                    closest(name, self.ctx.secrets.keys().map(String::as_str))
                        .map(|close| format!("did you mean `secret.{close}`?")),
                )),
            },
            Target::Env(name) => self.env(name, offset),
            Target::Builtin(builtin) => {
                if builtin.scope_first()
                    && let Some(value) = self.ctx.scope.resolve(&reference.path)
                {
                    return Ok((value, false));
                }
                let value = match builtin {
                    Builtin::RunId => self.ctx.run_id.map(|id| Value::String(id.to_owned())),
                    Builtin::FlowName => self.ctx.flow_name.map(|name| Value::String(name.to_owned())),
                    Builtin::Uuid | Builtin::RandomId => Some(Value::String(
                        self.string_uuid.get_or_insert_with(|| uuid::Uuid::new_v4().to_string()).clone(),
                    )),
                    clock => clock.clock_value(self.now),
                };
                match value.or_else(|| self.ctx.scope.resolve(&reference.path)) {
                    Some(value) => Ok((value, false)),
                    None => Err(unresolved(
                        offset,
                        format!("unresolved reference `{}`", reference.text),
                        Some(format!("`{}` is known only while a flow runs", reference.text)),
                    )),
                }
            }
        }
    }

    fn env(&mut self, name: &str, offset: usize) -> Result<Evaluated, TemplateError> {
        let value = match self.ctx.env {
            Env::Forbidden => {
                return Err(TemplateError {
                    kind: ErrorKind::Forbidden,
                    pointer: String::new(),
                    offset,
                    message: format!("`env.{name}`: server runs cannot read the server's environment"),
                    help: Some(format!(
                        "store `{name}` as a variable of the run's environment and write `${{{name}}}`, \
                         or as a secret and write `${{secret.{name}}}`"
                    )),
                });
            }
            Env::Process => match std::env::var(name) {
                Ok(value) => Some(value),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(TemplateError {
                        kind: ErrorKind::Argument,
                        pointer: String::new(),
                        offset,
                        message: format!("environment variable `{name}` is not valid UTF-8"),
                        help: None,
                    });
                }
            },
            Env::Vars(vars) => vars.get(name).cloned(),
        };
        match value {
            Some(value) => {
                let secret = looks_like_a_credential(name);
                if secret {
                    self.note_secret(&value);
                }
                Ok((Value::String(value), secret))
            }
            None => Err(unresolved(
                offset,
                format!("environment variable `{name}` is not set"),
                Some(format!("set it, or give a default: `${{env.{name}:-value}}`")),
            )),
        }
    }

    fn note_secret(&mut self, value: &str) {
        if !value.is_empty() {
            self.secrets.insert(value.to_owned());
        }
    }

    /// What to say about a reference that does not resolve: the function it names, the part of
    /// the path that does resolve and what it holds, or a close variable name.
    fn unresolved_help(&self, path: &[PathSegment], text: &str) -> Option<String> {
        if Function::by_name(text).is_some() {
            return Some(format!("`{text}` is a function: write `{text}()`"));
        }
        for known in (1..path.len()).rev() {
            if let Some(value) = self.ctx.scope.resolve(&path[..known]) {
                return Some(describe_missing(&path[..known], &path[known], &value));
            }
        }
        let PathSegment::Key(first) = path.first()? else { return None };
        let names = self.ctx.scope.names();
        closest(first, names.iter().map(String::as_str)).map(|close| format!("did you mean `{close}`?"))
    }
}

fn unresolved(offset: usize, message: String, help: Option<String>) -> TemplateError {
    TemplateError { kind: ErrorKind::Unresolved, pointer: String::new(), offset, message, help }
}

/// Whether an environment variable's name says it holds a credential: its value is then masked like
/// a secret's (CI jobs commonly pass tokens this way, and a JUnit report must not carry them).
fn looks_like_a_credential(name: &str) -> bool {
    const WORDS: [&str; 9] = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "KEY", "AUTH", "CREDENTIAL", "PRIVATE"];
    let upper = name.to_ascii_uppercase();
    WORDS.iter().any(|word| upper.contains(word))
}

/// Why `segment` is not found in `value`, the value at `prefix`.
fn describe_missing(prefix: &[PathSegment], segment: &PathSegment, value: &Value) -> String {
    let at = path_to_string(prefix);
    match (value, segment) {
        (Value::Object(map), PathSegment::Key(key)) if map.is_empty() => {
            format!("`{at}` is an empty object, without `{key}`")
        }
        (Value::Object(map), PathSegment::Key(key)) => match closest(key, map.keys().map(String::as_str)) {
            Some(close) => format!("`{at}` has no field `{key}`; did you mean `{close}`?"),
            None => {
                let mut fields: Vec<String> = map.keys().take(10).map(|k| format!("`{k}`")).collect();
                if map.len() > 10 {
                    fields.push("…".into());
                }
                format!("`{at}` has no field `{key}`; its fields are {}", fields.join(", "))
            }
        },
        (Value::Object(_), PathSegment::Index(i)) => format!("`{at}` is an object: it has no item {i}"),
        (Value::Array(items), PathSegment::Key(key)) if key.parse::<usize>().is_err() => {
            format!("`{at}` is a list of {} items: pick one by index, like `{at}[0].{key}`", items.len())
        }
        (Value::Array(items), _) if items.is_empty() => format!("`{at}` is an empty list"),
        (Value::Array(items), _) => {
            format!("`{at}` has {} items: indexes 0 to {} (or -1 for the last)", items.len(), items.len() - 1)
        }
        (Value::Null, _) => format!("`{at}` is null"),
        (Value::String(_), _) => format!("`{at}` is a string, which has no fields"),
        (Value::Number(_), _) => format!("`{at}` is a number, which has no fields"),
        (Value::Bool(_), _) => format!("`{at}` is a boolean, which has no fields"),
    }
}
