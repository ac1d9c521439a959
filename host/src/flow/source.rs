//! Reads the text of a flow file (YAML, or JSON, which YAML contains) into a tree of [`Node`]s that
//! each remember their line and column, so that every later check can point at the offending token.
//!
//! The YAML parser is the `marked-yaml` crate: a small layer over `yaml-rust2` whose nodes carry
//! their start marker, which is exactly what we need. It rejects anchors, aliases and tags, which
//! flows have no use for (none of TestMesh's published flows uses them) and which would make
//! "where did this value come from" ambiguous. `saphyr` was the alternative; marked-yaml's simpler
//! tree and its per-scalar "was it quoted" flag (so that `"123"` stays a string) decided it.
//!
//! This module converts marked-yaml's tree into our own right away, for two reasons: its markers
//! need fixing up (a block mapping's start marker is after its first key, an empty value's marker
//! is at the next token), and the rest of the `flow` module then never names the crate.

use super::diagnostic::{Diagnostic, Severity};
use super::model::{Span, SpannedValue};
use marked_yaml::{LoadError, LoaderOptions};
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// The text of a flow file and its name, which every diagnostic quotes.
pub(crate) struct Source<'a> {
    file: &'a str,
    lines: Vec<&'a str>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(text: &'a str, file: &'a str) -> Self {
        let lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).collect();
        Source { file, lines }
    }

    /// The character at `span`, if the position is inside the text.
    pub(crate) fn char_at(&self, span: Span) -> Option<char> {
        let line = self.lines.get((span.line as usize).checked_sub(1)?)?;
        line.chars().nth((span.column as usize).checked_sub(1)?)
    }

    /// A diagnostic at `span`, quoting the source line it points at.
    pub(crate) fn diagnostic(
        &self,
        severity: Severity,
        span: Span,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        let source_line = (span.line as usize)
            .checked_sub(1)
            .and_then(|index| self.lines.get(index))
            .map(|line| line.strip_prefix('\u{feff}').unwrap_or(line).to_string());
        Diagnostic {
            severity,
            file: self.file.to_string(),
            line: span.line,
            column: span.column,
            message: message.into(),
            help,
            source_line,
        }
    }
}

/// A YAML node with its position.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Scalar(Scalar),
    Mapping(Mapping),
    Sequence(Sequence),
}

/// A scalar as written, and whether it was plain (unquoted, so `true`, `12` and `null` mean a
/// boolean, a number and nothing) or quoted (always a string).
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub text: String,
    pub plain: bool,
    pub span: Span,
}

/// A mapping in document order; keys are unique (the loader rejects duplicates).
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub entries: Vec<(Scalar, Node)>,
    pub span: Span,
}

/// A sequence.
#[derive(Debug, Clone)]
pub(crate) struct Sequence {
    pub items: Vec<Node>,
    pub span: Span,
}

impl Node {
    pub(crate) fn span(&self) -> Span {
        match self {
            Node::Scalar(s) => s.span,
            Node::Mapping(m) => m.span,
            Node::Sequence(s) => s.span,
        }
    }

    /// `~`, `null` or nothing at all, unquoted.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Node::Scalar(s) if s.plain && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// How this node is described in "expected …, found …" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Node::Mapping(_) => "a mapping".into(),
            Node::Sequence(_) => "a list".into(),
            Node::Scalar(_) if self.is_null() => "nothing".into(),
            Node::Scalar(s) => match scalar_value(s) {
                Value::Bool(_) => format!("the boolean `{}`", s.text),
                Value::Number(_) => format!("the number `{}`", s.text),
                _ => format!("the string `{}`", shorten(&s.text)),
            },
        }
    }

    /// The node as JSON, with the position of every node inside it kept by JSON pointer.
    pub(crate) fn to_spanned_value(&self) -> SpannedValue {
        let mut spans = BTreeMap::new();
        let value = to_value(self, String::new(), &mut spans);
        SpannedValue::new(value, self.span(), spans)
    }
}

impl Mapping {
    /// The entry for `key`, with the key node (for its position).
    pub(crate) fn get(&self, key: &str) -> Option<(&Scalar, &Node)> {
        self.entries.iter().find(|(k, _)| k.text == key).map(|(k, v)| (k, v))
    }
}

