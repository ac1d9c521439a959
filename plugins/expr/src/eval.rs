//! Compiles expressions once per plugin instance and evaluates them against a step's subject.
//!
//! The host reuses an instance for the calls of one run, so the compiled programs are kept in a
//! thread-local cache keyed by source text: a step polled twenty times, or one inside a loop,
//! compiles its expressions once.

use crate::translate::{self, Expr};
use crate::values;
use cel::{Env, Program};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Past this many entries a cache is emptied rather than grown: flows have few distinct
/// expressions, so this only bounds memory in pathological runs.
const CACHE_LIMIT: usize = 1024;

/// An expression ready to run: its syntax tree (for failure reports) and its CEL program.
#[derive(Debug)]
pub struct Compiled {
    /// The expression as the flow wrote it.
    pub source: String,
    /// Its syntax tree, with spans into `source`.
    pub ast: Expr,
    /// The translated CEL program.
    pub program: Rc<Program>,
}

/// Why an expression could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// It does not parse.
    Parse(translate::ParseError),
    /// It parses but CEL rejects its translation.
    Cel {
        /// The translated CEL text.
        cel: String,
        /// CEL's error.
        message: String,
    },
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::Parse(e) => write!(f, "the expression does not parse: {e}"),
            CompileError::Cel { cel, message } => write!(f, "CEL rejects the expression (as `{cel}`): {message}"),
        }
    }
}

struct Cache {
    env: Arc<Env>,
    expressions: HashMap<String, Rc<Compiled>>,
    programs: HashMap<String, Rc<Program>>,
}

impl Cache {
    fn program(&mut self, cel: &str) -> Result<Rc<Program>, String> {
        if let Some(program) = self.programs.get(cel) {
            return Ok(Rc::clone(program));
        }
        let program = Rc::new(self.env.compile(cel).map_err(|e| e.to_string())?);
        if self.programs.len() >= CACHE_LIMIT {
            self.programs.clear();
        }
        self.programs.insert(cel.to_string(), Rc::clone(&program));
        Ok(program)
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache {
        env: Arc::new(Env::stdlib()),
        expressions: HashMap::new(),
        programs: HashMap::new(),
    });
}

/// Compiles an expression (CEL or expr-lang spellings), or returns the cached result.
pub fn compile(source: &str) -> Result<Rc<Compiled>, CompileError> {
    CACHE.with_borrow_mut(|cache| {
        if let Some(compiled) = cache.expressions.get(source) {
            return Ok(Rc::clone(compiled));
        }
        let ast = translate::parse(source).map_err(CompileError::Parse)?;
        let cel = ast.to_cel();
        let program = cache.program(&cel).map_err(|message| CompileError::Cel { cel, message })?;
        let compiled = Rc::new(Compiled { source: source.to_string(), ast, program });
        if cache.expressions.len() >= CACHE_LIMIT {
            cache.expressions.clear();
        }
        cache.expressions.insert(source.to_string(), Rc::clone(&compiled));
        Ok(compiled)
    })
}

/// The variables an expression can see: the subject's top-level keys.
pub struct Scope {
    context: cel::Context<'static, 'static>,
}

impl Scope {
    /// Binds the top-level keys of `subject` that `programs` refer to (converting only those keeps
    /// unused parts of the subject, such as `steps`, out of the work).
    pub fn new<'a>(subject: &Json, programs: impl IntoIterator<Item = &'a Program>) -> Self {
        let env = CACHE.with_borrow(|cache| Arc::clone(&cache.env));
        let mut context = cel::Context::with_env(env);
        if let Json::Object(fields) = subject {
            let mut bound = std::collections::HashSet::new();
            for program in programs {
                for name in program.references().variables() {
                    if let Some(value) = fields.get(name).filter(|_| bound.insert(name.to_string())) {
                        context.add_variable_from_value(name, values::to_cel(value));
                    }
                }
            }
        }
        Scope { context }
    }

    /// Runs a compiled program.
    pub fn run(&self, program: &Program) -> Result<cel::Value, String> {
        program.execute(&self.context).map_err(|e| e.to_string())
    }

    /// Evaluates a part of an expression (an operand, for a failure report).
    pub fn evaluate(&self, expr: &Expr) -> Result<cel::Value, String> {
        let program = CACHE.with_borrow_mut(|cache| cache.program(&expr.to_cel()))?;
        self.run(&program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compiled_expressions_are_cached_by_source() {
        let first = compile("status == 200").map_err(|e| e.to_string());
        let second = compile("status == 200").map_err(|e| e.to_string());
        assert!(matches!((first, second), (Ok(a), Ok(b)) if Rc::ptr_eq(&a, &b)));
    }

    #[test]
    fn only_referenced_keys_are_bound() {
        let Ok(compiled) = compile("status == 200") else { panic!("does not compile") };
        let scope = Scope::new(&json!({"status": 200, "body": {}}), [compiled.program.as_ref()]);
        assert_eq!(scope.run(&compiled.program), Ok(cel::Value::Bool(true)));
        let Ok(body) = compile("body == {}") else { panic!("does not compile") };
        assert!(scope.run(&body.program).is_err());
    }

    #[test]
    fn long_and_chains_compile() {
        let source = vec!["status == 200"; 300].join(" && ");
        assert!(compile(&source).is_ok());
    }

    #[test]
    fn cel_rejections_are_compile_errors() {
        let error = compile("a.in == 1").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.starts_with("CEL rejects the expression (as `(a.in == 1)`)"), "{error}");
    }
}
