//! `testmesh validate <files|dirs>`: checks flow files without running them and prints every problem
//! with its file, line and column. Exit code 0 when all are valid (warnings allowed), 2 otherwise.
//!
//! It checks the structure, expressions, templates and captures of every flow, that every plugin it
//! names is installed (the built-ins, plus `--plugin` files), and every action's config against its
//! plugin's schema.

use crate::flow::{Diagnostics, check_flow};
use crate::runner::{FileLoader, Registry, check_configs, check_plugins, check_sub_flows};
use crate::sandbox::Grants;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Validates every flow file named or found under a named directory.
pub(crate) async fn run(paths: &[PathBuf], plugins: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let files = collect(paths)?;
    if files.is_empty() {
        anyhow::bail!("no flow files (*.yaml, *.yml, *.json) in {}", describe(paths));
    }
    let registry = registry(plugins).await?;
    let (mut invalid, mut warnings) = (0, 0);
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        let name = file.display().to_string();
        let (mut flow, mut diagnostics) = check_flow(&text, &name);
        if let Some(checked) = &flow {
            let mut found = check_plugins(checked, &registry, &text, &name);
            found.extend(check_configs(checked, &registry, &text, &name).await);
            found.extend(check_sub_flows(checked, &FileLoader, Some(&name), &text, &name));
            if !found.is_empty() {
                flow = None;
                found.extend(diagnostics.0);
                found.sort_by_key(|d| (d.line, d.column));
                diagnostics = Diagnostics(found);
            }
        }
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

/// The built-in plugins and the `--plugin` files, which flows may name.
pub(crate) async fn registry(plugins: &[PathBuf]) -> anyhow::Result<Registry> {
    let sandbox = super::local_sandbox()?;
    let mut registry = Registry::with_builtins(sandbox.clone(), Grants::local_development());
    for path in plugins {
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read plugin {}: {e}", path.display()))?;
        let plugin = sandbox.load(&bytes).await.map_err(|e| anyhow::anyhow!("plugin {}: {e}", path.display()))?;
        registry.add(plugin, Grants::default());
    }
    Ok(registry)
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
