//! Tests of the whole `flow` front end: flows in every spelling parse into the expected model, and bad
//! flows give the diagnostics pinned in `snapshots/` (rendered as a person reads them).

use super::*;
use serde_json::json;
use std::time::Duration;

fn parse(text: &str) -> Flow {
    match parse_flow(text, "flow.yaml") {
        Ok(flow) => flow,
        Err(diagnostics) => panic!("expected the flow to parse:\n{diagnostics}"),
    }
}

fn rendered_errors(text: &str) -> String {
    match parse_flow(text, "flows/bad.yaml") {
        Ok(flow) => panic!("expected errors, parsed {flow:?}"),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

fn step<'f>(steps: &'f [Step], id: &str) -> &'f Step {
    steps.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("no step `{id}` in {steps:#?}"))
}

const FULL_FLOW: &str = r#"flow:
  name: user signup
  description: signs a user up and checks everything
  tags: [smoke, users]
  suite: accounts
  env:
    BASE: http://127.0.0.1:3000
    RETRIES: 3
  env_file: .env.test
  timeout: 1m30s
  fail_fast: false
  setup:
    - id: reset
      action: database_query
      with:
        query: DELETE FROM users
  steps:
    - id: create_user
      name: Create a user
      action: http_request@1
      config:
        method: POST
        url: ${BASE}/users
        json: { name: alice }
      assert:
        - status == 201
        - body.email.endsWith("@example.com")
        - { expr: "duration_ms < 500", message: "too slow" }
        - { use: json_schema, with: { schema: { type: object, required: [id] } } }
      output:
        user_id: $.body.id
        email: $.body.email
      when: BASE != ""
      retry:
        max_attempts: 10
        delay: 200ms
        backoff: exponential
        max_delay: 5s
        jitter: true
        until: status == 200
      timeout: 10s
      on_error: continue
    - id: old_check
      action: my_org/kafka@0.3.2
      disabled: true
    - id: each_user
      for_each: ${users.body.items}
      as: user
      concurrency: 4
      steps:
        - action: log
          config: { message: "${user.name}" }
    - id: numbers
      for_each: { from: 1, to: 5 }
      steps:
        - action: delay
          config: { duration: 10ms }
    - id: literal
      for_each: [a, b]
      steps:
        - action: log
    - id: both
      parallel: { max_concurrent: 2, fail_fast: true }
      branches:
        - steps:
            - id: left
              action: log
        - steps:
            - id: right
              action: log
    - id: maybe
      if: status == 404
      then:
        - id: create_again
          action: http_request
      else:
        - id: carry_on
          action: log
    - id: login
      run_flow: auth/login
      with: { user: alice }
      output:
        token: $.token
  teardown:
    - id: reset
      action: database_query
      config:
        query: DELETE FROM users
"#;

