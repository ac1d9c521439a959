//! Turns the source tree into a [`Flow`], checking its structure on the way and collecting every
//! problem — unknown keys, wrong types, missing or empty required parts, bad ids, durations and
//! plugin references — instead of stopping at the first.
//!
//! Both spellings of the flow format end up in one model here: our `for_each:`/`parallel:`/`if:`/
//! `run_flow:` steps and TestMesh's `action: for_each|parallel|condition|run_flow` with `config`;
//! `config` and its alias `with`; `on_error` as a string or TestMesh's object. Keys TestMesh
//! documents but never acted on are accepted with a warning, so its flows parse unchanged.
//!
//! Every helper reports what is wrong and returns a stand-in, so that checking goes on; the flow is
//! only handed out when no error was reported.

use super::diagnostic::{Diagnostic, Severity, did_you_mean};
use super::model::{
    Assertion, Backoff, Capture, Expr, Flow, ForEachItems, OnError, PluginRef, RangeBound, Retry, Span, SpannedValue,
    Step, StepKind, Variable,
};
use super::source::{Mapping, Node, Scalar, Source, scalar_value, shorten};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Keys of the flow mapping.
const FLOW_KEYS: &[&str] = &[
    "name",
    "description",
    "tags",
    "suite",
    "env",
    "env_file",
    "timeout",
    "fail_fast",
    "setup",
    "steps",
    "teardown",
    "config",
];

/// Flow keys that TestMesh documents or writes but never acts on: accepted, with a warning.
const FLOW_IGNORED: &[(&str, &str)] = &[
    ("version", "TestMesh documents it but does not use it either"),
    ("author", "TestMesh documents it but does not use it either"),
    ("collection", "TestMesh documents it but does not use it either"),
    ("data_source", "TestMesh does not run data-driven flows either; iterate with `for_each`"),
    ("output", "a flow's outputs are the values its steps capture with their own `output`"),
    ("graph", "graph-aware execution is not supported"),
];

/// Keys every step may have, whatever it does.
const STEP_COMMON: &[&str] =
    &["id", "name", "description", "assert", "output", "when", "retry", "timeout", "on_error", "disabled"];

/// The keys that say what a step does; a step has exactly one.
const STEP_KINDS: &[&str] = &["action", "for_each", "parallel", "if", "run_flow"];

/// The other keys each kind of step has.
const STEP_KIND_KEYS: &[(&str, &[&str])] = &[
    ("action", &["config", "with"]),
    ("for_each", &["as", "concurrency", "steps"]),
    ("parallel", &["branches"]),
    ("if", &["then", "else"]),
    ("run_flow", &["with"]),
];

/// Step keys that TestMesh documents but never acts on: accepted, with a warning.
const STEP_IGNORED: &[(&str, &str)] = &[
    ("tags", "step tags have no effect; tag the flow instead"),
    ("error_steps", "TestMesh never runs them either; use `if` on a later step"),
];

/// TestMesh's control actions, which are the runner's own steps here.
const TESTMESH_CONTROL: &[&str] = &["for_each", "parallel", "condition", "run_flow"];

const NO_IGNORED: &[(&str, &str)] = &[];

/// Parses a flow document's tree. The flow is meaningful only if no error is among the diagnostics.
pub(crate) fn parse(root: &Node, source: &Source) -> (Flow, Vec<Diagnostic>) {
    let mut parser = Parser { source, diagnostics: Vec::new() };
    let flow = parser.document(root);
    (flow, parser.diagnostics)
}

/// Ids already given in one namespace (setup and main steps; teardown), with where.
#[derive(Default)]
struct Ids(HashMap<String, Span>);

struct Parser<'a> {
    source: &'a Source<'a>,
    diagnostics: Vec<Diagnostic>,
}

/// A mapping entry: the key (for its name and position) and its value.
type Entry<'n> = (&'n Scalar, &'n Node);

