//! The names a run's templates and expressions see: variables (after precedence), captured values,
//! and the outputs of earlier steps — in frames, so that a `for_each` iteration or a `parallel`
//! branch has its own `item`, `index` and step outputs while it runs, and shares what it captured
//! with the steps after it once it is done.
//!
//! Resolution of `${first.rest…}`, innermost frame first: a variable or capture named `first`
//! (followed by `rest`), else a step `first` — its capture `rest[0]` first, then its action output's
//! field (TestMesh writes `${fetch_user.user_id}` for a capture). `steps.<id>…` names a step only.

use crate::flow::template::{self, PathSegment};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// What a finished step left for later steps.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepData {
    /// Its action output (for a control step, what it produced: a sub-flow's outputs).
    pub output: Arc<Value>,
    /// Its captures.
    pub captures: Map<String, Value>,
}

impl StepData {
    /// The step as `steps.<id>` shows it: its output's fields with the captures laid over them.
    pub fn view(&self) -> Value {
        if self.captures.is_empty() {
            return (*self.output).clone();
        }
        let mut view = match &*self.output {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        view.extend(self.captures.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(view)
    }

    fn lookup(&self, rest: &[PathSegment]) -> Option<Value> {
        let Some((first, tail)) = rest.split_first() else { return Some(self.view()) };
        if let PathSegment::Key(name) = first
            && let Some(captured) = self.captures.get(name)
        {
            return template::lookup(captured, tail).cloned();
        }
        template::lookup(&self.output, rest).cloned()
    }
}

#[derive(Default)]
struct Contents {
    vars: Map<String, Value>,
    /// The captures recorded in this frame (also in `vars`): a (sub-)flow's outputs.
    captured: Map<String, Value>,
    steps: HashMap<String, Arc<StepData>>,
}

/// One level of names: the run's (or a sub-flow's) root, or an iteration or branch inside it.
pub(crate) struct Frame {
    parent: Option<Arc<Frame>>,
    /// Names bound for this frame only and never handed up (`item`, `index`).
    locals: Map<String, Value>,
    contents: Mutex<Contents>,
}

impl Frame {
    /// A root frame over the run's variables.
    pub fn root(vars: Map<String, Value>) -> Arc<Frame> {
        Arc::new(Frame {
            parent: None,
            locals: Map::new(),
            contents: Mutex::new(Contents { vars, ..Default::default() }),
        })
    }

    /// A frame inside `parent`, with `locals` bound.
    pub fn child(parent: &Arc<Frame>, locals: Map<String, Value>) -> Arc<Frame> {
        Arc::new(Frame { parent: Some(parent.clone()), locals, contents: Mutex::default() })
    }

    fn contents(&self) -> MutexGuard<'_, Contents> {
        // A panic while holding this lock would be a bug in plain map code; carry on with the data.
        self.contents.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a finished step: its output and captures; the captures become variables too.
    pub fn record_step(&self, id: &str, data: StepData) {
        let mut contents = self.contents();
        for (name, value) in &data.captures {
            contents.vars.insert(name.clone(), value.clone());
            contents.captured.insert(name.clone(), value.clone());
        }
        contents.steps.insert(id.to_string(), Arc::new(data));
    }

    /// Hands what this frame captured and recorded up to its parent (an iteration or branch that
    /// finished), so that the steps after the control step see it.
    pub fn merge_into_parent(&self) {
        let Some(parent) = &self.parent else { return };
        let contents = std::mem::take(&mut *self.contents());
        let mut target = parent.contents();
        target.vars.extend(contents.vars);
        target.captured.extend(contents.captured);
        target.steps.extend(contents.steps);
    }

    /// The values captured in this frame (and merged into it): a flow's outputs.
    pub fn captured(&self) -> Map<String, Value> {
        self.contents().captured.clone()
    }

    /// A step recorded in this frame or an outer one.
    pub fn step(&self, id: &str) -> Option<Arc<StepData>> {
        let mut frame = Some(self);
        while let Some(current) = frame {
            if let Some(data) = current.contents().steps.get(id) {
                return Some(data.clone());
            }
            frame = current.parent.as_deref();
        }
        None
    }

    /// Every recorded step id visible from here.
    pub fn step_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let mut frame = Some(self);
        while let Some(current) = frame {
            ids.extend(current.contents().steps.keys().cloned());
            frame = current.parent.as_deref();
        }
        ids
    }

    /// The value of a top-level name as an expression sees it (a variable, a capture, a local, or a
    /// step's view), innermost first.
    pub fn value_of(&self, name: &str) -> Option<Value> {
        self.resolve_path(&[PathSegment::Key(name.to_string())])
    }

    fn resolve_path(&self, path: &[PathSegment]) -> Option<Value> {
        let (PathSegment::Key(first), rest) = path.split_first()? else { return None };
        if first == "steps"
            && let Some((PathSegment::Key(id), tail)) = rest.split_first()
            && let Some(step) = self.step(id)
        {
            return step.lookup(tail);
        }
        let mut frame = Some(self);
        while let Some(current) = frame {
            if let Some(value) = current.locals.get(first) {
                return template::lookup(value, rest).cloned();
            }
            let contents = current.contents();
            if let Some(found) = contents.vars.get(first).and_then(|value| template::lookup(value, rest)) {
                return Some(found.clone());
            }
            if let Some(step) = contents.steps.get(first)
                && let Some(found) = step.lookup(rest)
            {
                return Some(found);
            }
            drop(contents);
            frame = current.parent.as_deref();
        }
        None
    }
}

impl template::Scope for Frame {
    fn resolve(&self, path: &[PathSegment]) -> Option<Value> {
        self.resolve_path(path)
    }

    fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut frame = Some(self);
        while let Some(current) = frame {
            names.extend(current.locals.keys().cloned());
            let contents = current.contents();
            names.extend(contents.vars.keys().cloned());
            names.extend(contents.steps.keys().cloned());
            drop(contents);
            frame = current.parent.as_deref();
        }
        names.push("steps".into());
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::template::Scope;
    use serde_json::json;

    fn key(path: &str) -> Vec<PathSegment> {
        path.split('.').map(|s| PathSegment::Key(s.to_string())).collect()
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_steps_capture_wins_over_its_output_field() {
        let root = Frame::root(Map::new());
        let captures = object(json!({"user_id": "captured"}));
        let output = Arc::new(json!({"user_id": "raw", "body": {"id": 7}}));
        root.record_step("create", StepData { output, captures });
        assert_eq!(root.resolve(&key("create.user_id")), Some(json!("captured")));
        assert_eq!(root.resolve(&key("create.body.id")), Some(json!(7)));
        assert_eq!(root.resolve(&key("steps.create.body.id")), Some(json!(7)));
        assert_eq!(root.resolve(&key("user_id")), Some(json!("captured")), "a capture is a variable too");
        assert_eq!(root.resolve(&key("create.nothing")), None);
    }

    #[test]
    fn inner_frames_shadow_and_hand_captures_up_when_merged() {
        let root = Frame::root(object(json!({"item": "outer", "base": "b"})));
        let child = Frame::child(&root, object(json!({"item": 1, "index": 0})));
        assert_eq!(child.resolve(&key("item")), Some(json!(1)));
        assert_eq!(child.resolve(&key("base")), Some(json!("b")));
        child.record_step(
            "get",
            StepData { output: Arc::new(json!({"status": 200})), captures: object(json!({"x": 5})) },
        );
        assert_eq!(root.resolve(&key("x")), None, "not visible outside before the merge");
        child.merge_into_parent();
        assert_eq!(root.resolve(&key("x")), Some(json!(5)));
        assert_eq!(root.resolve(&key("get.status")), Some(json!(200)));
        assert_eq!(root.resolve(&key("item")), Some(json!("outer")), "locals are not handed up");
    }
}
