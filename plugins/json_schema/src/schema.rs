//! Compiles JSON Schemas (cached per instance) and validates values against them.

use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// How many errors a failure message lists; the rest are counted.
pub const MAX_LISTED: usize = 10;

/// Past this many schemas the cache is emptied rather than grown.
const CACHE_LIMIT: usize = 256;

thread_local! {
    /// Compiled validators keyed by the schema's JSON text: a schema checked in a loop or on every
    /// retry is compiled once per instance.
    static VALIDATORS: RefCell<HashMap<String, Rc<jsonschema::Validator>>> = RefCell::new(HashMap::new());
}

/// Why a schema could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSchema {
    /// JSON Pointer into the schema where the problem is (empty for the schema itself).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Compiles `schema` (draft detected from `$schema`, 2020-12 by default; `format` is asserted), or
/// returns the cached validator.
pub fn compile(schema: &Value) -> Result<Rc<jsonschema::Validator>, InvalidSchema> {
    if !schema.is_object() && !schema.is_boolean() {
        return Err(InvalidSchema {
            pointer: String::new(),
            message: "a JSON Schema must be an object or a boolean".to_string(),
        });
    }
    let key = schema.to_string();
    if let Some(validator) = VALIDATORS.with_borrow(|cache| cache.get(&key).cloned()) {
        return Ok(validator);
    }
    let validator = jsonschema::options().should_validate_formats(true).build(schema).map_err(|e| InvalidSchema {
        pointer: e.instance_path().as_str().to_string(),
        message: format!("not a valid JSON Schema: {e}"),
    })?;
    let validator = Rc::new(validator);
    VALIDATORS.with_borrow_mut(|cache| {
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, Rc::clone(&validator));
    });
    Ok(validator)
}

/// The ways `value` breaks the schema: up to [`MAX_LISTED`] lines such as
/// `/id: "x" is not of type "integer"`, and how many more there are.
pub fn violations(validator: &jsonschema::Validator, value: &Value) -> (Vec<String>, usize) {
    let mut listed = Vec::new();
    let mut more = 0;
    for error in validator.iter_errors(value) {
        if listed.len() < MAX_LISTED {
            let location = match error.instance_path().as_str() {
                "" => "(root)".to_string(),
                pointer => pointer.to_string(),
            };
            listed.push(format!("{location}: {error}"));
        } else {
            more += 1;
        }
    }
    (listed, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validators_are_cached_by_schema_text() {
        let schema = json!({"type": "integer"});
        let (Ok(a), Ok(b)) = (compile(&schema), compile(&schema)) else { panic!("does not compile") };
        assert!(Rc::ptr_eq(&a, &b));
    }

    #[test]
    fn an_invalid_schema_points_at_the_problem() {
        let error = compile(&json!({"properties": {"id": {"type": "integr"}}})).err();
        let Some(InvalidSchema { pointer, message }) = error else { panic!("accepted") };
        assert_eq!(pointer, "/properties/id/type");
        assert!(message.starts_with("not a valid JSON Schema: "), "{message}");
        assert!(compile(&json!("string")).is_err());
    }

    #[test]
    fn violations_name_their_location_and_are_capped() {
        let Ok(validator) = compile(&json!({"items": {"type": "integer"}})) else { panic!("does not compile") };
        let (listed, more) = violations(&validator, &Value::Array(vec![json!("a"); 13]));
        assert_eq!(listed.len(), MAX_LISTED);
        assert_eq!(more, 3);
        assert_eq!(listed[0], r#"/0: "a" is not of type "integer""#);
        let Ok(validator) = compile(&json!({"type": "object"})) else { panic!("does not compile") };
        assert_eq!(violations(&validator, &json!(1)).0, [r#"(root): 1 is not of type "object""#]);
    }

    #[test]
    fn formats_are_asserted() {
        let Ok(validator) = compile(&json!({"format": "email"})) else { panic!("does not compile") };
        assert!(!validator.is_valid(&json!("not an email")));
        assert!(validator.is_valid(&json!("a@example.com")));
    }
}
