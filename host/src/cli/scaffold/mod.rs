//! `testmesh plugin new`: writes a plugin project in Rust, JavaScript or Python that builds as it is
//! and passes its own test flow — the shortest path from nothing to a plugin in a flow.
//!
//! The templates live next to this file; the WIT contract, the JavaScript build shim and the Python
//! toolchain pin are the very files the repository's own examples use, so a generated project and
//! the examples cannot drift apart.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// The languages a project can be generated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Language {
    /// wit-bindgen, target wasm32-wasip2.
    Rust,
    /// jco componentize (componentize-js).
    Js,
    /// componentize-py.
    Python,
}

/// Which world the plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// Performs an operation and returns its output.
    Action,
    /// Judges a step's output.
    Assertion,
}

impl Kind {
    fn world(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Assertion => "assertion",
        }
    }
}

/// What `plugin new` was asked for.
#[derive(Debug, clap::Args)]
pub(crate) struct NewArgs {
    /// The plugin's name as flows use it: lower-case letters, digits, `_` and `-`, with an optional
    /// `namespace/` (`acme/greet`).
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Language,
    /// Its world.
    #[arg(long, value_enum, default_value = "action")]
    kind: Kind,
    /// Where to write the project (default: the name without its namespace, in the current directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const WIT: &str = include_str!("../../../../wit/plugin.wit");
const JS_PREOPEN: &str = include_str!("../../../../plugins/examples/js/preopen.mjs");
const PY_REQUIREMENTS: &str = include_str!("../../../../plugins/examples/python/requirements.txt");

/// One file of a generated project.
struct File {
    path: String,
    text: String,
    executable: bool,
}

/// Writes the project and prints how to build and test it.
pub(crate) fn new_plugin(args: &NewArgs) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let short = args.name.rsplit('/').next().unwrap_or(&args.name);
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(short));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty; pick another --dir", dir.display());
    }
    let project = Project::new(&args.name, args.lang, args.kind);
    for file in project.files() {
        write(&dir, &file)?;
    }
    println!("created {} ({} {} in {})", dir.display(), args.name, args.kind.world(), project.language_name());
    println!();
    println!("  cd {}", dir.display());
    for line in project.build_commands() {
        println!("  {line}");
    }
    println!("  testmesh run test.yaml --plugin {}", project.artifact());
    Ok(())
}

/// Flow names for plugins follow the WIT's rule for `descriptor.name`.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid_part = |part: &str| {
        part.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    let valid = match name.split_once('/') {
        Some((namespace, rest)) => valid_part(namespace) && valid_part(rest),
        None => valid_part(name),
    };
    if !valid {
        bail!(
            "`{name}` is not a plugin name: use lower-case letters, digits, `_` and `-`, starting with a letter, \
             with an optional `namespace/` (`acme/greet`)"
        );
    }
    Ok(())
}

fn write(dir: &Path, file: &File) -> anyhow::Result<()> {
    let path = dir.join(&file.path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, &file.text).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    if file.executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", path.display()))?;
    }
    Ok(())
}

/// A project to generate: its name, language and world.
struct Project {
    name: String,
    /// A package name for Cargo and npm (`acme-greet`).
    package: String,
    language: Language,
    kind: Kind,
}

impl Project {
    fn new(name: &str, language: Language, kind: Kind) -> Self {
        Project { name: name.to_string(), package: name.replace(['/', '_'], "-"), language, kind }
    }

    fn language_name(&self) -> &'static str {
        match self.language {
            Language::Rust => "Rust",
            Language::Js => "JavaScript",
            Language::Python => "Python",
        }
    }

    fn build_commands(&self) -> Vec<&'static str> {
        match self.language {
            Language::Rust => vec!["rustup target add wasm32-wasip2", "cargo build --release --target wasm32-wasip2"],
            Language::Js => vec!["npm install", "npm run build"],
            Language::Python => vec!["./build.sh"],
        }
    }

    /// The built component, relative to the project.
    fn artifact(&self) -> String {
        match self.language {
            Language::Rust => format!("target/wasm32-wasip2/release/{}.wasm", self.package.replace('-', "_")),
            Language::Js | Language::Python => "plugin.wasm".into(),
        }
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{{name}}", &self.name)
            .replace("{{package}}", &self.package)
            .replace("{{kind}}", self.kind.world())
            .replace("{{language}}", self.language_name())
            .replace("{{artifact}}", &self.artifact())
            .replace("{{build}}", &self.build_commands().join("\n"))
    }

    fn file(&self, path: &str, template: &str) -> File {
        File { path: path.to_string(), text: self.fill(template), executable: false }
    }

    fn files(&self) -> Vec<File> {
        let action = self.kind == Kind::Action;
        let mut files = vec![
            File { path: "wit/plugin.wit".into(), text: WIT.into(), executable: false },
            self.file(
                "test.yaml",
                if action {
                    include_str!("templates/test_action.yaml")
                } else {
                    include_str!("templates/test_assertion.yaml")
                },
            ),
            self.file("README.md", include_str!("templates/README.md")),
        ];
        match self.language {
            Language::Rust => {
                files.push(self.file("Cargo.toml", include_str!("templates/rust_Cargo.toml")));
                files.push(self.file(
                    "src/lib.rs",
                    if action {
                        include_str!("templates/rust_action.rs")
                    } else {
                        include_str!("templates/rust_assertion.rs")
                    },
                ));
                files.push(self.file(".gitignore", "target/\n"));
            }
            Language::Js => {
                files.push(self.file("package.json", include_str!("templates/js_package.json")));
                files.push(File { path: "preopen.mjs".into(), text: JS_PREOPEN.into(), executable: false });
                files.push(self.file(
                    "plugin.js",
                    if action {
                        include_str!("templates/js_action.js")
                    } else {
                        include_str!("templates/js_assertion.js")
                    },
                ));
                files.push(self.file(".gitignore", "node_modules/\nplugin.wasm\n"));
            }
            Language::Python => {
                files.push(File { path: "requirements.txt".into(), text: PY_REQUIREMENTS.into(), executable: false });
                files.push(self.file(
                    "app.py",
                    if action {
                        include_str!("templates/py_action.py")
                    } else {
                        include_str!("templates/py_assertion.py")
                    },
                ));
                files.push(File { executable: true, ..self.file("build.sh", include_str!("templates/py_build.sh")) });
                files.push(self.file(".gitignore", ".venv/\n__pycache__/\nplugin.wasm\n"));
            }
        }
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_wit_rule() {
        for good in ["greet", "acme/greet", "acme-co/kafka_2", "a1"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Greet", "acme/", "/greet", "a/b/c", "1abc", "acme/gr eet", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_placeholder_is_filled_in_every_project() {
        for language in [Language::Rust, Language::Js, Language::Python] {
            for kind in [Kind::Action, Kind::Assertion] {
                let project = Project::new("acme/greet_all", language, kind);
                for file in project.files() {
                    assert!(!file.text.contains("{{"), "{:?} {:?} {}: {}", language, kind, file.path, file.text);
                    if ["test.yaml", "README.md", "src/lib.rs", "plugin.js", "app.py"].contains(&file.path.as_str()) {
                        assert!(file.text.contains("acme/greet_all"), "{} names the plugin", file.path);
                    }
                }
            }
        }
    }
}