#[test]
fn full_flow_uses_every_feature() {
    let flow = parse(FULL_FLOW);
    assert_eq!(flow.name, "user signup");
    assert_eq!(flow.description.as_deref(), Some("signs a user up and checks everything"));
    assert_eq!(flow.tags, ["smoke", "users"]);
    assert_eq!(flow.suite.as_deref(), Some("accounts"));
    let env: Vec<_> = flow.env.iter().map(|v| (v.name.as_str(), v.value.clone())).collect();
    assert_eq!(env, [("BASE", json!("http://127.0.0.1:3000")), ("RETRIES", json!(3))]);
    assert_eq!(flow.env[0].span, Span::new(7, 11));
    assert_eq!(flow.env_file.as_deref(), Some(".env.test"));
    assert_eq!(flow.timeout, Some(Duration::from_secs(90)));
    assert!(!flow.fail_fast);
    assert_eq!(flow.span, Span::new(1, 1));

    assert_eq!(flow.setup.len(), 1);
    assert_eq!(flow.teardown.len(), 1);
    assert_eq!(flow.teardown[0].id, "reset", "teardown may reuse a setup id");

    let create = step(&flow.steps, "create_user");
    assert_eq!(create.span, Span::new(18, 7));
    assert_eq!(create.name.as_deref(), Some("Create a user"));
    let StepKind::Action { plugin, config } = &create.kind else { panic!("{create:?}") };
    assert_eq!(
        (plugin.name.as_str(), plugin.version.as_deref(), plugin.span),
        ("http_request", Some("1"), Span::new(20, 15))
    );
    assert_eq!(config.value, json!({"method": "POST", "url": "${BASE}/users", "json": {"name": "alice"}}));
    assert_eq!(config.span_at("/url"), Span::new(23, 14));
    assert_eq!(config.span_at("/json/name"), Span::new(24, 23));
    assert_eq!(create.assert.len(), 4);
    assert!(
        matches!(&create.assert[0], Assertion::Expr { expr, message: None } if expr.text == "status == 201" && expr.span == Span::new(26, 11))
    );
    assert!(
        matches!(&create.assert[2], Assertion::Expr { expr, message: Some(m) } if expr.text == "duration_ms < 500" && m == "too slow")
    );
    let Assertion::Plugin { plugin, with, span } = &create.assert[3] else { panic!() };
    assert_eq!((plugin.name.as_str(), *span), ("json_schema", Span::new(29, 11)));
    assert_eq!(with.value, json!({"schema": {"type": "object", "required": ["id"]}}));
    let outputs: Vec<_> = create.output.iter().map(|c| (c.name.as_str(), c.path.as_str())).collect();
    assert_eq!(outputs, [("user_id", "$.body.id"), ("email", "$.body.email")]);
    assert_eq!(create.when.as_ref().map(|w| w.text.as_str()), Some("BASE != \"\""));
    let retry = create.retry.as_ref().unwrap();
    assert_eq!(retry.max_attempts, 10);
    assert_eq!(retry.delay, Duration::from_millis(200));
    assert_eq!(retry.backoff, Backoff::Exponential);
    assert_eq!(retry.max_delay, Some(Duration::from_secs(5)));
    assert!(retry.jitter);
    assert_eq!(retry.until.as_ref().map(|u| u.text.as_str()), Some("status == 200"));
    assert_eq!(create.timeout, Some(Duration::from_secs(10)));
    assert_eq!(create.on_error, OnError::Continue);
    assert!(!create.disabled);

    let old = step(&flow.steps, "old_check");
    assert!(old.disabled);
    assert!(
        matches!(&old.kind, StepKind::Action { plugin, config } if plugin.name == "my_org/kafka" && plugin.version.as_deref() == Some("0.3.2") && config.value == json!({}))
    );

    let each = step(&flow.steps, "each_user");
    let StepKind::ForEach { items, as_name, index_name, concurrency, steps } = &each.kind else { panic!() };
    assert!(matches!(items, ForEachItems::Template(e) if e.text == "${users.body.items}"));
    assert_eq!((as_name.as_str(), index_name.as_str(), *concurrency), ("user", "index", 4));
    assert_eq!(steps[0].id, "each_user_1", "nested steps default to <parent>_<n>");

    let numbers = step(&flow.steps, "numbers");
    assert!(
        matches!(&numbers.kind, StepKind::ForEach { items: ForEachItems::Range { from: RangeBound::Number(1), to: RangeBound::Number(5), .. }, as_name, concurrency: 1, .. } if as_name == "item")
    );
    let literal = step(&flow.steps, "literal");
    assert!(
        matches!(&literal.kind, StepKind::ForEach { items: ForEachItems::List(list), .. } if list.value == json!(["a", "b"]))
    );

    let both = step(&flow.steps, "both");
    let StepKind::Parallel { max_concurrent, fail_fast, branches } = &both.kind else { panic!() };
    assert_eq!((*max_concurrent, *fail_fast), (Some(2), true));
    let branch_ids: Vec<Vec<&str>> = branches.iter().map(|b| b.iter().map(|s| s.id.as_str()).collect()).collect();
    assert_eq!(branch_ids, [["left"], ["right"]]);

    let maybe = step(&flow.steps, "maybe");
    let StepKind::If { condition, then_steps, else_steps } = &maybe.kind else { panic!() };
    assert_eq!(condition.text, "status == 404");
    assert_eq!((then_steps[0].id.as_str(), else_steps[0].id.as_str()), ("create_again", "carry_on"));

    let login = step(&flow.steps, "login");
    assert!(
        matches!(&login.kind, StepKind::RunFlow { flow, with } if flow == "auth/login" && with.value == json!({"user": "alice"}))
    );
    assert_eq!(login.output[0].name, "token");
}

