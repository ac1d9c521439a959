//! The flow model: what a flow file means once parsed and checked, with the source position of
//! everything that a later error (an unresolved `${…}`, a failed assertion, a missing plugin) may
//! point at.
//!
//! These types carry no behaviour; the runner gives them their meaning. The spellings they were
//! written in (TestMesh's `action: for_each` or ours `for_each:`, `config` or `with`) are gone by
//! now: one flow, one model.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A 1-based line and column (in characters) in a flow file, so that a problem found while running
/// can be shown in its source like a parse error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl Span {
    /// A position; `0:0` (the default) means "unknown".
    pub fn new(line: u32, column: u32) -> Self {
        Span { line, column }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A JSON value written in the flow (a step's `config`, a `with`, a literal list), with the position
/// of each node inside it, so that an error found in `config.json.name` while running points there.
///
/// Templates (`${…}`) are still plain strings here: interpolation is the runner's job.
#[derive(Clone, Default, PartialEq)]
pub struct SpannedValue {
    /// The value, typed as YAML's core schema reads it (`"12"` is a string, `12` a number).
    pub value: Value,
    /// Where the value itself starts.
    pub span: Span,
    /// Positions of the nodes inside, keyed by JSON pointer (RFC 6901) relative to `value`.
    spans: BTreeMap<String, Span>,
}

impl SpannedValue {
    pub(crate) fn new(value: Value, span: Span, spans: BTreeMap<String, Span>) -> Self {
        SpannedValue { value, span, spans }
    }

    /// An empty object, for a step written without `config`: plugins always receive an object.
    pub fn empty_object(span: Span) -> Self {
        SpannedValue { value: Value::Object(Default::default()), span, spans: BTreeMap::new() }
    }

    /// The position of the node at `pointer` (RFC 6901, e.g. `/json/name` or `/items/0`), or of its
    /// closest ancestor that has one (a node the runner built itself has no position of its own).
    pub fn span_at(&self, pointer: &str) -> Span {
        let mut pointer = pointer;
        loop {
            if let Some(span) = self.spans.get(pointer) {
                return *span;
            }
            match pointer.rfind('/') {
                Some(at) => pointer = &pointer[..at],
                None => return self.span,
            }
        }
    }
}

impl fmt::Debug for SpannedValue {
    /// The value as compact JSON and its position: the per-node positions are noise in a dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} @{}", self.value, self.span)
    }
}

/// An expression (CEL, with TestMesh's infix spellings) as written: `assert`, `when`, `if` and
/// `retry.until` hold one. It is compiled by the runner; here it is text and a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// The source text of the expression.
    pub text: String,
    /// Where it starts.
    pub span: Span,
}

/// One test journey: the unit that is stored, scheduled and run.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Required; how people and reports name the flow.
    pub name: String,
    /// Free text for people.
    pub description: Option<String>,
    /// Labels to select flows by (`testmesh run --tag`, `GET /flows?tags=`).
    pub tags: Vec<String>,
    /// Grouping of flows in reports and listings.
    pub suite: Option<String>,
    /// Flow variables, in file order (a later one may refer to an earlier one).
    pub env: Vec<Variable>,
    /// A `KEY=VALUE` file of variables, relative to the flow file; loaded by the runner.
    pub env_file: Option<String>,
    /// Deadline of the whole flow (setup and steps; teardown gets its own grace).
    pub timeout: Option<Duration>,
    /// Whether the main steps stop at the first failed step (default `true`).
    pub fail_fast: bool,
    /// Steps run before the main steps; their ids share one namespace with the main steps.
    pub setup: Vec<Step>,
    /// The main steps: at least one.
    pub steps: Vec<Step>,
    /// Steps that always run last, whatever happened; ids here are a namespace of their own, since
    /// TestMesh flows commonly repeat a setup clean-up step's id in teardown.
    pub teardown: Vec<Step>,
    /// Where the flow's mapping starts.
    pub span: Span,
}

/// One flow variable of `env`.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// The name templates use: `${NAME}`.
    pub name: String,
    /// Any JSON value; strings may hold templates, interpolated once when the run starts.
    pub value: Value,
    /// Where the value is written.
    pub span: Span,
}

/// One step of a flow, of any kind: what it does is [`StepKind`]; the rest is how the runner treats
/// it (whether, how often, how long, and what a failure means).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Unique within its namespace (setup and main steps; teardown). Written `[a-z0-9_-]{1,64}`;
    /// a step written without one gets `step_<n>` (`setup_<n>`, `teardown_<n>`, or
    /// `<parent id>_<n>` for nested steps), `n` counting from 1 in its list.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free text for people.
    pub description: Option<String>,
    /// What the step does.
    pub kind: StepKind,
    /// Checks of the step's output; all are evaluated and every failure is reported.
    pub assert: Vec<Assertion>,
    /// Values captured from the step's output: name → JSONPath, in file order.
    pub output: Vec<Capture>,
    /// When false, the step is skipped.
    pub when: Option<Expr>,
    /// Repetition until the step passes (or `until` holds).
    pub retry: Option<Retry>,
    /// Deadline of one attempt; enforced by interrupting the plugin call.
    pub timeout: Option<Duration>,
    /// What a failure of this step means for the flow.
    pub on_error: OnError,
    /// A disabled step is reported as skipped.
    pub disabled: bool,
    /// Where the step's mapping starts.
    pub span: Span,
}