/// Long strings are cut in messages so that one bad value does not flood the terminal.
pub(crate) fn shorten(text: &str) -> String {
    let first_line = text.lines().next().unwrap_or("");
    let mut short: String = first_line.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// The JSON value of a scalar under YAML 1.2's core schema: unquoted `null`, booleans and numbers
/// are typed, everything else (and anything quoted) is a string.
pub(crate) fn scalar_value(scalar: &Scalar) -> Value {
    if !scalar.plain {
        return Value::String(scalar.text.clone());
    }
    let text = scalar.text.as_str();
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(number) = yaml_integer(text) {
        return Value::Number(number);
    }
    if is_yaml_float(text)
        && let Some(number) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(number);
    }
    Value::String(scalar.text.clone())
}

fn yaml_integer(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x").filter(|_| !negative && text == digits) {
        u64::from_str_radix(hex, 16).ok()?
    } else if let Some(octal) = digits.strip_prefix("0o").filter(|_| !negative && text == digits) {
        u64::from_str_radix(octal, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<u64>().ok()?
    } else {
        return None;
    };
    if negative {
        let signed = i64::try_from(magnitude).ok()?;
        Some(Number::from(-signed))
    } else {
        Some(Number::from(magnitude))
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without a regex engine; `.inf` and `.nan`
/// stay strings since JSON has no such numbers.
fn is_yaml_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok =
        digits(whole) && fraction.is_none_or(digits) && (!whole.is_empty() || fraction.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

fn to_value(node: &Node, pointer: String, spans: &mut BTreeMap<String, Span>) -> Value {
    spans.insert(pointer.clone(), node.span());
    match node {
        Node::Scalar(s) => scalar_value(s),
        Node::Sequence(seq) => Value::Array(
            seq.items.iter().enumerate().map(|(i, item)| to_value(item, format!("{pointer}/{i}"), spans)).collect(),
        ),
        Node::Mapping(map) => {
            let mut object = Map::new();
            for (key, value) in &map.entries {
                let escaped = key.text.replace('~', "~0").replace('/', "~1");
                object.insert(key.text.clone(), to_value(value, format!("{pointer}/{escaped}"), spans));
            }
            Value::Object(object)
        }
    }
}

/// Parses the text of a flow file. The top level must be a mapping; the file holds one document.
pub(crate) fn load(text: &str, source: &Source) -> Result<Node, Diagnostic> {
    let error =
        |span: Span, message: String, help: Option<String>| source.diagnostic(Severity::Error, span, message, help);
    // A byte-order mark is invisible in editors; dropping it keeps the columns of line 1 as seen.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some((line, column)) = too_deep(text) {
        return Err(error(
            Span::new(line, column),
            format!("the document nests deeper than {MAX_NESTING} levels here"),
            Some("a flow needs a handful of levels; flatten the data or load it with a step".into()),
        ));
    }
    if let Some(line) = second_document(text) {
        return Err(error(
            Span::new(line, 1),
            "a second YAML document starts here".into(),
            Some("a flow file holds one flow: put each flow in its own file".into()),
        ));
    }
    let options = LoaderOptions::default().error_on_duplicate_keys(true).prevent_coercion(true);
    // marked-yaml asserts on parser states it believes impossible; a panic on some odd input must
    // not take the server down with it, so it becomes a diagnostic like any other.
    let loaded = std::panic::catch_unwind(|| marked_yaml::parse_yaml_with_options(0, text, options)).map_err(|_| {
        error(
            Span::new(1, 1),
            "the YAML parser failed on this file".into(),
            Some("check the file's YAML syntax".into()),
        )
    })?;
    match loaded {
        Ok(node) => Ok(convert(&node)),
        Err(load_error) => Err(load_diagnostic(load_error, source)),
    }
}

/// How deeply collections may nest in a flow document. Parsing and converting a tree is recursive:
/// a bound keeps a hostile document (`[[[[…` a hundred thousand times) from overflowing the stack of
/// the process that reads it — a server, too.
const MAX_NESTING: usize = 64;

/// Where a document first nests deeper than [`MAX_NESTING`] — counting flow collections (`[`, `{`,
/// outside quotes and comments) and block levels (indentation, and `- ` items opening on one line)
/// — as a 1-based line and column. An over-estimate is harmless at this bound.
fn too_deep(text: &str) -> Option<(u32, u32)> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    for (index, line) in text.lines().enumerate() {
        let position = |column: usize| (to_u32(index + 1), to_u32(column + 1));
        let content = line.trim_start_matches(' ');
        if flow == 0 && !content.is_empty() && !content.starts_with('#') {
            let indent = line.len() - content.len();
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
            // `- - - x` opens a sequence per dash on one line.
            let dashes = content.split_inclusive(' ').take_while(|part| part.trim() == "-").count();
            if indents.len() + dashes > MAX_NESTING {
                return Some(position(indent));
            }
        }
        let (mut single, mut double, mut escaped) = (false, false, false);
        let mut previous = ' ';
        for (column, c) in line.chars().enumerate() {
            if double {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => double = false,
                    _ => {}
                }
            } else if single {
                if c == '\'' {
                    single = false;
                }
            } else {
                match c {
                    '#' if previous.is_whitespace() => break,
                    '"' => double = true,
                    '\'' if previous.is_whitespace() || matches!(previous, '[' | '{' | ',' | ':') => single = true,
                    '[' | '{' => {
                        flow += 1;
                        if flow + indents.len() > MAX_NESTING {
                            return Some(position(column));
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                }
            }
            previous = c;
        }
    }
    None
}

/// The line of a `---` that starts a second document, if any: marked-yaml reads the first document
/// and silently drops the rest, which would hide half a file.
fn second_document(text: &str) -> Option<u32> {
    let mut seen_content = false;
    for (index, line) in text.lines().enumerate() {
        let is_marker = line.strip_prefix("---").is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
        if is_marker && seen_content {
            return u32::try_from(index + 1).ok();
        }
        let trimmed = line.trim_start();
        if !is_marker && !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('%') {
            seen_content = true;
        }
    }
    None
}

fn load_diagnostic(load_error: LoadError, source: &Source) -> Diagnostic {
    let at = |marker: &marked_yaml::Marker| Span::new(to_u32(marker.line()), to_u32(marker.column()));
    let error = |span, message: String, help: Option<&str>| {
        source.diagnostic(Severity::Error, span, message, help.map(Into::into))
    };
    match &load_error {
        LoadError::ScanError(marker, scan) => {
            error(at(marker), format!("invalid YAML: {}", scan.info()), Some("check the indentation and brackets here"))
        }
        LoadError::DuplicateKey(duplicate) => {
            let first = duplicate.prev_key.span().start().map(|m| m.line()).unwrap_or(0);
            error(
                duplicate.key.span().start().map(at).unwrap_or_default(),
                format!("duplicate key `{}`", duplicate.key.as_str()),
                Some(&format!("it is already set on line {first}; keep one of the two")),
            )
        }
        LoadError::TopLevelMustBeMapping(marker) => error(
            at(marker),
            "a flow must be a mapping of keys such as `name` and `steps`".into(),
            Some("start the file with `flow:` or `name:`"),
        ),
        LoadError::TopLevelMustBeSequence(marker) => error(at(marker), "the top level must be a list".into(), None),
        LoadError::UnexpectedAnchor(marker) => error(
            at(marker),
            "YAML anchors and aliases are not supported in flows".into(),
            Some("write the value out, or put it in `env` and refer to it with `${NAME}`"),
        ),
        LoadError::UnexpectedTag(marker) => error(
            at(marker),
            "YAML tags (`!…`) are not supported in flows".into(),
            Some("quote the value to make it a string"),
        ),
        LoadError::MappingKeyMustBeScalar(marker) => {
            error(at(marker), "a mapping key must be a plain string".into(), None)
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn span_of(span: &marked_yaml::Span) -> Span {
    span.start().map(|m| Span::new(to_u32(m.line()), to_u32(m.column()))).unwrap_or_default()
}

fn convert(node: &marked_yaml::Node) -> Node {
    match node {
        marked_yaml::Node::Scalar(s) => Node::Scalar(convert_scalar(s)),
        marked_yaml::Node::Sequence(seq) => {
            Node::Sequence(Sequence { items: seq.iter().map(convert).collect(), span: span_of(seq.span()) })
        }
        marked_yaml::Node::Mapping(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (key, value) in map.iter() {
                let key = convert_scalar(key);
                let mut value = convert(value);
                // An empty value's marker is the next token, often on another line: point at its key.
                if let Node::Scalar(s) = &mut value
                    && s.plain
                    && s.text.is_empty()
                {
                    s.span = key.span;
                }
                entries.push((key, value));
            }
            // A block mapping's start marker comes after its first key; a flow mapping's is its `{`.
            // The earlier of the two is where the mapping starts as a reader sees it.
            let start = span_of(map.span());
            let span = entries.first().map(|(key, _)| key.span.min(start)).unwrap_or(start);
            Node::Mapping(Mapping { entries, span })
        }
    }
}

fn convert_scalar(scalar: &marked_yaml::types::MarkedScalarNode) -> Scalar {
    Scalar { text: scalar.as_str().to_string(), plain: scalar.may_coerce(), span: span_of(scalar.span()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Node, Diagnostic> {
        load(text, &Source::new(text, "t.yaml"))
    }

    fn mapping(node: &Node) -> &Mapping {
        match node {
            Node::Mapping(m) => m,
            other => panic!("not a mapping: {other:?}"),
        }
    }

    #[test]
    fn keeps_positions_of_keys_values_and_block_mappings() {
        let root = parse("flow:\n  name: x\n  steps:\n    - id: a\n      action: http\n").unwrap();
        let root = mapping(&root);
        assert_eq!(root.span, Span::new(1, 1));
        let (key, flow) = root.get("flow").unwrap();
        assert_eq!(key.span, Span::new(1, 1));
        assert_eq!(flow.span(), Span::new(2, 3));
        let (_, steps) = mapping(flow).get("steps").unwrap();
        assert_eq!(steps.span(), Span::new(4, 5));
        let Node::Sequence(steps) = steps else { panic!() };
        assert_eq!(steps.items[0].span(), Span::new(4, 7));
        let (_, action) = mapping(&steps.items[0]).get("action").unwrap();
        assert_eq!(action.span(), Span::new(5, 15));
    }

    #[test]
    fn empty_value_points_at_its_key() {
        let root = parse("a:\n  b:\n  c: 1\n").unwrap();
        let (_, a) = mapping(&root).get("a").unwrap();
        let (_, b) = mapping(a).get("b").unwrap();
        assert!(b.is_null());
        assert_eq!(b.span(), Span::new(2, 3));
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let root =
            parse("a: \"12\"\nb: 12\nc: 'true'\nd: true\ne: ~\nf: 1.5\ng: .inf\nh: 0x1f\ni: -3\nj: 1e3\nk: 12abc\n")
                .unwrap();
        let value = root.to_spanned_value().value;
        assert_eq!(
            value,
            serde_json::json!({"a": "12", "b": 12, "c": "true", "d": true, "e": null, "f": 1.5, "g": ".inf",
                "h": 31, "i": -3, "j": 1000.0, "k": "12abc"})
        );
    }

    #[test]
    fn spanned_value_finds_positions_by_pointer() {
        let root = parse("config:\n  url: x\n  json:\n    a/b: [1, 2]\n").unwrap();
        let (_, config) = mapping(&root).get("config").unwrap();
        let spanned = config.to_spanned_value();
        assert_eq!(spanned.span_at("/url"), Span::new(2, 8));
        assert_eq!(spanned.span_at("/json/a~1b/1"), Span::new(4, 14));
        // Unknown pointers fall back to the closest ancestor that has a position.
        assert_eq!(spanned.span_at("/json/a~1b/9"), Span::new(4, 10));
        assert_eq!(spanned.span_at("/nope"), Span::new(2, 3));
    }

    #[test]
    fn json_with_tab_indentation_parses() {
        let root = parse("{\n\t\"name\": \"x\",\n\t\"steps\": []\n}").unwrap();
        let (key, _) = mapping(&root).get("name").unwrap();
        assert_eq!(key.span, Span::new(2, 2));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let error = parse("name: x\n  bad: indent\n").unwrap_err();
        assert_eq!((error.line, error.column), (2, 6));
        assert!(error.message.starts_with("invalid YAML: "), "{}", error.message);
    }

    #[test]
    fn rejects_duplicate_keys_anchors_tags_and_second_documents() {
        let error = parse("name: x\nname: y\n").unwrap_err();
        assert_eq!((error.line, error.message.as_str()), (2, "duplicate key `name`"));
        assert!(parse("a: &x 1\nb: *x\n").unwrap_err().message.contains("anchors"));
        assert!(parse("b: *x\n").is_err());
        assert!(parse("a: !!str 1\n").unwrap_err().message.contains("tags"));
        let error = parse("---\na: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!((error.line, error.column), (3, 1));
        assert!(parse("- a\n").unwrap_err().message.contains("must be a mapping"));
    }

    #[test]
    fn empty_text_is_an_empty_mapping() {
        assert!(mapping(&parse("").unwrap()).entries.is_empty());
        assert!(mapping(&parse("# nothing\n").unwrap()).entries.is_empty());
    }
}
