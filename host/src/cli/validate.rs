//! `testmesh validate <files|dirs>`: checks flow files without running them and prints every problem
//! with its file, line and column. Exit code 0 when all are valid (warnings allowed), 2 otherwise.
//!
//! Today it checks the structure of flows; checking configs against plugin schemas, expressions and
//! `${…}` references arrives with the runner.

use crate::flow::check_flow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Validates every flow file named or found under a named directory.
pub(crate) fn run(paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let files = collect(paths)?;
    if files.is_empty() {
        anyhow::bail!("no flow files (*.yaml, *.yml, *.json) in {}", describe(paths));
    }
    let (mut invalid, mut warnings) = (0, 0);
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        let (flow, diagnostics) = check_flow(&text, &file.display().to_string());
        warnings += diagnostics.warnings().count();
        if !diagnostics.0.is_empty() {
            eprintln!("{diagnostics}");
        }
        match flow {
            Some(flow) => println!("ok    {} ({}, {} steps)", file.display(), flow.name, flow.steps.len()),
            None => {
                invalid += 1;
                println!("error {}", file.display());
            }
        }
    }
    println!("{} files, {} valid, {invalid} invalid, {warnings} warnings", files.len(), files.len() - invalid);
    Ok(if invalid == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// The files named, plus flow files under the directories named (recursively, sorted).
pub(crate) fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files)?;
        } else if path.exists() {
            files.push(path.clone());
        } else {
            anyhow::bail!("{} does not exist", path.display());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json") {
            files.push(path);
        }
    }
    Ok(())
}

fn describe(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