impl Parser<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        let diagnostic = self.source.diagnostic(Severity::Error, span, message, help);
        self.diagnostics.push(diagnostic);
    }

    fn warning(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        let diagnostic = self.source.diagnostic(Severity::Warning, span, message, help);
        self.diagnostics.push(diagnostic);
    }

    fn document(&mut self, root: &Node) -> Flow {
        let Node::Mapping(map) = root else {
            self.error(root.span(), "a flow must be a mapping of keys such as `name` and `steps`", None);
            return empty_flow(root.span());
        };
        match map.get("flow") {
            Some((key, value)) => {
                self.check_keys(map, &["flow"], NO_IGNORED, "the file", |other| {
                    FLOW_KEYS
                        .contains(&other)
                        .then(|| format!("with a `flow:` wrapper, `{other}` goes under `flow:`, indented"))
                });
                match value {
                    Node::Mapping(flow) => self.flow(flow, key.span),
                    other => {
                        let found = other.describe();
                        self.error(other.span(), format!("`flow` must be a mapping, found {found}"), None);
                        empty_flow(key.span)
                    }
                }
            }
            None if map.entries.is_empty() => {
                self.error(
                    Span::new(1, 1),
                    "the file holds no flow",
                    Some("a flow needs at least a `name` and `steps`".into()),
                );
                empty_flow(Span::new(1, 1))
            }
            None => self.flow(map, map.span),
        }
    }

    fn flow(&mut self, map: &Mapping, at: Span) -> Flow {
        self.check_keys(map, FLOW_KEYS, FLOW_IGNORED, "the flow", |_| None);
        let name = match value_of(map, "name") {
            Some(entry) => self.string(entry).unwrap_or_default(),
            None => {
                self.error(at, "the flow has no `name`", Some("add `name: …`: reports and listings show it".into()));
                String::new()
            }
        };
        let description = value_of(map, "description").and_then(|e| self.string(e));
        let suite = value_of(map, "suite").and_then(|e| self.string(e));
        let env_file = value_of(map, "env_file").and_then(|e| self.string(e));
        let tags = value_of(map, "tags").map(|e| self.string_list(e)).unwrap_or_default();
        let env = value_of(map, "env").map(|e| self.env(e)).unwrap_or_default();
        let mut timeout = value_of(map, "timeout").and_then(|e| self.timeout(e));
        let mut fail_fast = value_of(map, "fail_fast").and_then(|e| self.boolean(e));

        // TestMesh documents flow settings under `config:`; they mean what the top-level keys mean.
        if let Some((_, Node::Mapping(config))) = value_of(map, "config") {
            self.check_keys(
                config,
                &["timeout", "fail_fast"],
                &[("retry", "a flow-wide default retry is not supported; give steps their own `retry`")],
                "the flow's `config`",
                |_| None,
            );
            for (name, slot_is_set) in [("timeout", timeout.is_some()), ("fail_fast", fail_fast.is_some())] {
                if let Some((key, _)) = config.get(name).filter(|_| slot_is_set) {
                    let first = map.get(name).map(|(k, _)| k.span.line).unwrap_or_default();
                    self.error(
                        key.span,
                        format!("`{name}` is set twice, here and on line {first}"),
                        Some(format!("keep the top-level `{name}`")),
                    );
                }
            }
            if timeout.is_none() {
                timeout = value_of(config, "timeout").and_then(|e| self.timeout(e));
            }
            if fail_fast.is_none() {
                fail_fast = value_of(config, "fail_fast").and_then(|e| self.boolean(e));
            }
        } else if let Some((_, other)) = value_of(map, "config") {
            let found = other.describe();
            self.error(other.span(), format!("the flow's `config` must be a mapping, found {found}"), None);
        }

        // Setup and main steps share one namespace of ids: main steps refer to setup's outputs.
        let mut ids = Ids::default();
        let setup = self.phase(map, "setup", "setup", &mut ids);
        let steps = match map.get("steps") {
            None => {
                self.error(at, "the flow has no `steps`", Some("add `steps:` with at least one step".into()));
                Vec::new()
            }
            Some((key, value)) if value.is_null() || matches!(value, Node::Sequence(s) if s.items.is_empty()) => {
                self.error(key.span, "`steps` is empty", Some("a flow needs at least one step".into()));
                Vec::new()
            }
            Some(_) => self.phase(map, "steps", "step", &mut ids),
        };
        let teardown = self.phase(map, "teardown", "teardown", &mut Ids::default());

        Flow {
            name,
            description,
            tags,
            suite,
            env,
            env_file,
            timeout,
            fail_fast: fail_fast.unwrap_or(true),
            setup,
            steps,
            teardown,
            span: at,
        }
    }

    fn phase(&mut self, map: &Mapping, key: &str, prefix: &str, ids: &mut Ids) -> Vec<Step> {
        match value_of(map, key) {
            Some(entry) => self.steps(entry, prefix, ids),
            None => Vec::new(),
        }
    }

    /// Reports every key of `map` that is not in `allowed`: a warning for the `ignored` ones, an
    /// error otherwise, with `hint`'s advice for keys known elsewhere, or the closest allowed key.
    fn check_keys(
        &mut self,
        map: &Mapping,
        allowed: &[&str],
        ignored: &[(&str, &str)],
        place: &str,
        hint: impl Fn(&str) -> Option<String>,
    ) {
        for (key, _) in &map.entries {
            let name = key.text.as_str();
            if allowed.contains(&name) {
                continue;
            }
            if let Some((_, why)) = ignored.iter().find(|(k, _)| *k == name) {
                self.warning(key.span, format!("`{name}` in {place} is ignored"), Some((*why).to_string()));
                continue;
            }
            let help = hint(name).or_else(|| match did_you_mean(name, allowed) {
                Some(close) => Some(format!("did you mean `{close}`?")),
                None => Some(format!("expected one of {}", quoted_list(allowed))),
            });
            self.error(key.span, format!("unknown key `{}` in {place}", shorten(name)), help);
        }
    }

    // ---- steps ----

    fn steps(&mut self, (key, node): Entry, prefix: &str, ids: &mut Ids) -> Vec<Step> {
        match node {
            Node::Sequence(list) => list
                .items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.step(item, format!("{prefix}_{}", i + 1), ids))
                .collect(),
            other => {
                let found = other.describe();
                self.error(
                    other.span(),
                    format!("`{}` must be a list of steps, found {found}", key.text),
                    Some("write each step as a list item starting with `- `".into()),
                );
                Vec::new()
            }
        }
    }

    /// A list of steps that must not be empty (the body of a `for_each`, a parallel branch).
    fn required_steps(&mut self, entry: Option<Entry>, at: Span, what: &str, prefix: &str, ids: &mut Ids) -> Vec<Step> {
        match entry {
            None => {
                self.error(at, format!("{what} has no `steps`"), Some("add `steps:` with at least one step".into()));
                Vec::new()
            }
            Some((key, Node::Sequence(list))) if list.items.is_empty() => {
                self.error(key.span, format!("the `steps` of {what} are empty"), None);
                Vec::new()
            }
            Some(entry) => self.steps(entry, prefix, ids),
        }
    }

    fn step(&mut self, node: &Node, default_id: String, ids: &mut Ids) -> Option<Step> {
        let Node::Mapping(map) = node else {
            let found = node.describe();
            self.error(
                node.span(),
                format!("a step must be a mapping, found {found}"),
                Some("a step has keys such as `id`, `action` and `config`".into()),
            );
            return None;
        };
        let span = map.span;
        let kinds: Vec<Entry> = STEP_KINDS.iter().filter_map(|k| map.get(k)).collect();
        let kind_name = match kinds.as_slice() {
            [] => {
                self.error(
                    span,
                    "this step has no `action`",
                    Some(
                        "give it an `action` (a plugin such as `http_request`), or make it a `for_each`, `parallel`, \
                         `if` or `run_flow` step"
                            .into(),
                    ),
                );
                None
            }
            [(key, _)] => Some(key.text.as_str()),
            [(first, _), (second, _), ..] => {
                self.error(
                    second.span,
                    format!("a step cannot have both `{}` and `{}`", first.text, second.text),
                    Some("split it into two steps".into()),
                );
                None
            }
        };

        let mut allowed: Vec<&str> = STEP_COMMON.to_vec();
        for (kind, keys) in STEP_KIND_KEYS {
            if kind_name.is_none_or(|k| k == *kind) {
                allowed.push(kind);
                allowed.extend_from_slice(keys);
            }
        }
        let testmesh_control =
            map.get("action").and_then(|(_, v)| scalar_text(v)).filter(|a| TESTMESH_CONTROL.contains(a));
        self.check_keys(map, &allowed, STEP_IGNORED, "a step", |key| {
            if let Some(action) = testmesh_control
                && ["steps", "branches", "then", "else", "as", "concurrency"].contains(&key)
            {
                return Some(format!("with `action: {action}`, `{key}` goes under `config`"));
            }
            let owners: Vec<String> = STEP_KIND_KEYS
                .iter()
                .filter(|(_, keys)| keys.contains(&key))
                .map(|(kind, _)| format!("`{kind}`"))
                .collect();
            (!owners.is_empty()).then(|| format!("`{key}` belongs to {} steps", owners.join(" or ")))
        });

        let id = self.step_id(map, default_id, ids);
        let name = value_of(map, "name").and_then(|e| self.string(e));
        let description = value_of(map, "description").and_then(|e| self.string(e));
        let assert = value_of(map, "assert").map(|e| self.assertions(e)).unwrap_or_default();
        let output = value_of(map, "output").map(|e| self.captures(e)).unwrap_or_default();
        let when = value_of(map, "when").and_then(|e| self.expr(e));
        let retry = value_of(map, "retry").and_then(|e| self.retry(e));
        let timeout = value_of(map, "timeout").and_then(|e| self.timeout(e));
        let on_error = value_of(map, "on_error").map(|e| self.on_error(e)).unwrap_or_default();
        let disabled = value_of(map, "disabled").and_then(|e| self.boolean(e)).unwrap_or(false);

        let mut kind = match kind_name? {
            "action" => self.action_step(map, &id, ids),
            "for_each" => self.for_each_step(map, &id, ids),
            "parallel" => self.parallel_step(map, &id, ids),
            "if" => self.if_step(map, &id, ids),
            _ => self.run_flow_step(map),
        }?;
        let mut assert = assert;
        testmesh_assert_step(&mut kind, &mut assert);
        Some(Step { id, name, description, kind, assert, output, when, retry, timeout, on_error, disabled, span })
    }

    fn step_id(&mut self, map: &Mapping, default_id: String, ids: &mut Ids) -> String {
        let (id, span, explicit) = match value_of(map, "id") {
            Some(entry) => match self.string(entry) {
                Some(id) => (id, entry.1.span(), true),
                None => return default_id,
            },
            None => (default_id, map.span, false),
        };
        if explicit && !is_step_id(&id) {
            self.error(
                span,
                format!("invalid step id `{}`", shorten(&id)),
                Some(format!("ids are 1 to 64 lower-case letters, digits, `_` and `-`, such as `{}`", slug(&id))),
            );
        }
        if let Some(first) = ids.0.get(&id) {
            let help = format!(
                "the step on line {} has it already; setup and main steps share one set of ids, teardown has its own",
                first.line
            );
            let message = if explicit {
                format!("duplicate step id `{id}`")
            } else {
                format!("this step has no id, and its default id `{id}` is already taken")
            };
            self.error(span, message, Some(help));
        } else {
            ids.0.insert(id.clone(), span);
        }
        id
    }

    fn action_step(&mut self, map: &Mapping, id: &str, ids: &mut Ids) -> Option<StepKind> {
        let (action_key, action_node) = map.get("action")?;
        let config = self.config(map, "config", "with");
        let text = self.string((action_key, action_node))?;
        let span = action_node.span();
        match (text.as_str(), config) {
            ("for_each", Some(Node::Mapping(config))) => self.testmesh_for_each(config, id, ids),
            ("parallel", Some(Node::Mapping(config))) => self.testmesh_parallel(config, id, ids),
            ("condition", Some(Node::Mapping(config))) => self.testmesh_condition(config, id, ids),
            ("run_flow", Some(Node::Mapping(config))) => self.testmesh_run_flow(config, span),
            ("for_each" | "parallel" | "condition" | "run_flow", _) => {
                self.error(
                    span,
                    format!("`action: {text}` needs a `config`"),
                    Some(match text.as_str() {
                        "for_each" => "give it `config:` with `items` (or `range`) and `steps`".into(),
                        "parallel" => "give it `config:` with `branches`".into(),
                        "condition" => "give it `config:` with `condition`, `then` and `else`".into(),
                        _ => "give it `config:` with `flow` and `input`".into(),
                    }),
                );
                None
            }
            (_, config) => {
                let plugin = self.plugin_ref(&text, span)?;
                let config = match config {
                    Some(node @ Node::Mapping(_)) => node.to_spanned_value(),
                    _ => SpannedValue::empty_object(map.span),
                };
                Some(StepKind::Action { plugin, config })
            }
        }
    }

    /// The step's `config` under either of its two spellings; `None` if absent, null, or not a
    /// mapping (which is reported).
    fn config<'m>(&mut self, map: &'m Mapping, name: &str, alias: &str) -> Option<&'m Node> {
        let chosen = match (map.get(name), map.get(alias)) {
            (Some(_), Some((alias_key, _))) => {
                self.error(
                    alias_key.span,
                    format!("`{name}` and `{alias}` are the same thing: this step has both"),
                    Some(format!("keep one of them, `{name}` or `{alias}`")),
                );
                map.get(name)
            }
            (Some(entry), None) | (None, Some(entry)) => Some(entry),
            (None, None) => None,
        }?;
        match chosen.1 {
            node if node.is_null() => None,
            node @ Node::Mapping(_) => Some(node),
            other => {
                let found = other.describe();
                self.error(
                    other.span(),
                    format!("`{}` must be a mapping, found {found}", chosen.0.text),
                    Some(format!("write the plugin's settings as `key: value` lines under `{}:`", chosen.0.text)),
                );
                None
            }
        }
    }

    fn plugin_ref(&mut self, text: &str, span: Span) -> Option<PluginRef> {
        match parse_plugin_ref(text, span) {
            Ok(plugin) => Some(plugin),
            Err(problem) => {
                self.error(
                    span,
                    format!("invalid plugin reference `{}`: {problem}", shorten(text)),
                    Some(
                        "write `name`, `name.operation` or `name@version`, such as `http_request`, `redis.get` or \
                         `my_org/kafka@0.3.2`"
                            .into(),
                    ),
                );
                None
            }
        }
    }

    fn for_each_step(&mut self, map: &Mapping, id: &str, ids: &mut Ids) -> Option<StepKind> {
        let (key, node) = map.get("for_each")?;
        let items = match node {
            Node::Sequence(_) => Some(ForEachItems::List(node.to_spanned_value())),
            Node::Mapping(range) => self.range(range),
            Node::Scalar(_) if node.is_null() => {
                self.error(key.span, "`for_each` has no items", Some(FOR_EACH_HELP.into()));
                None
            }
            Node::Scalar(s) => self.template_items(s),
        };
        let as_name = value_of(map, "as").and_then(|e| self.identifier(e));
        let concurrency = value_of(map, "concurrency").and_then(|e| self.count(e, 1));
        let steps = self.required_steps(map.get("steps"), map.span, "this `for_each`", id, ids);
        Some(StepKind::ForEach {
            items: items?,
            as_name: as_name.unwrap_or_else(|| "item".into()),
            index_name: "index".into(),
            concurrency: concurrency.unwrap_or(1),
            steps,
        })
    }

    fn testmesh_for_each(&mut self, config: &Mapping, id: &str, ids: &mut Ids) -> Option<StepKind> {
        self.check_keys(
            config,
            &["items", "range", "item_name", "index_name", "concurrency", "steps"],
            NO_IGNORED,
            "a `for_each` config",
            |key| {
                (key == "items_from_glob")
                    .then(|| "items read from files are not supported: list the items, or use `range`".into())
            },
        );
        let items = match (config.get("items"), config.get("range")) {
            (Some(_), Some((range_key, _))) => {
                self.error(range_key.span, "`items` and `range` cannot both be given", None);
                None
            }
            (Some((_, node @ Node::Sequence(_))), None) => Some(ForEachItems::List(node.to_spanned_value())),
            (Some((_, Node::Scalar(s))), None) if !s.text.is_empty() => self.template_items(s),
            (Some((_, other)), None) => {
                let found = other.describe();
                self.error(other.span(), format!("`items` must be a list, found {found}"), Some(FOR_EACH_HELP.into()));
                None
            }
            (None, Some((_, Node::Mapping(range)))) => self.range(range),
            (None, Some((_, other))) => {
                let found = other.describe();
                self.error(other.span(), format!("`range` must be a mapping, found {found}"), Some(RANGE_HELP.into()));
                None
            }
            // `items_from_glob` was reported as unsupported already.
            (None, None) if config.get("items_from_glob").is_some() => None,
            (None, None) => {
                self.error(config.span, "this `for_each` has no `items`", Some(FOR_EACH_HELP.into()));
                None
            }
        };
        let as_name = value_of(config, "item_name").and_then(|e| self.identifier(e));
        let index_name = value_of(config, "index_name").and_then(|e| self.identifier(e));
        let concurrency = value_of(config, "concurrency").and_then(|e| self.count(e, 1));
        // TestMesh's for_each never ran its steps, so its flows may have none: the loop then only
        // lists its items in its output. Worth a warning, not a rejection.
        let steps = match value_of(config, "steps") {
            Some(entry) => self.steps(entry, id, ids),
            None => {
                self.warning(
                    config.span,
                    "this `for_each` has no `steps`: it only lists its items",
                    Some("add `steps:` under `config` to run steps for each item".into()),
                );
                Vec::new()
            }
        };
        Some(StepKind::ForEach {
            items: items?,
            as_name: as_name.unwrap_or_else(|| "item".into()),
            index_name: index_name.unwrap_or_else(|| "index".into()),
            concurrency: concurrency.unwrap_or(1),
            steps,
        })
    }

    fn template_items(&mut self, scalar: &Scalar) -> Option<ForEachItems> {
        if is_template(&scalar.text) {
            return Some(ForEachItems::Template(Expr { text: scalar.text.clone(), span: scalar.span }));
        }
        self.error(scalar.span, format!("cannot iterate over `{}`", shorten(&scalar.text)), Some(FOR_EACH_HELP.into()));
        None
    }

    /// `{from, to}`, or TestMesh's `{start, end}`; both ends included.
    fn range(&mut self, range: &Mapping) -> Option<ForEachItems> {
        self.check_keys(range, &["from", "to", "start", "end"], NO_IGNORED, "a range", |_| None);
        let mut bound = |first: &str, second: &str| -> Option<RangeBound> {
            match (range.get(first), range.get(second)) {
                (Some(_), Some((key, _))) => {
                    self.error(key.span, format!("`{first}` and `{second}` are the same thing: keep one"), None);
                    None
                }
                (Some((_, Node::Scalar(s))), None) | (None, Some((_, Node::Scalar(s)))) if is_template(&s.text) => {
                    Some(RangeBound::Template(Expr { text: s.text.clone(), span: s.span }))
                }
                (Some(entry), None) | (None, Some(entry)) => self.integer(entry).map(RangeBound::Number),
                (None, None) => {
                    self.error(range.span, format!("the range has no `{first}`"), Some(RANGE_HELP.into()));
                    None
                }
            }
        };
        let from = bound("from", "start");
        let to = bound("to", "end");
        Some(ForEachItems::Range { from: from?, to: to?, span: range.span })
    }

    fn parallel_step(&mut self, map: &Mapping, id: &str, ids: &mut Ids) -> Option<StepKind> {
        let (_, node) = map.get("parallel")?;
        let (mut max_concurrent, mut fail_fast) = (None, None);
        match node {
            Node::Mapping(settings) => {
                self.check_keys(settings, &["max_concurrent", "fail_fast"], NO_IGNORED, "`parallel`", |key| {
                    (key == "branches").then(|| "`branches` goes beside `parallel`, not under it".into())
                });
                max_concurrent = value_of(settings, "max_concurrent").and_then(|e| self.count(e, 0));
                fail_fast = value_of(settings, "fail_fast").and_then(|e| self.boolean(e));
            }
            node if node.is_null() || scalar_value_of(node) == Some(Value::Bool(true)) => {}
            other => {
                let found = other.describe();
                self.error(
                    other.span(),
                    format!("`parallel` must be a mapping, found {found}"),
                    Some("write `parallel: { max_concurrent: 2, fail_fast: true }`, or `parallel: {}`".into()),
                );
            }
        }
        let branches = self.branches(map.get("branches"), map.span, id, ids);
        Some(StepKind::Parallel {
            max_concurrent: max_concurrent.filter(|n| *n > 0),
            fail_fast: fail_fast.unwrap_or(true),
            branches,
        })
    }

    fn testmesh_parallel(&mut self, config: &Mapping, id: &str, ids: &mut Ids) -> Option<StepKind> {
        self.check_keys(
            config,
            &["branches", "max_concurrent", "fail_fast"],
            NO_IGNORED,
            "a `parallel` config",
            |_| None,
        );
        let max_concurrent = value_of(config, "max_concurrent").and_then(|e| self.count(e, 0));
        let fail_fast = value_of(config, "fail_fast").and_then(|e| self.boolean(e));
        let branches = self.branches(config.get("branches"), config.span, id, ids);
        Some(StepKind::Parallel {
            max_concurrent: max_concurrent.filter(|n| *n > 0),
            fail_fast: fail_fast.unwrap_or(true),
            branches,
        })
    }

    fn branches(&mut self, entry: Option<Entry>, at: Span, id: &str, ids: &mut Ids) -> Vec<Vec<Step>> {
        const HELP: &str = "write `branches: [ { steps: [ … ] }, { steps: [ … ] } ]`";
        let items = match entry {
            None => {
                self.error(at, "this `parallel` step has no `branches`", Some(HELP.into()));
                return Vec::new();
            }
            Some((_, Node::Sequence(list))) if !list.items.is_empty() => &list.items,
            Some((key, node)) => {
                let message = if node.is_null() || matches!(node, Node::Sequence(_)) {
                    "`branches` is empty".to_string()
                } else {
                    format!("`branches` must be a list, found {}", node.describe())
                };
                self.error(if node.is_null() { key.span } else { node.span() }, message, Some(HELP.into()));
                return Vec::new();
            }
        };
        let mut branches = Vec::with_capacity(items.len());
        for (i, branch) in items.iter().enumerate() {
            let Node::Mapping(branch) = branch else {
                let found = branch.describe();
                self.error(branch.span(), format!("a branch must be a mapping with `steps`, found {found}"), None);
                continue;
            };
            self.check_keys(branch, &["steps"], NO_IGNORED, "a branch", |_| None);
            let prefix = format!("{id}_{}", i + 1);
            branches.push(self.required_steps(branch.get("steps"), branch.span, "this branch", &prefix, ids));
        }
        branches
    }

    fn if_step(&mut self, map: &Mapping, id: &str, ids: &mut Ids) -> Option<StepKind> {
        let condition = value_of(map, "if").and_then(|e| self.expr(e));
        let (then_steps, else_steps) = self.then_else(map, map.span, id, ids, true);
        Some(StepKind::If { condition: condition?, then_steps, else_steps })
    }

    fn testmesh_condition(&mut self, config: &Mapping, id: &str, ids: &mut Ids) -> Option<StepKind> {
        self.check_keys(config, &["condition", "then", "else"], NO_IGNORED, "a `condition` config", |_| None);
        let condition = match value_of(config, "condition") {
            Some(entry) => self.expr(entry),
            None => {
                self.error(config.span, "this `condition` has no `condition`", None);
                None
            }
        };
        // TestMesh's condition action only evaluated; branches are optional here.
        let (then_steps, else_steps) = self.then_else(config, config.span, id, ids, false);
        Some(StepKind::If { condition: condition?, then_steps, else_steps })
    }

    fn then_else(
        &mut self,
        map: &Mapping,
        at: Span,
        id: &str,
        ids: &mut Ids,
        then_required: bool,
    ) -> (Vec<Step>, Vec<Step>) {
        let then_steps = match value_of(map, "then") {
            Some(entry) => self.steps(entry, &format!("{id}_then"), ids),
            None => {
                if then_required && map.get("then").is_none() {
                    self.error(at, "this `if` step has no `then`", Some("add `then:` with the steps to run".into()));
                }
                Vec::new()
            }
        };
        let else_steps = value_of(map, "else").map(|e| self.steps(e, &format!("{id}_else"), ids)).unwrap_or_default();
        (then_steps, else_steps)
    }

    fn run_flow_step(&mut self, map: &Mapping) -> Option<StepKind> {
        let flow = value_of(map, "run_flow").and_then(|e| self.string(e));
        let with = self.inputs(map, "with");
        Some(StepKind::RunFlow { flow: flow?, with })
    }

    fn testmesh_run_flow(&mut self, config: &Mapping, at: Span) -> Option<StepKind> {
        self.check_keys(
            config,
            &["flow", "input"],
            &[("inherit_env", "a child flow sees what it is given in `input`; TestMesh ignores this key too")],
            "a `run_flow` config",
            |key| {
                (key == "input_file")
                    .then(|| "inputs read from a file are not supported: write them under `input`".into())
            },
        );
        let flow = match value_of(config, "flow") {
            Some(entry) => self.string(entry),
            None => {
                self.error(
                    at,
                    "this `run_flow` has no `flow`",
                    Some("name the flow to run: `flow: auth/login`".into()),
                );
                None
            }
        };
        let with = self.inputs(config, "input");
        Some(StepKind::RunFlow { flow: flow?, with })
    }

    fn inputs(&mut self, map: &Mapping, key: &str) -> SpannedValue {
        match value_of(map, key) {
            Some((_, node @ Node::Mapping(_))) => node.to_spanned_value(),
            Some((_, node @ Node::Scalar(s))) if is_template(&s.text) => node.to_spanned_value(),
            Some((_, other)) => {
                let found = other.describe();
                self.error(
                    other.span(),
                    format!("`{key}` must be a mapping, found {found}"),
                    Some(format!("write `{key}: {{ name: value }}`, or a `${{…}}` reference to an object")),
                );
                SpannedValue::empty_object(other.span())
            }
            None => SpannedValue::empty_object(map.span),
        }
    }

    // ---- step parts ----

    fn assertions(&mut self, (key, node): Entry) -> Vec<Assertion> {
        let Node::Sequence(list) = node else {
            let found = node.describe();
            self.error(
                node.span(),
                format!("`{}` must be a list, found {found}", key.text),
                Some("write each assertion as a list item: `- status == 200`".into()),
            );
            return Vec::new();
        };
        list.items.iter().filter_map(|item| self.assertion(item)).collect()
    }

    fn assertion(&mut self, node: &Node) -> Option<Assertion> {
        const HELP: &str = "write an expression such as `status == 200`, `{ expr: …, message: … }`, or \
                            `{ use: plugin, with: { … } }`";
        match node {
            Node::Scalar(s) if !node.is_null() && !s.text.trim().is_empty() => {
                Some(Assertion::Expr { expr: Expr { text: s.text.clone(), span: s.span }, message: None })
            }
            Node::Mapping(map) => {
                self.check_keys(
                    map,
                    &["expr", "expression", "message", "use", "with"],
                    NO_IGNORED,
                    "an assertion",
                    |_| None,
                );
                let message = value_of(map, "message").and_then(|e| self.string(e));
                let expr = match (map.get("expr"), map.get("expression")) {
                    (Some(_), Some((key, _))) => {
                        self.error(key.span, "`expr` and `expression` are the same thing: keep one", None);
                        None
                    }
                    (Some(entry), None) | (None, Some(entry)) => Some(entry),
                    (None, None) => None,
                };
                match (expr, map.get("use")) {
                    (Some(_), Some((key, _))) => {
                        self.error(
                            key.span,
                            "an assertion is an expression or a plugin (`use`), not both",
                            Some("split it into two assertions".into()),
                        );
                        None
                    }
                    (Some(entry), None) => {
                        if let Some((key, _)) = map.get("with") {
                            self.error(key.span, "`with` goes with `use`, not with an expression", None);
                        }
                        Some(Assertion::Expr { expr: self.expr(entry)?, message })
                    }
                    (None, Some(entry)) => {
                        if let Some((key, _)) = map.get("message") {
                            self.error(key.span, "`message` goes with an expression; a plugin writes its own", None);
                        }
                        let text = self.string(entry)?;
                        let plugin = self.plugin_ref(&text, entry.1.span())?;
                        let with = self.inputs(map, "with");
                        Some(Assertion::Plugin { plugin, with, span: map.span })
                    }
                    (None, None) => {
                        self.error(map.span, "this assertion has neither `expr` nor `use`", Some(HELP.into()));
                        None
                    }
                }
            }
            other => {
                let found = other.describe();
                self.error(other.span(), format!("expected an assertion, found {found}"), Some(HELP.into()));
                None
            }
        }
    }

    fn captures(&mut self, (key, node): Entry) -> Vec<Capture> {
        let Node::Mapping(map) = node else {
            let found = node.describe();
            self.error(
                node.span(),
                format!("`{}` must be a mapping of names to JSONPaths, found {found}", key.text),
                Some("write `output: { user_id: $.body.id }`".into()),
            );
            return Vec::new();
        };
        let mut captures = Vec::with_capacity(map.entries.len());
        for (name, path) in &map.entries {
            if !is_identifier(&name.text) {
                self.error(
                    name.span,
                    format!("invalid output name `{}`", shorten(&name.text)),
                    Some("names are letters, digits and `_`, not starting with a digit, as templates refer to them: `${name}`".into()),
                );
            }
            if let Some(path_text) = self.string((name, path)) {
                captures.push(Capture { name: name.text.clone(), path: path_text, span: path.span() });
            }
        }
        captures
    }

    fn retry(&mut self, (key, node): Entry) -> Option<Retry> {
        let Node::Mapping(map) = node else {
            let found = node.describe();
            self.error(
                node.span(),
                format!("`{}` must be a mapping, found {found}", key.text),
                Some("write `retry: { max_attempts: 5, delay: 1s }`".into()),
            );
            return None;
        };
        self.check_keys(
            map,
            &["max_attempts", "delay", "backoff", "max_delay", "jitter", "until"],
            NO_IGNORED,
            "`retry`",
            |_| None,
        );
        let max_attempts = value_of(map, "max_attempts").and_then(|entry| {
            let n = self.integer(entry)?;
            match u32::try_from(n) {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    self.error(
                        entry.1.span(),
                        format!("`max_attempts` must be at least 1, found {n}"),
                        Some("it counts every attempt, the first included: 1 means no retry".into()),
                    );
                    None
                }
            }
        });
        let delay = value_of(map, "delay").and_then(|e| self.duration(e));
        let max_delay = value_of(map, "max_delay").and_then(|e| self.duration(e));
        let jitter = value_of(map, "jitter").and_then(|e| self.boolean(e));
        let until = value_of(map, "until").and_then(|e| self.expr(e));
        let backoff = value_of(map, "backoff").and_then(|entry| {
            let text = self.string(entry)?;
            match text.as_str() {
                "fixed" => Some(Backoff::Fixed),
                "exponential" => Some(Backoff::Exponential),
                _ => {
                    self.error(
                        entry.1.span(),
                        format!("unknown backoff `{}`", shorten(&text)),
                        Some(match did_you_mean(&text, &["fixed", "exponential"]) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => "use `fixed` or `exponential`".into(),
                        }),
                    );
                    None
                }
            }
        });
        Some(Retry {
            max_attempts: max_attempts.unwrap_or(3),
            delay: delay.unwrap_or(Duration::from_secs(1)),
            backoff: backoff.unwrap_or(Backoff::Fixed),
            max_delay,
            jitter: jitter.unwrap_or(false),
            until,
            span: map.span,
        })
    }

    fn on_error(&mut self, (key, node): Entry) -> OnError {
        const HELP: &str = "use `fail` or `continue`";
        let word = |parser: &mut Self, entry: Entry| -> OnError {
            let Some(text) = parser.string(entry) else { return OnError::Fail };
            match text.as_str() {
                "fail" => OnError::Fail,
                "continue" => OnError::Continue,
                "retry" => {
                    parser.warning(
                        entry.1.span(),
                        "`on_error: retry` continues after the failure, as in TestMesh; it does not retry",
                        Some("to retry the step, give it `retry:`".into()),
                    );
                    OnError::Continue
                }
                _ => {
                    parser.error(
                        entry.1.span(),
                        format!("unknown `on_error` value `{}`", shorten(&text)),
                        Some(HELP.into()),
                    );
                    OnError::Fail
                }
            }
        };
        match node {
            Node::Mapping(map) => {
                self.check_keys(
                    map,
                    &["action"],
                    &[
                        ("error_steps", "TestMesh never runs them either; use `if` on a later step"),
                        ("on_timeout", "TestMesh never acts on it either"),
                    ],
                    "`on_error`",
                    |_| None,
                );
                match value_of(map, "action") {
                    Some(entry) => word(self, entry),
                    None => OnError::Fail,
                }
            }
            _ => word(self, (key, node)),
        }
    }

    // ---- values ----

    /// Any scalar's text: YAML writes `suite: 2024` or `name: 404` without quotes.
    fn string(&mut self, (key, node): Entry) -> Option<String> {
        match node {
            Node::Scalar(_) if node.is_null() => {
                self.error(key.span, format!("`{}` has no value", key.text), None);
                None
            }
            Node::Scalar(s) => Some(s.text.clone()),
            other => {
                let found = other.describe();
                self.error(other.span(), format!("`{}` must be a string, found {found}", key.text), None);
                None
            }
        }
    }

    fn string_list(&mut self, (key, node): Entry) -> Vec<String> {
        let Node::Sequence(list) = node else {
            let found = node.describe();
            let help = match node {
                Node::Scalar(s) => Some(format!("write `{}: [{}]`", key.text, s.text)),
                _ => None,
            };
            self.error(node.span(), format!("`{}` must be a list of strings, found {found}", key.text), help);
            return Vec::new();
        };
        list.items.iter().filter_map(|item| self.string((key, item))).collect()
    }

    fn boolean(&mut self, (key, node): Entry) -> Option<bool> {
        if let Some(Value::Bool(b)) = scalar_value_of(node) {
            return Some(b);
        }
        let found = node.describe();
        let span = if node.is_null() { key.span } else { node.span() };
        self.error(span, format!("`{}` must be `true` or `false`, found {found}", key.text), None);
        None
    }

    fn integer(&mut self, (key, node): Entry) -> Option<i64> {
        if let Some(Value::Number(n)) = scalar_value_of(node)
            && let Some(i) = n.as_i64()
        {
            return Some(i);
        }
        let found = node.describe();
        let span = if node.is_null() { key.span } else { node.span() };
        self.error(span, format!("`{}` must be a whole number, found {found}", key.text), None);
        None
    }

    /// A whole number of at least `min` (and at most `u32::MAX`).
    fn count(&mut self, (key, node): Entry, min: u32) -> Option<u32> {
        let value = self.integer((key, node))?;
        match u32::try_from(value) {
            Ok(n) if n >= min => Some(n),
            _ => {
                self.error(node.span(), format!("`{}` must be at least {min}, found {value}", key.text), None);
                None
            }
        }
    }

    fn identifier(&mut self, entry: Entry) -> Option<String> {
        let name = self.string(entry)?;
        if is_identifier(&name) {
            return Some(name);
        }
        self.error(
            entry.1.span(),
            format!("invalid variable name `{}`", shorten(&name)),
            Some("names are letters, digits and `_`, not starting with a digit".into()),
        );
        None
    }

    fn expr(&mut self, (key, node): Entry) -> Option<Expr> {
        match node {
            Node::Scalar(s) if !node.is_null() && !s.text.trim().is_empty() => {
                Some(Expr { text: s.text.clone(), span: s.span })
            }
            Node::Scalar(_) => {
                self.error(key.span, format!("`{}` has no expression", key.text), None);
                None
            }
            other => {
                let found = other.describe();
                self.error(
                    other.span(),
                    format!("`{}` must be an expression, found {found}", key.text),
                    Some("quote the expression if it contains `: ` or starts with `{` or `[`".into()),
                );
                None
            }
        }
    }

    fn duration(&mut self, (key, node): Entry) -> Option<Duration> {
        const HELP: &str =
            "write a number with a unit — `200ms`, `10s`, `1m30s`, `2h` — or a whole number of milliseconds";
        let parsed = match node {
            Node::Scalar(s) if !node.is_null() => match scalar_value(s) {
                Value::Number(n) => n.as_u64().map(Duration::from_millis).ok_or(()),
                _ => parse_duration(&s.text).ok_or(()),
            },
            _ => Err(()),
        };
        match parsed {
            Ok(duration) => Some(duration),
            Err(()) => {
                let span = if node.is_null() { key.span } else { node.span() };
                let message = match node {
                    Node::Scalar(s) if !node.is_null() => {
                        format!("invalid duration `{}` for `{}`", shorten(&s.text), key.text)
                    }
                    other => format!("`{}` must be a duration, found {}", key.text, other.describe()),
                };
                self.error(span, message, Some(HELP.into()));
                None
            }
        }
    }

    /// A duration that must not be zero: a zero deadline would fail everything at once.
    fn timeout(&mut self, entry: Entry) -> Option<Duration> {
        let duration = self.duration(entry)?;
        if duration.is_zero() {
            self.error(entry.1.span(), format!("`{}` must be longer than zero", entry.0.text), None);
            return None;
        }
        Some(duration)
    }

    fn env(&mut self, (key, node): Entry) -> Vec<Variable> {
        let Node::Mapping(map) = node else {
            let found = node.describe();
            self.error(
                node.span(),
                format!("`{}` must be a mapping of variables, found {found}", key.text),
                Some("write `env: { BASE_URL: http://127.0.0.1:3000 }`".into()),
            );
            return Vec::new();
        };
        let mut variables = Vec::with_capacity(map.entries.len());
        for (name, value) in &map.entries {
            if !is_identifier(&name.text) {
                self.error(
                    name.span,
                    format!("invalid variable name `{}`", shorten(&name.text)),
                    Some("names are letters, digits and `_`, not starting with a digit, as in `${BASE_URL}`".into()),
                );
                continue;
            }
            let span = value.span();
            variables.push(Variable { name: name.text.clone(), value: value.to_spanned_value().value, span });
        }
        variables
    }
}