#[test]
fn full_flow_model_is_pinned() {
    insta::assert_debug_snapshot!("full_flow_model", parse(FULL_FLOW));
}

/// A flow as TestMesh writes them: `flow:` wrapper, `config`, `output`, its control actions,
/// namespaced plugin actions, `on_error` as a string and as an object, and keys it ignores.
const TESTMESH_FLOW: &str = r#"flow:
  name: "Order journey"
  description: "Create a user, order, check the cache"
  suite: orders
  tags: ["e2e"]
  env_file: ../../.env.test
  env:
    ORDER_URL: "http://localhost:5003"
  collection: demo
  config:
    timeout: "5m"
    fail_fast: false
  setup:
    - id: cleanup
      action: database_query
      config:
        connection: "${DB_URL}"
        query: "DELETE FROM users WHERE email = $1"
        params: ["e2e@example.com"]
  steps:
    - id: create_user
      name: "Create user"
      action: http_request
      config:
        method: POST
        url: "${USER_SERVICE_URL}/users"
        body:
          email: "e2e@example.com"
          quantity: "{{qty}}"
      assert:
        - status == 201
        - body.id != ""
      output:
        user_id: "$.body.id"
    - id: cached
      action: redis.get
      config:
        host: localhost
        port: 6379
        key: "user:{{user_id}}"
      assert:
        - exists == true
      on_error: continue
    - id: each_tap
      action: for_each
      config:
        items: ["a", "b"]
        item_name: tap
        steps:
          - id: publish
            action: kafka_publish
            config:
              topic: taps
              payload: "${tap}"
    - id: taps_by_range
      action: for_each
      config:
        range:
          start: 1
          end: "${input.taps}"
        item_name: n
        index_name: i
        steps:
          - action: delay
            config:
              duration: 100ms
    - id: fire_both
      action: parallel
      config:
        max_concurrent: 0
        fail_fast: false
        branches:
          - steps:
              - id: request_a
                action: http_request
                config: { method: GET, url: "${ORDER_URL}/a" }
          - steps:
              - id: request_b
                action: http_request
                config: { method: GET, url: "${ORDER_URL}/b" }
    - id: check
      action: condition
      config:
        condition: "1 == 1"
    - id: child
      action: run_flow
      config:
        flow: "fare-test-template"
        input:
          card: "4111"
      output:
        status: "flow.status"
      on_error:
        action: continue
    - id: child_from_item
      action: run_flow
      config:
        flow: "fare-test-template"
        input: "${scenario}"
    - id: echo_items
      action: for_each
      config:
        items: [1, 2]
    - id: standalone
      action: assert
      config:
        data: { a: 1 }
        assertions: ["a == 1"]
  teardown:
    - id: cleanup
      action: database_query
      config:
        connection: "${DB_URL}"
        query: "DELETE FROM users WHERE email = $1"
        params: ["e2e@example.com"]
"#;

