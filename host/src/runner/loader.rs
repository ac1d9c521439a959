//! Where a run finds what a flow names outside itself: the flows of `run_flow` and the files of
//! `env_file`. Local runs read files relative to the flow that names them; the server looks flows
//! up in its storage and has no files. The runner only sees this trait.

use crate::flow::{Flow, parse_flow};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A flow found by a [`FlowLoader`].
#[derive(Debug, Clone)]
pub struct LoadedFlow {
    /// The flow.
    pub flow: Arc<Flow>,
    /// Its identity, for cycle detection, for finding what it names in turn, and for reports: a
    /// file path in local runs, a stored flow's id on the server.
    pub origin: String,
}

/// Finds the flows and files a flow refers to.
pub trait FlowLoader: Send + Sync {
    /// The flow `reference` (as written in `run_flow`) names, seen from the flow whose origin is
    /// `from` (`None`: a flow without an origin, such as one given inline).
    fn load_flow(&self, reference: &str, from: Option<&str>) -> Result<LoadedFlow, String>;

    /// The text of the `env_file` `path`, seen from the flow whose origin is `from`.
    fn read_env_file(&self, path: &str, from: Option<&str>) -> Result<String, String>;
}

/// Reads flows and env files from the filesystem, relative to the directory of the flow that names
/// them (or the working directory). `run_flow: auth/login` finds `auth/login`, `auth/login.yaml`,
/// `auth/login.yml` or `auth/login.json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileLoader;

impl FileLoader {
    fn base(from: Option<&str>) -> PathBuf {
        from.and_then(|origin| Path::new(origin).parent().map(Path::to_path_buf)).unwrap_or_default()
    }
}

impl FlowLoader for FileLoader {
    fn load_flow(&self, reference: &str, from: Option<&str>) -> Result<LoadedFlow, String> {
        let base = Self::base(from).join(reference);
        let candidates =
            [base.clone(), base.with_extension("yaml"), base.with_extension("yml"), base.with_extension("json")];
        let Some(path) = candidates.iter().find(|p| p.is_file()) else {
            return Err(format!("flow `{reference}` not found (looked for {})", base.display()));
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let origin = path.display().to_string();
        let flow = parse_flow(&text, &origin)
            .map_err(|diagnostics| format!("flow `{reference}` ({origin}) is invalid:\n{diagnostics}"))?;
        Ok(LoadedFlow { flow: Arc::new(flow), origin })
    }

    fn read_env_file(&self, path: &str, from: Option<&str>) -> Result<String, String> {
        let full = Self::base(from).join(path);
        std::fs::read_to_string(&full).map_err(|e| format!("env_file {}: {e}", full.display()))
    }
}

/// A loader that finds nothing: for runs of a single flow that must not reach outside it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLoader;

impl FlowLoader for NoLoader {
    fn load_flow(&self, reference: &str, _from: Option<&str>) -> Result<LoadedFlow, String> {
        Err(format!("flow `{reference}` cannot be loaded: this run has no flow source"))
    }

    fn read_env_file(&self, path: &str, _from: Option<&str>) -> Result<String, String> {
        Err(format!("env_file `{path}` cannot be read: this run has no files"))
    }
}

/// Parses the text of an env file: `KEY=VALUE` lines, `#` comments, blank lines, an optional
/// `export ` prefix, values in single quotes (literal) or double quotes (with `\n`, `\"`, `\\`),
/// and ` #` comments after unquoted values. Returns the variables in file order, or the first bad
/// line's number and why.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", number + 1));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
            return Err(format!("line {}: `{key}` is not a variable name", number + 1));
        }
        let value = value.trim();
        let value = if let Some(inner) = value.strip_prefix('\'') {
            inner
                .strip_suffix('\'')
                .ok_or_else(|| format!("line {}: unterminated single quote", number + 1))?
                .to_string()
        } else if let Some(inner) = value.strip_prefix('"') {
            let inner =
                inner.strip_suffix('"').ok_or_else(|| format!("line {}: unterminated double quote", number + 1))?;
            unescape(inner)
        } else {
            match value.find(" #") {
                Some(at) => value[..at].trim_end().to_string(),
                None => value.to_string(),
            }
        };
        vars.push((key.to_string(), value));
    }
    Ok(vars)
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_env_file;

    #[test]
    fn env_files_read_like_dotenv() {
        let text = "# comment\n\nexport A=1\nB = two words # note\nC='lit # ${x}'\nD=\"line\\nnext \\\"q\\\"\"\nE=\n";
        let vars = parse_env_file(text).unwrap();
        let expected = [("A", "1"), ("B", "two words"), ("C", "lit # ${x}"), ("D", "line\nnext \"q\""), ("E", "")];
        let expected: Vec<(String, String)> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(vars, expected);
    }

    #[test]
    fn a_bad_line_is_named() {
        assert_eq!(parse_env_file("A=1\nnot a pair\n"), Err("line 2: expected KEY=VALUE".to_string()));
        assert_eq!(parse_env_file("A='open\n"), Err("line 1: unterminated single quote".to_string()));
    }
}