const FOR_EACH_HELP: &str = "iterate over a list (`[a, b]`), a reference to one (`${users.body.items}`), or a \
                             range (`{ from: 1, to: 5 }`)";
const RANGE_HELP: &str = "write `{ from: 1, to: 5 }` (both ends included)";

/// The value of `key` in `map`, unless absent or null: an optional key written with no value
/// (`description:`) is treated as not written.
fn value_of<'m>(map: &'m Mapping, key: &str) -> Option<Entry<'m>> {
    map.get(key).filter(|(_, value)| !value.is_null())
}

/// Whether a string holds a `${…}` or `{{…}}` placeholder, to be resolved at run time.
fn is_template(text: &str) -> bool {
    text.contains("${") || text.contains("{{")
}

fn scalar_text(node: &Node) -> Option<&str> {
    match node {
        Node::Scalar(s) => Some(s.text.as_str()),
        _ => None,
    }
}

fn scalar_value_of(node: &Node) -> Option<Value> {
    match node {
        Node::Scalar(s) => Some(scalar_value(s)),
        _ => None,
    }
}

fn empty_flow(span: Span) -> Flow {
    Flow {
        name: String::new(),
        description: None,
        tags: Vec::new(),
        suite: None,
        env: Vec::new(),
        env_file: None,
        timeout: None,
        fail_fast: true,
        setup: Vec::new(),
        steps: Vec::new(),
        teardown: Vec::new(),
        span,
    }
}