#[test]
fn testmesh_flow_parses_unchanged() {
    let (flow, diagnostics) = check_flow(TESTMESH_FLOW, "order.yaml");
    let flow = flow.unwrap_or_else(|| panic!("{diagnostics}"));
    let warnings: Vec<_> = diagnostics.warnings().map(|d| (d.line, d.message.as_str())).collect();
    assert_eq!(
        warnings,
        [(9, "`collection` in the flow is ignored"), (103, "this `for_each` has no `steps`: it only lists its items")]
    );

    assert_eq!(flow.name, "Order journey");
    assert_eq!(flow.timeout, Some(Duration::from_secs(300)), "config.timeout is the flow's timeout");
    assert!(!flow.fail_fast, "config.fail_fast is the flow's fail_fast");
    assert_eq!(flow.setup[0].id, "cleanup");
    assert_eq!(flow.teardown[0].id, "cleanup");

    let create = step(&flow.steps, "create_user");
    let StepKind::Action { config, .. } = &create.kind else { panic!() };
    assert_eq!(config.value["body"]["quantity"], json!("{{qty}}"));
    assert_eq!(create.output[0].path, "$.body.id");

    let cached = step(&flow.steps, "cached");
    let StepKind::Action { plugin, config } = &cached.kind else { panic!() };
    assert_eq!((plugin.name.as_str(), plugin.operation.as_deref()), ("redis", Some("get")));
    assert_eq!(config.value["port"], json!(6379));
    assert_eq!(cached.on_error, OnError::Continue);

    let each = step(&flow.steps, "each_tap");
    let StepKind::ForEach { items, as_name, steps, .. } = &each.kind else { panic!("{each:?}") };
    assert!(matches!(items, ForEachItems::List(list) if list.value == json!(["a", "b"])));
    assert_eq!((as_name.as_str(), steps[0].id.as_str()), ("tap", "publish"));

    let range = step(&flow.steps, "taps_by_range");
    let StepKind::ForEach { items, as_name, index_name, steps, .. } = &range.kind else { panic!() };
    assert!(
        matches!(items, ForEachItems::Range { from: RangeBound::Number(1), to: RangeBound::Template(end), .. } if end.text == "${input.taps}")
    );
    assert_eq!((as_name.as_str(), index_name.as_str()), ("n", "i"));
    assert_eq!(steps[0].id, "taps_by_range_1");

    let both = step(&flow.steps, "fire_both");
    let StepKind::Parallel { max_concurrent, fail_fast, branches } = &both.kind else { panic!() };
    assert_eq!((*max_concurrent, *fail_fast, branches.len()), (None, false, 2), "0 means unlimited, as in TestMesh");

    let check = step(&flow.steps, "check");
    assert!(
        matches!(&check.kind, StepKind::If { condition, then_steps, else_steps } if condition.text == "1 == 1" && then_steps.is_empty() && else_steps.is_empty())
    );

    let child = step(&flow.steps, "child");
    assert!(
        matches!(&child.kind, StepKind::RunFlow { flow, with } if flow == "fare-test-template" && with.value == json!({"card": "4111"}))
    );
    assert_eq!((child.output[0].path.as_str(), child.on_error), ("flow.status", OnError::Continue));

    let from_item = step(&flow.steps, "child_from_item");
    assert!(matches!(&from_item.kind, StepKind::RunFlow { with, .. } if with.value == json!("${scenario}")));
    let echo = step(&flow.steps, "echo_items");
    assert!(matches!(&echo.kind, StepKind::ForEach { steps, .. } if steps.is_empty()));

    let standalone = step(&flow.steps, "standalone");
    assert!(matches!(&standalone.kind, StepKind::Action { plugin, .. } if plugin.name == "assert"));
}

#[test]
fn bare_form_without_wrapper() {
    let flow = parse("name: bare\nsteps:\n  - action: log\n  - action: log\nsetup:\n  - action: log\n");
    assert_eq!(flow.name, "bare");
    let ids: Vec<_> = flow.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["step_1", "step_2"]);
    assert_eq!(flow.setup[0].id, "setup_1");
    assert!(flow.fail_fast, "fail_fast defaults to true");
}