/// What a step does: call a plugin, or one of the runner's own control steps, which hold steps that
/// really run.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Call an action plugin with a config.
    Action {
        /// Which plugin, version and operation (`redis.get`, `http_request@1`).
        plugin: PluginRef,
        /// The plugin's config (`config`, or its alias `with`); always an object.
        config: SpannedValue,
    },
    /// Run `steps` once per item.
    ForEach {
        /// What to iterate over.
        items: ForEachItems,
        /// The variable bound to the current item (default `item`).
        as_name: String,
        /// The variable bound to the current index, from 0 (default `index`).
        index_name: String,
        /// How many iterations may run at once (default 1: one after another).
        concurrency: u32,
        /// The steps of one iteration.
        steps: Vec<Step>,
    },
    /// Run branches of steps concurrently.
    Parallel {
        /// How many branches may run at once; `None` is all of them.
        max_concurrent: Option<u32>,
        /// Whether the first failed branch cancels the others (default `true`).
        fail_fast: bool,
        /// The branches; each runs its steps in order.
        branches: Vec<Vec<Step>>,
    },
    /// Run `then_steps` or `else_steps` depending on a condition.
    If {
        /// The condition.
        condition: Expr,
        /// Steps run when it holds.
        then_steps: Vec<Step>,
        /// Steps run when it does not.
        else_steps: Vec<Step>,
    },
    /// Run another flow as a step; its outputs become this step's outputs.
    RunFlow {
        /// The other flow: a stored flow's name or id, or a path in local runs.
        flow: String,
        /// Its input variables: an object, or a template string that must resolve to one
        /// (`input: ${scenario}`).
        with: SpannedValue,
    },
}

/// A reference to a plugin as written in `action` or in an assertion's `use`:
/// `name[.operation][@version]`, the name optionally prefixed by an owner (`my_org/kafka`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRef {
    /// The plugin's name, with its owner if any: `http_request`, `my_org/kafka`.
    pub name: String,
    /// A version pin (`1`, `0.3.2`); `None` takes the installed one.
    pub version: Option<String>,
    /// TestMesh's namespaced addressing: `redis.get` calls plugin `redis` with operation `get`.
    pub operation: Option<String>,
    /// Where the reference is written, for "plugin not installed" errors.
    pub span: Span,
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(operation) = &self.operation {
            write!(f, ".{operation}")?;
        }
        if let Some(version) = &self.version {
            write!(f, "@{version}")?;
        }
        Ok(())
    }
}

/// What a `for_each` iterates over.
#[derive(Debug, Clone, PartialEq)]
pub enum ForEachItems {
    /// A template that must resolve to a list at run time: `${users.body.items}`.
    Template(Expr),
    /// A list written in the flow.
    List(SpannedValue),
    /// The integers `from..=to` (both ends included, as TestMesh's `start`/`end`).
    Range {
        /// First value.
        from: RangeBound,
        /// Last value, included.
        to: RangeBound,
        /// Where the range is written.
        span: Span,
    },
}

/// One end of a `for_each` range: a number, or a template resolving to one at run time
/// (TestMesh flows write `end: ${input.taps}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeBound {
    /// A number written in the flow.
    Number(i64),
    /// A template such as `${input.taps}`.
    Template(Expr),
}

/// One check of a step's output.
#[derive(Debug, Clone, PartialEq)]
pub enum Assertion {
    /// An expression, checked by the built-in `expr` assertion plugin.
    Expr {
        /// The expression.
        expr: Expr,
        /// Shown instead of the expression when the check fails.
        message: Option<String>,
    },
    /// Any assertion plugin, with its config.
    Plugin {
        /// Which plugin (`use`).
        plugin: PluginRef,
        /// Its config (`with`); always an object.
        with: SpannedValue,
        /// Where the assertion is written.
        span: Span,
    },
}

impl Assertion {
    /// Where the assertion is written.
    pub fn span(&self) -> Span {
        match self {
            Assertion::Expr { expr, .. } => expr.span,
            Assertion::Plugin { span, .. } => *span,
        }
    }
}

/// One `output` entry: capture a value of the step's output under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// The name later steps use: `${name}` or `${step_id.name}`.
    pub name: String,
    /// An RFC 9535 JSONPath over the step's output (TestMesh's body-relative `$.id` works too).
    pub path: String,
    /// Where the path is written.
    pub span: Span,
}

/// How a step is repeated: after a failure, or until a condition holds (polling).
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// Attempts in all, the first included; at least 1 (default 3).
    pub max_attempts: u32,
    /// Pause before the second attempt (default 1s).
    pub delay: Duration,
    /// How the pause grows (default fixed).
    pub backoff: Backoff,
    /// Cap on the pause under exponential backoff.
    pub max_delay: Option<Duration>,
    /// Whether pauses are randomised (to spread load of many runs polling one service).
    pub jitter: bool,
    /// Repeat until this holds; `None` repeats until the step passes.
    pub until: Option<Expr>,
    /// Where `retry` is written.
    pub span: Span,
}

/// How the pause between attempts grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same pause every time.
    Fixed,
    /// Doubles after each attempt, up to `max_delay`.
    Exponential,
}

/// What a failed step means for the flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnError {
    /// The step's failure fails the flow (and, with `fail_fast`, stops the main steps).
    #[default]
    Fail,
    /// The step is recorded as failed, and the flow goes on as if it had passed.
    Continue,
}