fn quoted_list(words: &[&str]) -> String {
    words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
}

/// `[a-z0-9_-]{1,64}`.
fn is_step_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A valid step id close to an invalid one, to suggest: `Create User!` → `create_user`.
fn slug(id: &str) -> String {
    let mut slug = String::new();
    for c in id.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
            slug.push(c);
        } else if !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug: String = slug.trim_matches('_').chars().take(64).collect();
    if slug.is_empty() { "step_1".into() } else { slug }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a name templates can refer to.
fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses `name[.operation][@version]`, the name optionally `owner/name`. The version comes last
/// since it may contain dots itself (`kafka@0.3.2`).
pub(crate) fn parse_plugin_ref(text: &str, span: Span) -> Result<PluginRef, String> {
    let (path, version) = match text.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (text, None),
    };
    if let Some(version) = version
        && !is_version(version)
    {
        return Err(format!("`{version}` is not a version"));
    }
    let (name, operation) = match path.split_once('.') {
        Some((name, operation)) => (name, Some(operation)),
        None => (path, None),
    };
    let segment_ok = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    let name_ok = match name.split_once('/') {
        Some((owner, plugin)) => segment_ok(owner) && segment_ok(plugin),
        None => segment_ok(name),
    };
    if !name_ok {
        return Err(format!("`{name}` is not a plugin name (lower-case letters, digits, `_` and `-`)"));
    }
    if let Some(operation) = operation
        && (operation.is_empty()
            || operation.split('.').any(str::is_empty)
            || !operation.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'))
    {
        return Err(format!("`{operation}` is not an operation name"));
    }
    Ok(PluginRef {
        name: name.to_string(),
        version: version.map(str::to_string),
        operation: operation.map(str::to_string),
        span,
    })
}