#[test]
fn json_input() {
    let text = r#"{
	"flow": {
		"name": "json flow",
		"timeout": 2500,
		"steps": [
			{
				"id": "get",
				"action": "http_request",
				"with": {"method": "GET", "url": "http://x/", "retries": "3"},
				"assert": ["status == 200", {"expr": "body.ok", "message": "not ok"}],
				"retry": {"max_attempts": 2, "delay": "1s"}
			}
		]
	}
}"#;
    let flow = parse(text);
    assert_eq!(flow.timeout, Some(Duration::from_millis(2500)), "a bare number is milliseconds");
    let get = &flow.steps[0];
    assert_eq!(get.span, Span::new(6, 4));
    let StepKind::Action { config, .. } = &get.kind else { panic!() };
    assert_eq!(config.value, json!({"method": "GET", "url": "http://x/", "retries": "3"}), "JSON strings stay strings");
    assert_eq!(config.span_at("/url"), Span::new(9, 38));
    assert_eq!(get.assert.len(), 2);
    assert_eq!(get.retry.as_ref().map(|r| (r.max_attempts, r.delay)), Some((2, Duration::from_secs(1))));
}

#[test]
fn retry_defaults_and_on_error_forms() {
    let flow = parse(
        "name: r\nsteps:\n  - action: log\n    retry: { until: done }\n    on_error: { action: fail }\n  - action: log\n    on_error: fail\n",
    );
    let retry = flow.steps[0].retry.as_ref().unwrap();
    assert_eq!(
        (retry.max_attempts, retry.delay, retry.backoff, retry.jitter),
        (3, Duration::from_secs(1), Backoff::Fixed, false)
    );
    assert_eq!(flow.steps[0].on_error, OnError::Fail);
    assert_eq!(flow.steps[1].on_error, OnError::Fail);
}

#[test]
fn testmesh_ignored_keys_warn_but_parse() {
    let text = "flow:\n  name: w\n  version: 2\n  steps:\n    - action: log\n      tags: [x]\n      on_error:\n        action: retry\n        error_steps: [a]\n";
    let (flow, diagnostics) = check_flow(text, "w.yaml");
    assert!(flow.is_some(), "{diagnostics}");
    assert_eq!(flow.unwrap().steps[0].on_error, OnError::Continue);
    let lines: Vec<_> = diagnostics.iter().map(|d| (d.severity, d.line)).collect();
    assert_eq!(lines, [(Severity::Warning, 3), (Severity::Warning, 6), (Severity::Warning, 8), (Severity::Warning, 9)]);
    assert!(parse_flow(text, "w.yaml").is_ok(), "warnings alone do not reject a flow");
}

// ---- diagnostics, pinned as rendered ----

#[test]
fn yaml_syntax_error() {
    insta::assert_snapshot!(rendered_errors("flow:\n  name: broken\n  steps: [\n    - action: log\n"));
}

#[test]
fn yaml_bad_indentation() {
    insta::assert_snapshot!(rendered_errors("flow:\n  name: x\n   steps:\n    - action: log\n"));
}

#[test]
fn unknown_key_with_suggestion() {
    insta::assert_snapshot!(rendered_errors(
        "flow:\n  name: typo\n  steps:\n    - id: get\n      action: http_request\n      asert:\n        - status == 200\n"
    ));
}

#[test]
fn unknown_key_without_suggestion_lists_the_keys() {
    insta::assert_snapshot!(rendered_errors(
        "name: x\nsteps:\n  - action: log\n    retry:\n      attempts_max_count: 2\n"
    ));
}

#[test]
fn missing_steps() {
    insta::assert_snapshot!(rendered_errors("flow:\n  name: nothing to do\n  setup:\n    - action: log\n"));
}

#[test]
fn empty_steps() {
    insta::assert_snapshot!(rendered_errors("name: empty\nsteps: []\n"));
}

#[test]
fn bad_duration() {
    insta::assert_snapshot!(rendered_errors("name: slow\nsteps:\n  - action: log\n    timeout: 10 seconds\n"));
}

#[test]
fn duplicate_id() {
    insta::assert_snapshot!(rendered_errors(
        "name: dup\nsteps:\n  - id: login\n    action: http_request\n  - id: each\n    for_each: [1, 2]\n    steps:\n      - id: login\n        action: log\n"
    ));
}

