//! Template syntax: a string read into literal text and placeholders, each holding an expression
//! (a reference path, a function call, a literal) and an optional default, checked without
//! resolving anything.
//!
//! The parser keeps going after an error: it skips to the end of the broken placeholder and reads
//! on, so one check reports every broken placeholder of a string.

use super::functions::{Builtin, Function, check_string_length};
use super::{ErrorKind, Namespace, PathSegment, Reference, TemplateError, closest, path_to_string};

/// A parsed string: its pieces in order. Text pieces borrow from the string.
#[derive(Debug)]
pub(super) struct Template<'s> {
    pub(super) parts: Vec<Part<'s>>,
}

/// One piece of a template.
#[derive(Debug)]
pub(super) enum Part<'s> {
    /// Literal text, escapes already applied (a `$${` is split so that one `$` is dropped).
    Text(&'s str),
    /// `${…}` or `{{…}}`.
    Placeholder(Placeholder<'s>),
}

/// One `${expr}` / `{{expr}}`, optionally `${expr:-default}`.
#[derive(Debug)]
pub(super) struct Placeholder<'s> {
    /// Byte offset of its `$` or first `{` in the string.
    pub(super) offset: usize,
    /// What it evaluates.
    pub(super) expr: Expr<'s>,
    /// Used when `expr` is unresolved or null: itself a template.
    pub(super) default: Option<Template<'s>>,
}

/// An expression inside a placeholder.
#[derive(Debug)]
pub(super) enum Expr<'s> {
    /// A name or path: `user_id`, `items[0].id`, `env.HOME`, `UUID`.
    Ref(Ref<'s>),
    /// A function call: `random_int(1, 100)`.
    Call { function: Function, args: Vec<Expr<'s>> },
    /// A quoted string argument.
    Str(String),
    /// A whole-number argument.
    Int(i64),
}

/// A reference as written, with what it refers to.
#[derive(Debug)]
pub(super) struct Ref<'s> {
    /// The reference as written, for messages.
    pub(super) text: &'s str,
    /// The path, split.
    pub(super) path: Vec<PathSegment>,
    /// Where its value comes from.
    pub(super) target: Target,
}

/// Where a reference's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// The scope (variables, steps).
    Scope,
    /// `env.NAME`: the process environment.
    Env(String),
    /// `secret.NAME`: the context's secrets.
    Secret(String),
    /// A built-in value.
    Builtin(Builtin),
}

/// What closes a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closer {
    /// `}` after `${`.
    Brace,
    /// `}}` after `{{`.
    DoubleBrace,
}

impl Closer {
    fn token(self) -> &'static str {
        match self {
            Closer::Brace => "}",
            Closer::DoubleBrace => "}}",
        }
    }

    fn opener(self) -> &'static str {
        match self {
            Closer::Brace => "${",
            Closer::DoubleBrace => "{{",
        }
    }
}

/// Whether `text` may hold a placeholder or an escape at all: the fast path skips parsing otherwise.
pub(super) fn may_have_placeholders(text: &str) -> bool {
    text.as_bytes().contains(&b'$') || text.contains("{{")
}

/// Parses `text`, returning what could be read and every syntax error (errors carry no pointer).
pub(super) fn parse(text: &str) -> (Template<'_>, Vec<TemplateError>) {
    let mut parser = Parser { src: text, pos: 0, depth: 0, errors: Vec::new() };
    let template = parser.template(None);
    (template, parser.errors)
}

/// Why an expression could not be read.
enum Failure {
    /// A syntax error at a known place.
    At(TemplateError),
    /// The text ended inside the placeholder: reported as an unclosed placeholder.
    End,
}

impl From<TemplateError> for Failure {
    fn from(error: TemplateError) -> Self {
        Failure::At(error)
    }
}

fn syntax(offset: usize, message: impl Into<String>, help: Option<String>) -> TemplateError {
    TemplateError { kind: ErrorKind::Syntax, pointer: String::new(), offset, message: message.into(), help }
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// How deeply placeholders (in defaults) and calls (in arguments) may nest: far beyond any real
/// template, and low enough that a hostile flow cannot exhaust the stack of the server.
const MAX_DEPTH: usize = 32;

struct Parser<'s> {
    src: &'s str,
    pos: usize,
    /// Placeholders and calls open around the current position.
    depth: usize,
    errors: Vec<TemplateError>,
}

