//! Flows: the model of a test journey, read from YAML or JSON text with the source position of
//! everything in it, checked for structure, with problems reported as [`Diagnostic`]s that point at
//! the line and column (see `design/FLOW-FORMAT.md`).
//!
//! This module does no I/O: it takes text, and a file name only to quote in messages. Both our
//! spelling of the format and TestMesh's (the `flow:` wrapper, `action: for_each` with `config`,
//! `redis.get`, …) parse into the one [`Flow`] model.
//!
//! - [`parse_flow`] is the entry point: a [`Flow`], or every error found.
//! - [`check_flow`] also returns the warnings (keys accepted but without effect), for `flow lint`.
//!
//! Submodules: `source` (text → positioned tree, YAML syntax errors), `parse` (tree → model and
//! structural checks), `model` (the types), `diagnostic` (problems and their rendering), and the
//! public [`template`] (`${…}` placeholders: checked here, rendered by the runner).

mod diagnostic;
mod lint;
mod model;
mod parse;
mod source;
pub mod template;

#[cfg(test)]
mod tests;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use model::{
    Assertion, Backoff, Capture, Expr, Flow, ForEachItems, OnError, PluginRef, RangeBound, Retry, Span, SpannedValue,
    Step, StepKind, Variable,
};
pub use parse::parse_duration;

/// Parses and checks a flow file's text; `file` is only quoted in diagnostics.
///
/// On failure, every problem found is returned (errors and warnings, in file order), not just the
/// first. On success, warnings are dropped: use [`check_flow`] to see them.
pub fn parse_flow(text: &str, file: &str) -> Result<Flow, Diagnostics> {
    match check_flow(text, file) {
        (Some(flow), _) => Ok(flow),
        (None, diagnostics) => Err(diagnostics),
    }
}

/// Parses and checks a flow file's text, returning the flow when there is no error, and every
/// diagnostic (errors and warnings) in file order either way.
pub fn check_flow(text: &str, file: &str) -> (Option<Flow>, Diagnostics) {
    let source = source::Source::new(text, file);
    let root = match source::load(text, &source) {
        Ok(root) => root,
        Err(diagnostic) => return (None, Diagnostics(vec![diagnostic])),
    };
    let (flow, mut diagnostics) = parse::parse(&root, &source);
    if !diagnostics.iter().any(Diagnostic::is_error) {
        diagnostics.extend(lint::check(&flow, &source));
    }
    diagnostics.sort_by_key(|d| (d.line, d.column));
    let diagnostics = Diagnostics(diagnostics);
    let flow = (!diagnostics.has_errors()).then_some(flow);
    (flow, diagnostics)
}

/// The path (`steps[1].config.url`) of the node of a flow's text that a diagnostic at `line` and
/// `column` points at — the deepest node starting at or before that position — so that an API
/// client gets a path besides the position. `None` when the text does not parse as YAML; `""` is
/// the document itself.
pub fn path_at(text: &str, line: u32, column: u32) -> Option<String> {
    let source = source::Source::new(text, "");
    let root = source::load(text, &source).ok()?;
    let target = Span::new(line, column);
    let mut path = String::new();
    let mut node = &root;
    loop {
        match node {
            source::Node::Mapping(mapping) => {
                let Some((key, value)) = mapping.entries.iter().rev().find(|(key, _)| key.span <= target) else {
                    return Some(path);
                };
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.text);
                if key.span == target {
                    return Some(path);
                }
                node = value;
            }
            source::Node::Sequence(sequence) => {
                let Some((index, item)) =
                    sequence.items.iter().enumerate().rev().find(|(_, item)| item.span() <= target)
                else {
                    return Some(path);
                };
                path.push_str(&format!("[{index}]"));
                node = item;
            }
            source::Node::Scalar(_) => return Some(path),
        }
    }
}