/// `MAJOR[.MINOR[.PATCH]]` with an optional semver pre-release and build suffix.
fn is_version(version: &str) -> bool {
    let core_end = version.find(['-', '+']).unwrap_or(version.len());
    let (core, suffix) = version.split_at(core_end);
    let parts: Vec<&str> = core.split('.').collect();
    let core_ok =
        (1..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix.is_empty()
        || suffix[1..]
            .split(['.', '+'])
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    core_ok && suffix_ok
}

/// Parses a duration written as `200ms`, `10s`, `1m30s`, `1.5h` (units `ms`, `s`, `m`, `h`, in any
/// sequence), or as a bare whole number of milliseconds (`"500"`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().ok().map(Duration::from_millis);
    }
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let nanos_per_unit: f64 = match unit {
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let nanos = value * nanos_per_unit;
        // A deadline of centuries is a typo, and u64 nanoseconds overflow past ~584 years.
        if !nanos.is_finite() || nanos > 1e18 {
            return None;
        }
        total = total.checked_add(Duration::from_nanos(nanos.round() as u64))?;
        rest = after;
    }
    Some(total)
}

/// TestMesh's `action: assert` step (`config: {data, assertions: [...]}`): its `assertions` become
/// the step's own expression assertions (after any written under `assert`), judged against the
/// output of the built-in `assert` action, which is `data`.
fn testmesh_assert_step(kind: &mut StepKind, assert: &mut Vec<Assertion>) {
    let StepKind::Action { plugin, config } = kind else { return };
    if plugin.name != "assert" || plugin.operation.is_some() {
        return;
    }
    let Some(Value::Array(items)) = config.value.as_object_mut().and_then(|map| map.remove("assertions")) else {
        return;
    };
    for (i, item) in items.into_iter().enumerate() {
        if let Value::String(text) = item {
            let span = config.span_at(&format!("/assertions/{i}"));
            assert.push(Assertion::Expr { expr: Expr { text, span }, message: None });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_spelling() {
        assert_eq!(parse_duration("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h2m3s4ms"), Some(Duration::from_millis(3_723_004)));
        assert_eq!(parse_duration("500"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 5s "), Some(Duration::from_secs(5)));
        for bad in ["", "s", "10 s", "ten seconds", "10sec", "-5s", "1..5s", ".5s", "5.s", "1e3s", "99999999999h"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn plugin_references() {
        let at = Span::new(1, 1);
        let r = parse_plugin_ref("http_request", at).unwrap();
        assert_eq!((r.name.as_str(), r.operation, r.version), ("http_request", None, None));
        let r = parse_plugin_ref("redis.get", at).unwrap();
        assert_eq!((r.name.as_str(), r.operation.as_deref()), ("redis", Some("get")));
        let r = parse_plugin_ref("kafka.admin.topics", at).unwrap();
        assert_eq!(r.operation.as_deref(), Some("admin.topics"));
        let r = parse_plugin_ref("my_org/kafka@0.3.2", at).unwrap();
        assert_eq!((r.name.as_str(), r.version.as_deref()), ("my_org/kafka", Some("0.3.2")));
        let r = parse_plugin_ref("scraper.selectOne@1", at).unwrap();
        assert_eq!(r.to_string(), "scraper.selectOne@1");
        for bad in ["", "HTTP", "redis@1.get", "redis.", "a/b/c", "x@", "x@v1", "redis..get", "my org/x"] {
            assert!(parse_plugin_ref(bad, at).is_err(), "{bad:?}");
        }
        assert!(is_version("1.2.3-rc.1+build.5"));
    }

    #[test]
    fn ids_and_names() {
        assert!(is_step_id("create_user-2"));
        assert!(!is_step_id("Create"));
        assert!(!is_step_id(&"a".repeat(65)));
        assert_eq!(slug("Create User!"), "create_user");
        assert_eq!(slug("!!!"), "step_1");
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("a.b"));
    }
}
