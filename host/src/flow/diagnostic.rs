//! Problems found in a flow file, each pointing at a line and column, and their rendering in Hurl's
//! style (message, `--> file:line:column`, the source line with a caret, `= help: …`).
//!
//! A diagnostic carries the text of the line it points at, so it renders on its own — in the CLI, in
//! an API response, or in a log — without the file at hand.

use serde::Serialize;
use std::fmt;

/// How bad a [`Diagnostic`] is: an error rejects the flow, a warning only tells (for example that a
/// key TestMesh documents but never used is ignored here too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The flow cannot be used.
    Error,
    /// The flow is usable, but something in it has no effect or is likely a mistake.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in a flow file, located by 1-based line and column, so that people fix it without
/// hunting for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file name given to the parser (used only in messages).
    pub file: String,
    /// 1-based line of the offending token.
    pub line: u32,
    /// 1-based column (in characters) of the offending token.
    pub column: u32,
    /// What is wrong, in one sentence without a trailing period.
    pub message: String,
    /// How to fix it, when there is something better to say than the message.
    pub help: Option<String>,
    /// The text of line `line`, kept so that the diagnostic renders without the source at hand;
    /// `None` when the position is past the end of the text.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// Whether this diagnostic rejects the flow.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// Renders like Hurl (and rustc):
    ///
    /// ```text
    /// error: unknown key `stpes` in the flow
    ///   --> signup.yaml:4:3
    ///    |
    ///  4 |   stpes:
    ///    |   ^
    ///    |
    ///    = help: did you mean `steps`?
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len() + 1);
        writeln!(f, "{}: {}", self.severity, self.message)?;
        writeln!(f, "{pad}--> {}:{}:{}", self.file, self.line, self.column)?;
        writeln!(f, "{pad} |")?;
        let text = self.source_line.as_deref().unwrap_or("");
        if text.is_empty() {
            writeln!(f, " {number} |")?;
        } else {
            writeln!(f, " {number} | {text}")?;
        }
        // The caret goes under the column's character. Tabs before it are copied so that it lines up
        // whatever width the terminal gives a tab.
        let indent: String = text
            .chars()
            .chain(std::iter::repeat(' '))
            .take(self.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        writeln!(f, "{pad} | {indent}^")?;
        write!(f, "{pad} |")?;
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found in one flow file, in the order of their positions in the file.
///
/// Parsing collects them all instead of stopping at the first, so that one edit–check cycle fixes
/// many. `Display` renders each one, separated by blank lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Whether any of them is an error (warnings alone leave the flow usable).
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }

    /// The diagnostics as a plain list.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }
}

impl std::ops::Deref for Diagnostics {
    type Target = [Diagnostic];

    fn deref(&self) -> &[Diagnostic] {
        &self.0
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to a misspelt `word`, if one is close enough to be what was meant.
///
/// Jaro–Winkler weighs a shared prefix, which is how keys are usually mistyped (`stpes`, `asert`,
/// `timout`); the threshold keeps unrelated words out of the hint.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|candidate| (strsim::jaro_winkler(&word, candidate), *candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic(line: u32, column: u32, text: Option<&str>, help: Option<&str>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: "f.yaml".into(),
            line,
            column,
            message: "something is wrong".into(),
            help: help.map(Into::into),
            source_line: text.map(Into::into),
        }
    }

    #[test]
    fn renders_caret_under_the_column_with_help() {
        let rendered = diagnostic(4, 3, Some("  stpes:"), Some("did you mean `steps`?")).to_string();
        assert_eq!(
            rendered,
            "error: something is wrong\n  --> f.yaml:4:3\n   |\n 4 |   stpes:\n   |   ^\n   |\n   = help: did you mean `steps`?"
        );
    }

    #[test]
    fn gutter_grows_with_the_line_number() {
        let rendered = diagnostic(120, 1, Some("x: 1"), None).to_string();
        assert_eq!(rendered, "error: something is wrong\n    --> f.yaml:120:1\n     |\n 120 | x: 1\n     | ^\n     |");
    }

    #[test]
    fn caret_keeps_tabs_and_survives_missing_line() {
        let rendered = diagnostic(1, 3, Some("\t\tx"), None).to_string();
        assert!(rendered.contains("\n   | \t\t^\n"), "{rendered}");
        let rendered = diagnostic(9, 2, None, None).to_string();
        assert!(rendered.contains("\n 9 |\n   |  ^\n"), "{rendered}");
    }

    #[test]
    fn list_separates_diagnostics_and_sorts_out_severities() {
        let mut warning = diagnostic(1, 1, Some("a"), None);
        warning.severity = Severity::Warning;
        let list = Diagnostics(vec![diagnostic(1, 1, Some("a"), None), warning]);
        assert!(list.has_errors());
        assert_eq!(list.errors().count(), 1);
        assert_eq!(list.warnings().count(), 1);
        assert!(list.to_string().contains("|\n\nwarning: something is wrong\n"));
    }

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["steps", "setup", "teardown", "timeout", "assert"];
        assert_eq!(did_you_mean("stpes", &keys), Some("steps"));
        assert_eq!(did_you_mean("timout", &keys), Some("timeout"));
        assert_eq!(did_you_mean("asert", &keys), Some("assert"));
        assert_eq!(did_you_mean("Steps", &keys), Some("steps"));
        assert_eq!(did_you_mean("banana", &keys), None);
    }
}