#[test]
fn several_errors_at_once() {
    insta::assert_snapshot!(rendered_errors(
        r#"flow:
  description: no name here
  timeout: soon
  stpes:
    - action: log
  steps:
    - id: Fetch User
      action: http_request
      config: "GET /users"
      retry:
        max_attempts: 0
        backoff: exponentail
    - id: both
      action: http_request
      for_each: [1]
    - name: nothing to do
    - id: poll
      action: redis.get
      on_error: ignore
      disabled: yes
"#
    ));
}

#[test]
fn testmesh_control_action_mistakes() {
    insta::assert_snapshot!(rendered_errors(
        r#"flow:
  name: tm
  steps:
    - id: loop
      action: for_each
      steps:
        - action: log
    - id: files
      action: for_each
      config:
        items_from_glob: "data/*.json"
        item_name: file
        steps:
          - action: log
    - id: child
      action: run_flow
      config:
        flow: other
        input_file: data.json
"#
    ));
}

#[test]
fn not_a_flow() {
    insta::assert_snapshot!(rendered_errors("- name: a list\n"));
}

#[test]
fn second_document() {
    insta::assert_snapshot!(rendered_errors("name: one\nsteps:\n  - action: log\n---\nname: two\n"));
}

// ---- structural checks, asserted directly ----

fn errors(text: &str) -> Vec<(u32, u32, String)> {
    match parse_flow(text, "t.yaml") {
        Ok(flow) => panic!("expected errors, parsed {flow:?}"),
        Err(diagnostics) => diagnostics.errors().map(|d| (d.line, d.column, d.message.clone())).collect(),
    }
}

#[test]
fn wrong_types_are_reported_at_the_value() {
    let found = errors(
        "name: [a]\ntags: smoke\nfail_fast: maybe\nsteps:\n  - action: log\n    output: $.x\n    when: { a: 1 }\n",
    );
    assert_eq!(
        found,
        [
            (1, 7, "`name` must be a string, found a list".to_string()),
            (2, 7, "`tags` must be a list of strings, found the string `smoke`".to_string()),
            (3, 12, "`fail_fast` must be `true` or `false`, found the string `maybe`".to_string()),
            (6, 13, "`output` must be a mapping of names to JSONPaths, found the string `$.x`".to_string()),
            (7, 11, "`when` must be an expression, found a mapping".to_string()),
        ]
    );
}

#[test]
fn control_step_shapes_are_checked() {
    let found = errors(
        "name: c\nsteps:\n  - for_each: plain\n    steps: [ { action: log } ]\n  - for_each: [1]\n  - parallel: {}\n    branches: []\n  - if: x\n  - run_flow: other\n    then: []\n  - for_each: { from: 1 }\n    as: 1x\n    concurrency: 0\n    steps: [ { action: log } ]\n",
    );
    let messages: Vec<_> = found.iter().map(|(line, _, m)| format!("{line}: {m}")).collect();
    assert_eq!(
        messages,
        [
            "3: cannot iterate over `plain`",
            "5: this `for_each` has no `steps`",
            "7: `branches` is empty",
            "8: this `if` step has no `then`",
            "10: unknown key `then` in a step",
            "11: the range has no `to`",
            "12: invalid variable name `1x`",
            "13: `concurrency` must be at least 1, found 0",
        ]
    );
}

#[test]
fn assertion_shapes_are_checked() {
    let found = errors(
        "name: a\nsteps:\n  - action: log\n    assert:\n      - \"\"\n      - { message: m }\n      - { expr: x, use: y }\n      - { use: Bad Name }\n      - [x]\n    output:\n      1bad: $.x\n",
    );
    let lines: Vec<_> = found.iter().map(|(line, _, _)| *line).collect();
    assert_eq!(lines, [5, 6, 7, 8, 9, 11], "{found:#?}");
}

#[test]
fn keys_of_another_kind_of_step_say_where_they_belong() {
    let text = "name: a\nsteps:\n  - if: x\n    then: []\n    with: {}\n";
    let Err(diagnostics) = parse_flow(text, "t.yaml") else { panic!("expected errors") };
    assert_eq!(diagnostics[0].help.as_deref(), Some("`with` belongs to `action` or `run_flow` steps"));
}