impl<'s> Parser<'s> {
    fn bytes(&self) -> &'s [u8] {
        self.src.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes().get(self.pos + ahead).copied()
    }

    fn rest(&self) -> &'s [u8] {
        &self.bytes()[self.pos..]
    }

    /// The character at the current position, for messages.
    fn current_char(&self) -> String {
        self.src[self.pos..].chars().next().map(String::from).unwrap_or_default()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn word(&mut self) -> &'s str {
        let start = self.pos;
        while self.peek().is_some_and(is_word) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// Literal text and placeholders up to the end of the string, or up to `closer` (not consumed)
    /// when reading a default.
    fn template(&mut self, closer: Option<Closer>) -> Template<'s> {
        let src = self.src;
        let mut parts = Vec::new();
        let mut text_start = self.pos;
        let flush = |parts: &mut Vec<Part<'s>>, from: usize, to: usize| {
            if to > from {
                parts.push(Part::Text(&src[from..to]));
            }
        };
        while self.pos < self.src.len() {
            let rest = self.rest();
            if closer.is_some_and(|c| rest.starts_with(c.token().as_bytes())) {
                break;
            }
            if rest.starts_with(b"$${") {
                // Keep one `$`, drop the other; the `{` is then plain text.
                flush(&mut parts, text_start, self.pos + 1);
                text_start = self.pos + 2;
                self.pos += 3;
            } else if rest.starts_with(b"\\{{") {
                flush(&mut parts, text_start, self.pos);
                text_start = self.pos + 1;
                self.pos += 3;
            } else if rest.starts_with(b"${") {
                flush(&mut parts, text_start, self.pos);
                if let Some(placeholder) = self.placeholder(Closer::Brace) {
                    parts.push(Part::Placeholder(placeholder));
                }
                text_start = self.pos;
            } else if rest.starts_with(b"{{") {
                // `{{` opens a placeholder only before a name (spaces allowed): text such as a Go
                // or Handlebars template (`{{.Name}}`, `{{#each}}`) passes through, as in TestMesh.
                let after = rest[2..].iter().find(|b| !b.is_ascii_whitespace());
                if after.is_some_and(|b| is_word_start(*b)) {
                    flush(&mut parts, text_start, self.pos);
                    if let Some(placeholder) = self.placeholder(Closer::DoubleBrace) {
                        parts.push(Part::Placeholder(placeholder));
                    }
                    text_start = self.pos;
                } else {
                    self.pos += 2;
                }
            } else {
                self.pos += 1;
            }
        }
        flush(&mut parts, text_start, self.pos);
        Template { parts }
    }

    /// A placeholder starting at the current position; `None` (and an error recorded) when it is
    /// broken, in which case the position moves past its closer.
    fn placeholder(&mut self, closer: Closer) -> Option<Placeholder<'s>> {
        let offset = self.pos;
        self.pos += 2;
        let unclosed = || {
            syntax(
                offset,
                format!("unclosed `{}`: expected `{}`", closer.opener(), closer.token()),
                Some(format!("to write `{}` literally, write `{}`", closer.opener(), escape_of(closer))),
            )
        };
        let body = if self.depth >= MAX_DEPTH {
            Err(syntax(offset, format!("placeholders nest more than {MAX_DEPTH} deep"), None).into())
        } else {
            self.depth += 1;
            let body = self.placeholder_body(offset, closer);
            self.depth -= 1;
            body
        };
        match body {
            Ok(placeholder) => Some(placeholder),
            Err(failure) => {
                self.errors.push(match failure {
                    Failure::At(error) => error,
                    Failure::End => unclosed(),
                });
                match self.src[self.pos.min(self.src.len())..].find(closer.token()) {
                    Some(at) => self.pos += at + closer.token().len(),
                    None => self.pos = self.src.len(),
                }
                None
            }
        }
    }

    fn placeholder_body(&mut self, offset: usize, closer: Closer) -> Result<Placeholder<'s>, Failure> {
        self.skip_ws();
        if self.rest().starts_with(closer.token().as_bytes()) {
            return Err(syntax(
                offset,
                format!("empty placeholder `{}{}`", closer.opener(), closer.token()),
                Some("write a name inside, like `${user_id}`".into()),
            )
            .into());
        }
        let expr = self.expr(false)?;
        self.skip_ws();
        let mut default = None;
        if self.rest().starts_with(b":-") {
            self.pos += 2;
            let mut template = self.template(Some(closer));
            trim(&mut template);
            default = Some(template);
        }
        if self.rest().starts_with(closer.token().as_bytes()) {
            self.pos += closer.token().len();
            return Ok(Placeholder { offset, expr, default });
        }
        match self.peek() {
            None => Err(Failure::End),
            Some(b':') => Err(syntax(
                self.pos,
                "expected `:-` before a default value",
                Some(format!("write a default as `{}NAME:-default{}`", closer.opener(), closer.token())),
            )
            .into()),
            Some(_) => Err(syntax(
                self.pos,
                format!("unexpected `{}` in a placeholder: expected `{}`", self.current_char(), closer.token()),
                None,
            )
            .into()),
        }
    }

    /// An expression: a reference or call, or (`in_args`) also a whole number; quoted strings are
    /// accepted everywhere.
    fn expr(&mut self, in_args: bool) -> Result<Expr<'s>, Failure> {
        let start = self.pos;
        let Some(first) = self.peek() else { return Err(Failure::End) };
        if first == b'"' || first == b'\'' {
            return Ok(Expr::Str(self.string()?));
        }
        let negative = first == b'-' && self.peek_at(1).is_some_and(|b| b.is_ascii_digit());
        if in_args && (first.is_ascii_digit() || negative) {
            if negative {
                self.pos += 1;
            }
            let word = self.word();
            let digits = word.bytes().all(|b| b.is_ascii_digit());
            let fraction = self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit());
            let continues = matches!(self.peek(), Some(b'.' | b'[' | b'('));
            match word.parse::<i64>() {
                Ok(n) if !continues => return Ok(Expr::Int(if negative { -n } else { n })),
                _ if negative || (digits && (fraction || !continues)) => {
                    while self.peek().is_some_and(|b| is_word(b) || b == b'.') {
                        self.pos += 1;
                    }
                    let text = &self.src[start..self.pos];
                    return Err(syntax(start, format!("`{text}` is not a whole number"), None).into());
                }
                // A name that starts with a digit, such as a step id `2nd_login`.
                _ => self.pos = start,
            }
        }
        if !is_word_start(first) {
            return Err(syntax(
                start,
                format!("expected a name or a function call, found `{}`", self.current_char()),
                (first == b'$').then(|| "placeholders do not nest here: write the name alone, like `a.b`".into()),
            )
            .into());
        }
        let mut path = vec![PathSegment::Key(self.word().to_owned())];
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) if is_word_start(b) => path.push(PathSegment::Key(self.word().to_owned())),
                        None => return Err(Failure::End),
                        Some(_) => {
                            return Err(syntax(
                                self.pos,
                                format!("expected a name after `.`, found `{}`", self.current_char()),
                                Some("write keys with other characters in brackets: `a[\"key\"]`".into()),
                            )
                            .into());
                        }
                    }
                }
                Some(b'[') => path.push(self.bracket()?),
                Some(b'(') => return self.call(start, &path),
                _ => break,
            }
        }
        let text = &self.src[start..self.pos];
        let target = target(&path).map_err(|message| syntax(start, message, None))?;
        Ok(Expr::Ref(Ref { text, path, target }))
    }

    /// `[0]`, `[-1]`, `["content-type"]` or `['x']`.
    fn bracket(&mut self) -> Result<PathSegment, Failure> {
        let open = self.pos;
        self.pos += 1;
        self.skip_ws();
        let segment = match self.peek() {
            None => return Err(Failure::End),
            Some(b'"' | b'\'') => PathSegment::Key(self.string()?),
            Some(b) if b.is_ascii_digit() || b == b'-' => {
                let start = self.pos;
                self.pos += 1;
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
                let digits = &self.src[start..self.pos];
                match digits.parse::<i64>() {
                    Ok(index) => PathSegment::Index(index),
                    Err(_) => return Err(syntax(start, format!("`{digits}` is not an index"), None).into()),
                }
            }
            Some(_) => {
                let word = self.word();
                let help = (!word.is_empty()).then(|| format!("quote the key: `[\"{word}\"]`"));
                return Err(syntax(open, "expected an index or a quoted key inside `[…]`", help).into());
            }
        };
        self.skip_ws();
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                Ok(segment)
            }
            None => Err(Failure::End),
            Some(_) => Err(syntax(self.pos, format!("expected `]`, found `{}`", self.current_char()), None).into()),
        }
    }

    /// A function call whose name (`path`, written from `start`) has been read; at `(`.
    fn call(&mut self, start: usize, path: &[PathSegment]) -> Result<Expr<'s>, Failure> {
        let name = &self.src[start..self.pos];
        let Some(function) =
            path.iter().all(|s| matches!(s, PathSegment::Key(_))).then(|| Function::by_name(name)).flatten()
        else {
            let names = Function::ALL.iter().map(|(n, _)| *n);
            let help = closest(name, names).map(|n| format!("did you mean `{n}()`?")).or_else(|| {
                Some(format!(
                    "the functions are {}",
                    Function::ALL.iter().map(|(n, _)| format!("`{n}()`")).collect::<Vec<_>>().join(", ")
                ))
            });
            return Err(syntax(start, format!("unknown function `{name}()`"), help).into());
        };
        if self.depth >= MAX_DEPTH {
            return Err(syntax(start, format!("function calls nest more than {MAX_DEPTH} deep"), None).into());
        }
        self.pos += 1;
        self.depth += 1;
        let args = self.arguments(name);
        self.depth -= 1;
        let args = args?;
        check_call(function, &args, start)?;
        Ok(Expr::Call { function, args })
    }

    /// The arguments of a call to `name`, after its `(`, up to and including the `)`.
    fn arguments(&mut self, name: &str) -> Result<Vec<Expr<'s>>, Failure> {
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.expr(true)?);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                    }
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    None => return Err(Failure::End),
                    Some(_) => {
                        return Err(syntax(
                            self.pos,
                            format!(
                                "expected `,` or `)` in the arguments of `{name}()`, found `{}`",
                                self.current_char()
                            ),
                            None,
                        )
                        .into());
                    }
                }
            }
        }
        Ok(args)
    }

    /// A quoted string at the current position, with `\\`, `\"`, `\'`, `\n`, `\t` escapes (any
    /// other backslash is kept as written).
    fn string(&mut self) -> Result<String, Failure> {
        let open = self.pos;
        let quote = self.bytes()[open];
        self.pos += 1;
        let mut out = String::new();
        let mut from = self.pos;
        loop {
            match self.peek() {
                None => return Err(syntax(open, "unclosed string literal", None).into()),
                Some(b) if b == quote => {
                    out.push_str(&self.src[from..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escaped = match self.peek_at(1) {
                        Some(b'\\') => Some('\\'),
                        Some(b'"') => Some('"'),
                        Some(b'\'') => Some('\''),
                        Some(b'n') => Some('\n'),
                        Some(b't') => Some('\t'),
                        _ => None,
                    };
                    match escaped {
                        Some(c) => {
                            out.push_str(&self.src[from..self.pos]);
                            out.push(c);
                            self.pos += 2;
                            from = self.pos;
                        }
                        None => self.pos += 1,
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// How to write a placeholder opener literally.
fn escape_of(closer: Closer) -> &'static str {
    match closer {
        Closer::Brace => "$${",
        Closer::DoubleBrace => "\\{{",
    }
}

/// Removes the spaces around a default (`{{ PORT:-8080 }}` defaults to `8080`).
fn trim(template: &mut Template<'_>) {
    if let Some(Part::Text(text)) = template.parts.first_mut() {
        *text = text.trim_start();
    }
    if let Some(Part::Text(text)) = template.parts.last_mut() {
        *text = text.trim_end();
    }
    template.parts.retain(|part| !matches!(part, Part::Text("")));
}

/// What a path refers to; an error for a malformed `env.`/`secret.` reference.
fn target(path: &[PathSegment]) -> Result<Target, String> {
    let key = |i: usize| match path.get(i) {
        Some(PathSegment::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    match (key(0), key(1), path.len()) {
        (Some(namespace @ ("env" | "secret")), Some(name), 2) => {
            Ok(if namespace == "env" { Target::Env(name.to_owned()) } else { Target::Secret(name.to_owned()) })
        }
        (Some(namespace @ ("env" | "secret")), ..) => {
            Err(format!("`{namespace}` takes exactly one name: `{namespace}.NAME` (got `{}`)", path_to_string(path)))
        }
        (Some("run"), Some("id"), 2) => Ok(Target::Builtin(Builtin::RunId)),
        (Some("flow"), Some("name"), 2) => Ok(Target::Builtin(Builtin::FlowName)),
        (Some(name), None, 1) => Ok(Builtin::by_name(name).map_or(Target::Scope, Target::Builtin)),
        _ => Ok(Target::Scope),
    }
}

/// Checks a call's arguments as far as they are known before rendering: their number, and the
/// type and range of literal ones.
fn check_call(function: Function, args: &[Expr<'_>], offset: usize) -> Result<(), TemplateError> {
    let signature = function.signature();
    let arity = function.arity();
    if args.len() != arity {
        let takes = match arity {
            0 => "takes no arguments".to_owned(),
            1 => "takes 1 argument".to_owned(),
            n => format!("takes {n} arguments"),
        };
        return Err(syntax(
            offset,
            format!("`{signature}` {takes}, got {}", args.len()),
            Some(format!("call it as `{signature}`")),
        ));
    }
    let literal_int = |expr: &Expr<'_>| match expr {
        Expr::Int(n) => Some(*n),
        _ => None,
    };
    match function {
        Function::RandomInt | Function::RandomString => {
            if args.iter().any(|a| matches!(a, Expr::Str(_))) {
                return Err(syntax(offset, format!("`{signature}` expects whole numbers, not quoted text"), None));
            }
            if function == Function::RandomString
                && let Some(length) = args.first().and_then(literal_int)
            {
                check_string_length(length).map_err(|m| syntax(offset, format!("`{signature}`: {m}"), None))?;
            }
            if let (Some(min), Some(max)) = (args.first().and_then(literal_int), args.get(1).and_then(literal_int))
                && function == Function::RandomInt
                && min > max
            {
                return Err(syntax(offset, format!("`{signature}`: min ({min}) is greater than max ({max})"), None));
            }
        }
        _ => {}
    }
    Ok(())
}

impl Template<'_> {
    /// The references of this template, each located at its placeholder (default-inside-default
    /// included), in order of appearance.
    pub(super) fn references(&self, pointer: &str, out: &mut Vec<Reference>) {
        for part in &self.parts {
            if let Part::Placeholder(p) = part {
                p.expr.references(p.offset, p.default.is_some(), pointer, out);
                if let Some(default) = &p.default {
                    default.references(pointer, out);
                }
            }
        }
    }

    /// The only placeholder, when the template is exactly one placeholder and nothing else.
    pub(super) fn sole_placeholder(&self) -> Option<&Placeholder<'_>> {
        match self.parts.as_slice() {
            [Part::Placeholder(p)] => Some(p),
            _ => None,
        }
    }
}

impl Expr<'_> {
    fn references(&self, offset: usize, has_default: bool, pointer: &str, out: &mut Vec<Reference>) {
        match self {
            Expr::Ref(r) => out.push(Reference {
                text: r.text.to_owned(),
                path: r.path.clone(),
                namespace: match r.target {
                    Target::Scope => Namespace::Scope,
                    Target::Env(_) => Namespace::Env,
                    Target::Secret(_) => Namespace::Secret,
                    Target::Builtin(_) => Namespace::Builtin,
                },
                pointer: pointer.to_owned(),
                offset,
                has_default,
            }),
            Expr::Call { args, .. } => {
                for arg in args {
                    arg.references(offset, has_default, pointer, out);
                }
            }
            Expr::Str(_) | Expr::Int(_) => {}
        }
    }
}