#[test]
fn config_and_with_together_is_an_error() {
    let found = errors("name: a\nsteps:\n  - action: log\n    config: {}\n    with: {}\n");
    assert_eq!(found[0].2, "`config` and `with` are the same thing: this step has both");
}

#[test]
fn default_ids_do_not_hide_duplicates() {
    let found = errors("name: a\nsteps:\n  - action: log\n  - id: step_1\n    action: log\n");
    assert_eq!(found, [(4, 9, "duplicate step id `step_1`".to_string())]);
}

#[test]
fn flow_config_and_top_level_settings_conflict() {
    let found = errors("name: a\ntimeout: 1s\nconfig:\n  timeout: 2s\nsteps:\n  - action: log\n");
    assert_eq!(found, [(4, 3, "`timeout` is set twice, here and on line 2".to_string())]);
}

#[test]
fn zero_timeout_and_empty_file_are_errors() {
    assert_eq!(errors("name: a\ntimeout: 0s\nsteps:\n  - action: log\n")[0].2, "`timeout` must be longer than zero");
    assert_eq!(errors("")[0].2, "the file holds no flow");
    assert_eq!(errors("flow: 3\n")[0].2, "`flow` must be a mapping, found the number `3`");
}

#[test]
fn wrapper_with_keys_beside_it() {
    let found = errors("name: outside\nflow:\n  name: inside\n  steps:\n    - action: log\n");
    assert_eq!(found, [(1, 1, "unknown key `name` in the file".to_string())]);
}

#[test]
fn retry_on_a_control_step_is_a_warning() {
    let text = "name: x\nsteps:\n  - id: loop\n    for_each: [1]\n    retry: { max_attempts: 3 }\n    steps:\n      - { id: a, action: log, config: { message: hi } }\n";
    let (flow, diagnostics) = check_flow(text, "x.yaml");
    assert!(flow.is_some(), "{diagnostics}");
    let warnings: Vec<_> = diagnostics.warnings().map(|d| (d.line, d.message.as_str())).collect();
    assert_eq!(warnings, [(5, "`retry` has no effect on a control step (`loop`)")]);
}

#[test]
fn paths_at_positions_name_the_node() {
    let text = "name: x\nsteps:\n  - id: a\n    action: http\n    config:\n      url: 5\n";
    assert_eq!(super::path_at(text, 6, 12).as_deref(), Some("steps[0].config.url"));
    assert_eq!(super::path_at(text, 6, 7).as_deref(), Some("steps[0].config.url"));
    assert_eq!(super::path_at(text, 1, 1).as_deref(), Some("name"));
    assert_eq!(super::path_at(text, 4, 13).as_deref(), Some("steps[0].action"));
    assert_eq!(super::path_at("a: [", 1, 1), None);
}

#[test]
fn hostile_nesting_is_refused_before_parsing() {
    let deep = format!("name: deep\nsteps: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let errors = super::parse_flow(&deep, "deep.yaml").unwrap_err();
    assert!(errors.to_string().contains("nests deeper than 64 levels"), "{errors}");
    assert_eq!((errors.0[0].line, errors.0[0].column), (2, 71));
    let mut block = String::from("name: deep\nsteps:\n  - id: a\n    action: log\n    config:\n");
    for depth in 0..100 {
        block.push_str(&" ".repeat(6 + depth));
        block.push_str("k:\n");
    }
    assert!(super::parse_flow(&block, "deep.yaml").unwrap_err().to_string().contains("nests deeper"));
    // Brackets in strings and comments do not count.
    let fine = format!(
        "name: ok # {}\nsteps:\n  - {{ action: log, config: {{ message: \"{}\" }} }}\n",
        "[".repeat(100),
        "{".repeat(100)
    );
    assert!(super::parse_flow(&fine, "ok.yaml").is_ok());
}
