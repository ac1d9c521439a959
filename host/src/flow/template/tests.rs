//! Tests of templating: syntax, typing, resolution, built-ins and errors, each named after the
//! behaviour it pins.

use super::*;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use std::collections::BTreeMap;

fn scope() -> MapScope {
    let vars = json!({
        "name": "alice",
        "count": 3,
        "ratio": 0.5,
        "active": true,
        "nothing": null,
        "user": { "id": 7, "tags": ["a", "b"] },
        "items": [{ "id": "first" }, { "id": "second" }],
        "headers": { "content-type": "application/json", "x.y": "dotted" },
        "create_user": { "status": 201, "body": { "id": "u-1", "email": "a@example.com" } },
        "create-order": { "body": { "id": 99 } },
        "2nd_step": { "ok": true },
        "steps": { "create_user": { "status": 201 } },
        "codes": { "200": "ok" },
        "MAX": "100",
        "DATE": "my own date",
    });
    match vars {
        Value::Object(map) => MapScope::new(map),
        _ => unreachable!(),
    }
}

fn clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 7, 8, 9).single().expect("a valid instant") + chrono::Duration::milliseconds(345)
}

fn render(text: &str) -> Value {
    let scope = scope();
    let context = RenderContext::new(&scope).with_clock(clock());
    match context.render_str(text) {
        Ok(rendered) => rendered.value,
        Err(errors) => panic!("expected `{text}` to render:\n{errors}"),
    }
}

fn errors(text: &str) -> Vec<TemplateError> {
    let scope = scope();
    match RenderContext::new(&scope).with_clock(clock()).render_str(text) {
        Ok(rendered) => panic!("expected `{text}` to fail, got {}", rendered.value),
        Err(errors) => errors.0,
    }
}

fn one_error(text: &str) -> TemplateError {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "expected one error for `{text}`: {all:#?}");
    all.remove(0)
}

fn syntax_errors(text: &str) -> Vec<TemplateError> {
    match check(text) {
        Ok(references) => panic!("expected `{text}` to be rejected, got {references:?}"),
        Err(errors) => errors.0,
    }
}

fn is_uuid_v4(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok_and(|u| u.get_version_num() == 4) && text.len() == 36
}

// --- Typing ---------------------------------------------------------------------------------------

#[test]
fn a_sole_placeholder_keeps_each_json_type() {
    assert_eq!(render("${name}"), json!("alice"));
    assert_eq!(render("${count}"), json!(3));
    assert_eq!(render("${ratio}"), json!(0.5));
    assert_eq!(render("${active}"), json!(true));
    assert_eq!(render("${nothing}"), Value::Null);
    assert_eq!(render("${user}"), json!({ "id": 7, "tags": ["a", "b"] }));
    assert_eq!(render("${user.tags}"), json!(["a", "b"]));
}

#[test]
fn inside_text_values_render_as_text_and_null_as_nothing() {
    assert_eq!(render("n=${name}"), json!("n=alice"));
    assert_eq!(render("${count} items"), json!("3 items"));
    assert_eq!(render("r=${ratio}"), json!("r=0.5"));
    assert_eq!(render("on=${active}"), json!("on=true"));
    assert_eq!(render("[${nothing}]"), json!("[]"));
    assert_eq!(render("u=${user}"), json!(r#"u={"id":7,"tags":["a","b"]}"#));
    assert_eq!(render("${name}${count}"), json!("alice3"));
}

#[test]
fn spaces_around_a_placeholder_make_it_text() {
    assert_eq!(render(" ${count}"), json!(" 3"));
    assert_eq!(render("${count} "), json!("3 "));
}

#[test]
fn braces_spelling_is_the_same_as_dollar_spelling() {
    assert_eq!(render("{{count}}"), json!(3));
    assert_eq!(render("{{ count }}"), json!(3));
    assert_eq!(render("${ count }"), json!(3));
    assert_eq!(render("hi {{name}} and ${name}"), json!("hi alice and alice"));
    assert_eq!(render("{{create_user.body.id}}"), json!("u-1"));
}

#[test]
fn render_text_always_gives_text() {
    let scope = scope();
    let context = RenderContext::new(&scope);
    assert_eq!(context.render_text("${count}").map(|r| r.value.into_owned()), Ok("3".to_owned()));
    assert_eq!(context.render_text("${user.tags}").map(|r| r.value.into_owned()), Ok(r#"["a","b"]"#.to_owned()));
    assert_eq!(context.render_text("${nothing}").map(|r| r.value.into_owned()), Ok(String::new()));
}

#[test]
fn plain_strings_are_borrowed_untouched() {
    let scope = scope();
    let context = RenderContext::new(&scope);
    for text in ["", "plain text", "costs $100", "a { b } c", "{\"json\": {\"x\": 1}}", "$"] {
        let rendered = context.render_text(text).expect("plain text renders");
        assert!(matches!(rendered.value, Cow::Borrowed(t) if t == text), "{text}");
    }
    assert_eq!(render("costs $100 and $$ and $x"), json!("costs $100 and $$ and $x"));
}

// --- Paths ----------------------------------------------------------------------------------------

#[test]
fn paths_follow_fields_indexes_and_quoted_keys() {
    assert_eq!(render("${user.id}"), json!(7));
    assert_eq!(render("${items[0].id}"), json!("first"));
    assert_eq!(render("${items[1].id}"), json!("second"));
    assert_eq!(render("${items.1.id}"), json!("second"));
    assert_eq!(render("${items[-1].id}"), json!("second"));
    assert_eq!(render("${items[ 0 ].id}"), json!("first"));
    assert_eq!(render(r#"${headers["content-type"]}"#), json!("application/json"));
    assert_eq!(render("${headers['x.y']}"), json!("dotted"));
    assert_eq!(render("${codes[200]}"), json!("ok"));
    assert_eq!(render("${steps.create_user.status}"), json!(201));
    assert_eq!(render("${create_user.body.id}"), json!("u-1"));
    assert_eq!(render("${create-order.body.id}"), json!(99));
    assert_eq!(render("${2nd_step.ok}"), json!(true));
}

#[test]
fn path_to_string_writes_paths_as_templates_do() {
    let path = [
        PathSegment::Key("a".into()),
        PathSegment::Key("b-c".into()),
        PathSegment::Index(-1),
        PathSegment::Key("content type".into()),
    ];
    assert_eq!(path_to_string(&path), r#"a.b-c[-1]["content type"]"#);
}

#[test]
fn lookup_stays_inside_lists() {
    let list = json!([1, 2]);
    assert_eq!(lookup(&list, &[PathSegment::Index(2)]), None);
    assert_eq!(lookup(&list, &[PathSegment::Index(-3)]), None);
    assert_eq!(lookup(&list, &[PathSegment::Index(-2)]), Some(&json!(1)));
    assert_eq!(lookup(&list, &[PathSegment::Key("x".into())]), None);
    assert_eq!(lookup(&json!("text"), &[PathSegment::Key("x".into())]), None);
}

// --- Defaults -------------------------------------------------------------------------------------

#[test]
fn a_default_replaces_an_unresolved_or_null_reference() {
    assert_eq!(render("${PORT:-8080}"), json!("8080"));
    assert_eq!(render("${nothing:-fallback}"), json!("fallback"));
    assert_eq!(render("${count:-9}"), json!(3));
    assert_eq!(render("http://h:${PORT:-8080}/x"), json!("http://h:8080/x"));
    assert_eq!(render("${missing.deep[0]:-d}"), json!("d"));
    assert_eq!(render("{{ PORT:-8080 }}"), json!("8080"));
    assert_eq!(render("${PORT:- 8080 }"), json!("8080"));
    assert_eq!(render("[${OPTIONAL:-}]"), json!("[]"));
    assert_eq!(render("${OPTIONAL:-}"), json!(""));
}

#[test]
fn a_default_is_a_template_typed_like_any_string() {
    assert_eq!(render("${PORT:-${count}}"), json!(3));
    assert_eq!(render("${PORT:-p${count}}"), json!("p3"));
    assert_eq!(render("${A:-${B:-${name}}}"), json!("alice"));
    assert_eq!(render("${A:-{{name}}}"), json!("alice"));
    assert!(is_uuid_v4(render("${ID:-${uuid()}}").as_str().unwrap_or_default()));
    let error = one_error("${A:-${B}}");
    assert_eq!(error.message, "unresolved reference `B`");
    assert_eq!(error.offset, 5);
}

// --- Environment ----------------------------------------------------------------------------------

#[test]
fn env_is_an_error_in_server_runs() {
    let error = one_error("x=${env.HOME}");
    assert_eq!(error.kind, ErrorKind::Forbidden);
    assert_eq!(error.offset, 2);
    assert_eq!(error.message, "`env.HOME`: server runs cannot read the server's environment");
    assert!(error.help.as_deref().is_some_and(|h| h.contains("${secret.HOME}")), "{error:?}");
}

#[test]
fn env_with_a_default_uses_the_default_where_forbidden() {
    assert_eq!(render("${env.API:-http://localhost}"), json!("http://localhost"));
}

#[test]
fn env_reads_the_process_environment_in_local_runs() {
    let scope = scope();
    let context = RenderContext::new(&scope).with_env(Env::Process);
    let path = std::env::var("PATH").expect("tests run with a PATH");
    assert_eq!(context.render_str("${env.PATH}").map(|r| r.value), Ok(json!(path)));
    let missing = "TESTMESH_TEMPLATE_TEST_SURELY_UNSET";
    let errors = context.render_str(&format!("${{env.{missing}}}")).expect_err("unset variable");
    assert_eq!(errors[0].kind, ErrorKind::Unresolved);
    assert_eq!(errors[0].message, format!("environment variable `{missing}` is not set"));
}

#[test]
fn env_values_are_strings_and_credentials_among_them_are_reported() {
    let scope = scope();
    let vars = BTreeMap::from([("PORT".to_owned(), "3000".to_owned()), ("API_TOKEN".to_owned(), "t0k".to_owned())]);
    let context = RenderContext::new(&scope).with_env(Env::Vars(&vars));
    let rendered = context.render_str("${env.PORT}").expect("renders");
    assert_eq!(rendered.value, json!("3000"));
    assert!(rendered.secrets.is_empty());
    let rendered = context.render_str("Bearer ${env.API_TOKEN}").expect("renders");
    assert_eq!(rendered.value, json!("Bearer t0k"));
    assert_eq!(rendered.secrets, BTreeSet::from(["t0k".to_owned()]));
}

// --- Secrets --------------------------------------------------------------------------------------

#[test]
fn secrets_resolve_and_are_reported_for_masking() {
    let scope = scope();
    let secrets = BTreeMap::from([
        ("DB_PASSWORD".to_owned(), "hunter2".to_owned()),
        ("UNUSED".to_owned(), "never".to_owned()),
        ("EMPTY".to_owned(), String::new()),
    ]);
    let context = RenderContext::new(&scope).with_secrets(&secrets);
    let rendered = context
        .render_value(&json!({ "dsn": "postgres://app:${secret.DB_PASSWORD}@db/app", "e": "${secret.EMPTY}" }))
        .expect("renders");
    assert_eq!(rendered.value, json!({ "dsn": "postgres://app:hunter2@db/app", "e": "" }));
    assert_eq!(rendered.secrets, BTreeSet::from(["hunter2".to_owned()]));
    assert_eq!(
        mask("connecting to postgres://app:hunter2@db/app", &rendered.secrets),
        "connecting to postgres://app:***@db/app"
    );
}

#[test]
fn values_derived_from_secrets_are_reported_too() {
    let scope = scope();
    let secrets = BTreeMap::from([("CREDS".to_owned(), "user:pass".to_owned())]);
    let context = RenderContext::new(&scope).with_secrets(&secrets);
    let rendered = context.render_str("Basic ${base64(secret.CREDS)} ${sha256(secret.CREDS)}").expect("renders");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"user:pass"));
    assert_eq!(rendered.secrets, BTreeSet::from(["user:pass".to_owned(), "dXNlcjpwYXNz".to_owned(), digest]));
    assert_eq!(mask(rendered.value.as_str().unwrap_or_default(), &rendered.secrets), "Basic *** ***");
}

#[test]
fn an_unknown_secret_is_an_error_with_a_suggestion() {
    let scope = scope();
    let secrets = BTreeMap::from([("API_KEY".to_owned(), "k".to_owned())]);
    let context = RenderContext::new(&scope).with_secrets(&secrets);
    let errors = context.render_str("${secret.API_KY}").expect_err("unknown secret");
    assert_eq!(errors[0].message, "unknown secret `API_KY`");
    assert_eq!(errors[0].help.as_deref(), Some("did you mean `secret.API_KEY`?"));
    assert_eq!(context.render_str("${secret.NOPE:-none}").map(|r| r.value), Ok(json!("none")));
}

#[test]
fn mask_hides_longer_secrets_whole_and_borrows_when_clean() {
    let secrets = BTreeSet::from(["abc".to_owned(), "abcdef".to_owned()]);
    assert_eq!(mask("x abcdef y abc", &secrets), "x *** y ***");
    assert!(matches!(mask("clean", &secrets), Cow::Borrowed("clean")));
}

// --- Functions ------------------------------------------------------------------------------------

#[test]
fn uuid_gives_a_new_v4_uuid_at_each_call() {
    let value = render("${uuid()} ${uuid()}");
    let text = value.as_str().unwrap_or_default();
    let (a, b) = text.split_once(' ').unwrap_or_default();
    assert!(is_uuid_v4(a) && is_uuid_v4(b), "{text}");
    assert_ne!(a, b);
}

#[test]
fn clock_functions_read_the_render_instant() {
    assert_eq!(render("${now()}"), json!("2024-05-01T07:08:09.345Z"));
    assert_eq!(render("${timestamp()}"), json!(1714547289));
    assert_eq!(render("${timestamp_ms()}"), json!(1714547289345_i64));
    assert_eq!(render("t=${timestamp()}"), json!("t=1714547289"));
}

#[test]
fn the_clock_is_read_once_per_render() {
    let scope = scope();
    let context = RenderContext::new(&scope);
    let rendered = context
        .render_value(&json!({ "a": "${timestamp_ms()}", "b": ["${timestamp_ms()}"], "c": "${TIMESTAMP}" }))
        .expect("renders")
        .value;
    assert_eq!(rendered["a"], rendered["b"][0]);
    assert_eq!(rendered["a"].as_i64().map(|ms| ms / 1000), rendered["c"].as_i64());
    let now = Utc::now().timestamp_millis();
    assert!(rendered["a"].as_i64().is_some_and(|ms| (now - ms).abs() < 60_000), "{rendered}");
}

#[test]
fn random_int_stays_within_both_bounds() {
    let mut seen = BTreeSet::new();
    for _ in 0..300 {
        let value = render("${random_int(1, 3)}");
        let n = value.as_i64().expect("a number");
        assert!((1..=3).contains(&n), "{n}");
        seen.insert(n);
    }
    assert_eq!(seen, BTreeSet::from([1, 2, 3]));
    assert_eq!(render("${random_int(-5, -5)}"), json!(-5));
    assert_eq!(render("${random_int( 7 ,7 )}"), json!(7));
}

#[test]
fn random_int_takes_references_holding_whole_numbers() {
    let n = render("${random_int(count, MAX)}").as_i64().expect("a number");
    assert!((3..=100).contains(&n));
    let error = one_error("${random_int(name, 5)}");
    assert_eq!(error.kind, ErrorKind::Argument);
    assert_eq!(error.message, "`random_int(min, max)` expects whole numbers, got `\"alice\"`");
    let error = one_error("${random_int(MAX, count)}");
    assert_eq!(error.message, "`random_int(min, max)`: min (100) is greater than max (3)");
}

#[test]
fn random_string_is_alphanumeric_of_the_given_length() {
    let value = render("${random_string(12)}");
    let text = value.as_str().unwrap_or_default();
    assert_eq!(text.len(), 12);
    assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
    assert_ne!(render("${random_string(32)}"), render("${random_string(32)}"));
    assert_eq!(render("${random_string(0)}"), json!(""));
}

#[test]
fn fake_email_and_names_look_real() {
    for _ in 0..20 {
        let value = render("${fake.email()}");
        let email = value.as_str().unwrap_or_default();
        let (local, domain) = email.split_once('@').unwrap_or_default();
        assert!(["example.com", "example.org", "example.net"].contains(&domain), "{email}");
        assert!(
            local.contains('.') && local.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.')
        );
        let value = render("${fake.name()}");
        let words: Vec<&str> = value.as_str().unwrap_or_default().split(' ').collect();
        assert_eq!(words.len(), 2, "{value}");
        assert!(words.iter().all(|w| w.chars().next().is_some_and(char::is_uppercase)));
    }
    assert!(render("${fake.first_name()}").as_str().is_some_and(|n| !n.contains(' ')));
    assert!(render("${fake.last_name()}").as_str().is_some_and(|n| !n.is_empty()));
}

#[test]
fn base64_and_sha256_take_literals_references_and_calls() {
    assert_eq!(render(r#"${base64("user:pass")}"#), json!("dXNlcjpwYXNz"));
    assert_eq!(render("${base64('a')}"), json!("YQ=="));
    assert_eq!(render("${base64(name)}"), json!("YWxpY2U="));
    assert_eq!(render("${base64(count)}"), json!("Mw=="));
    assert_eq!(render("${sha256(\"abc\")}"), json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_eq!(render("${sha256('')}"), json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_eq!(render("${base64(base64('a'))}"), json!("WVE9PQ=="));
    assert_eq!(render(r#"${base64("a\"b\\c")}"#), json!("YSJiXGM="));
    assert_eq!(render(r#"${base64("}")}"#), json!("fQ=="));
}

#[test]
fn run_id_and_flow_name_come_from_the_context() {
    let scope = scope();
    let context = RenderContext::new(&scope).with_run_id("run-42").with_flow_name("user signup");
    assert_eq!(context.render_str("${flow.name}/${run.id}").map(|r| r.value), Ok(json!("user signup/run-42")));
    let bare = RenderContext::new(&scope);
    let errors = bare.render_str("${run.id}").expect_err("no run id outside a run");
    assert_eq!(errors[0].message, "unresolved reference `run.id`");
}

// --- TestMesh's built-ins -------------------------------------------------------------------------

#[test]
fn testmesh_uuid_is_one_value_per_string() {
    let value = render("${UUID}/{{RANDOM_ID}}/${UUID}");
    let parts: Vec<&str> = value.as_str().unwrap_or_default().split('/').collect();
    assert!(is_uuid_v4(parts[0]));
    assert!(parts.iter().all(|p| *p == parts[0]), "{value}");
    let scope = scope();
    let rendered = RenderContext::new(&scope).render_value(&json!(["${UUID}", "${UUID}"])).expect("renders").value;
    assert_ne!(rendered[0], rendered[1]);
}

#[test]
fn testmesh_clock_built_ins_have_testmesh_formats_in_utc() {
    assert_eq!(render("${TIMESTAMP}"), json!(1714547289));
    assert_eq!(render("${ISO_TIMESTAMP}"), json!("2024-05-01T07:08:09Z"));
    assert_eq!(render("{{TIME}}"), json!("07:08:09"));
    assert_eq!(render("${DATETIME}"), json!("2024-05-01 07:08:09"));
    assert_eq!(render("${YEAR}-${MONTH}-${DAY} ${HOUR}:${MINUTE}:${SECOND}"), json!("2024-05-01 07:08:09"));
}

#[test]
fn a_scope_variable_wins_over_a_testmesh_built_in() {
    assert_eq!(render("${DATE}"), json!("my own date"));
    let empty = MapScope::default();
    let context = RenderContext::new(&empty).with_clock(clock());
    assert_eq!(context.render_str("${DATE}").map(|r| r.value), Ok(json!("2024-05-01")));
}

// --- Escapes --------------------------------------------------------------------------------------

#[test]
fn escapes_write_placeholder_openers_literally() {
    assert_eq!(render("$${name}"), json!("${name}"));
    assert_eq!(render("echo $${HOME} ${name}"), json!("echo ${HOME} alice"));
    assert_eq!(render(r"\{{name}}"), json!("{{name}}"));
    assert_eq!(render("$${{name}}"), json!("${{name}}"));
    assert_eq!(check("$${not checked").map(|r| r.len()), Ok(0));
}

#[test]
fn braces_not_followed_by_a_name_are_text() {
    assert_eq!(
        render("{{.Path}} {{#each}} {{ \"x\" }} {{{name}}}"),
        json!("{{.Path}} {{#each}} {{ \"x\" }} {{{name}}}")
    );
    assert_eq!(render(r#"{"a": {"b": "${name}"}}"#), json!(r#"{"a": {"b": "alice"}}"#));
}

// --- Unresolved references ------------------------------------------------------------------------

#[test]
fn an_unresolved_reference_names_itself_and_its_placeholder() {
    let error = one_error("id=${user_id}");
    assert_eq!(error.kind, ErrorKind::Unresolved);
    assert_eq!(error.message, "unresolved reference `user_id`");
    assert_eq!(error.offset, 3);
    assert_eq!(error.pointer, "");
    let error = one_error("héllo {{ user_id }}");
    assert_eq!(error.offset, "héllo ".len());
}

#[test]
fn unresolved_help_says_what_exists_where_the_path_breaks() {
    let help = |text: &str| one_error(text).help.unwrap_or_default();
    assert_eq!(help("${create_user.bdy.id}"), "`create_user` has no field `bdy`; did you mean `body`?");
    assert_eq!(help("${create_user.body.zzz}"), "`create_user.body` has no field `zzz`; its fields are `email`, `id`");
    assert_eq!(help("${items[5].id}"), "`items` has 2 items: indexes 0 to 1 (or -1 for the last)");
    assert_eq!(help("${items.id}"), "`items` is a list of 2 items: pick one by index, like `items[0].id`");
    assert_eq!(help("${name.first}"), "`name` is a string, which has no fields");
    assert_eq!(help("${nothing.x}"), "`nothing` is null");
    assert_eq!(help("${create_usr.status}"), "did you mean `create_user`?");
    assert_eq!(help("${uuid}"), "`uuid` is a function: write `uuid()`");
    assert_eq!(help("${fake.email}"), "`fake.email` is a function: write `fake.email()`");
}

#[test]
fn every_error_of_a_string_is_reported() {
    let all = errors("${a}-${name}-{{b}}-${c:-ok}-${d.e}");
    let found: Vec<(usize, &str)> = all.iter().map(|e| (e.offset, e.message.as_str())).collect();
    assert_eq!(
        found,
        [(0, "unresolved reference `a`"), (13, "unresolved reference `b`"), (28, "unresolved reference `d.e`"),]
    );
}

#[test]
fn every_error_of_a_value_is_reported_with_its_pointer() {
    let scope = scope();
    let config = json!({
        "url": "${BASE}/users",
        "json": { "name": "${name}", "ids": [1, "${x}", "${items[0].id}"] },
        "a/b": "${env.HOME}",
        "bad": "${random_int(1}",
    });
    let errors = RenderContext::new(&scope).render_value(&config).expect_err("several errors");
    let mut found: Vec<(&str, usize, ErrorKind)> =
        errors.iter().map(|e| (e.pointer.as_str(), e.offset, e.kind)).collect();
    found.sort_by_key(|f| f.0);
    assert_eq!(
        found,
        [
            ("/a~1b", 0, ErrorKind::Forbidden),
            ("/bad", 14, ErrorKind::Syntax),
            ("/json/ids/1", 0, ErrorKind::Unresolved),
            ("/url", 0, ErrorKind::Unresolved),
        ]
    );
    assert!(errors.to_string().contains("at `/url`, byte 0: unresolved reference `BASE`"), "{errors}");
}

// --- Syntax errors --------------------------------------------------------------------------------

#[test]
fn an_unclosed_placeholder_is_a_syntax_error_at_its_opener() {
    let errors = syntax_errors("abc ${name");
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].kind, errors[0].offset), (ErrorKind::Syntax, 4));
    assert_eq!(errors[0].message, "unclosed `${`: expected `}`");
    assert_eq!(errors[0].help.as_deref(), Some("to write `${` literally, write `$${`"));
    let errors = syntax_errors("{{ name ");
    assert_eq!(errors[0].message, "unclosed `{{`: expected `}}`");
    assert_eq!(syntax_errors("${a.")[0].message, "unclosed `${`: expected `}`");
    assert_eq!(syntax_errors("${A:-${B}")[0].offset, 0);
    assert_eq!(syntax_errors("${base64('abc)}")[0].message, "unclosed string literal");
}

#[test]
fn malformed_placeholders_are_syntax_errors_at_the_offending_character() {
    let first = |text: &str| {
        let error = syntax_errors(text).remove(0);
        (error.offset, error.message, error.help)
    };
    assert_eq!(first("${}").1, "empty placeholder `${}`");
    assert_eq!(
        first("${PORT:8080}"),
        (6, "expected `:-` before a default value".into(), Some("write a default as `${NAME:-default}`".into()))
    );
    assert_eq!(
        first("${headers[content-type]}"),
        (
            9,
            "expected an index or a quoted key inside `[…]`".into(),
            Some("quote the key: `[\"content-type\"]`".into())
        )
    );
    assert_eq!(first("${a b}"), (4, "unexpected `b` in a placeholder: expected `}`".into(), None));
    assert_eq!(first("${a.$b}").1, "expected a name after `.`, found `$`");
    assert_eq!(first("${é}").1, "expected a name or a function call, found `é`");
    assert_eq!(first("${items[0}").1, "expected `]`, found `}`");
    assert_eq!(first("${env}").1, "`env` takes exactly one name: `env.NAME` (got `env`)");
    assert_eq!(first("${secret.a.b}").1, "`secret` takes exactly one name: `secret.NAME` (got `secret.a.b`)");
}

#[test]
fn bad_function_calls_are_syntax_errors() {
    let first = |text: &str| syntax_errors(text).remove(0);
    let error = first("${uuid4()}");
    assert_eq!((error.offset, error.message.as_str()), (2, "unknown function `uuid4()`"));
    assert_eq!(error.help.as_deref(), Some("did you mean `uuid()`?"));
    assert_eq!(first("${random_str(4)}").help.as_deref(), Some("did you mean `random_string()`?"));
    assert!(first("${frobnicate()}").help.is_some_and(|h| h.starts_with("the functions are `uuid()`, `now()`")));
    let error = first("${uuid(1)}");
    assert_eq!(error.message, "`uuid()` takes no arguments, got 1");
    assert_eq!(first("${random_int(1)}").message, "`random_int(min, max)` takes 2 arguments, got 1");
    assert_eq!(first("${random_int('a', 2)}").message, "`random_int(min, max)` expects whole numbers, not quoted text");
    assert_eq!(first("${random_int(9, 2)}").message, "`random_int(min, max)`: min (9) is greater than max (2)");
    assert_eq!(first("${random_int(1.5, 2)}").message, "`1.5` is not a whole number");
    assert_eq!(
        first("${random_string(99999)}").message,
        "`random_string(length)`: the length must be between 0 and 4096, got 99999"
    );
    assert_eq!(first("${base64(a b)}").message, "expected `,` or `)` in the arguments of `base64()`, found `b`");
    assert_eq!(first("${base64()}").message, "`base64(text)` takes 1 argument, got 0");
}

#[test]
fn several_syntax_errors_of_one_string_are_all_reported() {
    let errors = syntax_errors("${} ok ${uuid(1)} ${name} ${a b} ${tail");
    let offsets: Vec<usize> = errors.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, [0, 9, 30, 33]);
}

#[test]
fn nesting_is_limited_so_that_hostile_templates_cannot_exhaust_the_stack() {
    let deep_defaults = format!("{}x{}", "${a:-".repeat(10_000), "}".repeat(10_000));
    assert!(syntax_errors(&deep_defaults).iter().any(|e| e.message == "placeholders nest more than 32 deep"));
    let deep_calls = format!("${{{}'x'{}}}", "base64(".repeat(10_000), ")".repeat(10_000));
    assert!(syntax_errors(&deep_calls).iter().any(|e| e.message == "function calls nest more than 32 deep"));
    let fine = format!("${{{}'a'{}}}", "base64(".repeat(3), ")".repeat(3));
    assert_eq!(render(&fine), json!("V1ZFOVBRPT0="));
}

#[test]
fn quoted_arguments_are_literal() {
    assert_eq!(render("${base64('${name}')}"), json!("JHtuYW1lfQ=="));
}

#[test]
fn render_reports_syntax_and_resolution_errors_together() {
    let all = errors("${} ${missing}");
    let kinds: Vec<ErrorKind> = all.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ErrorKind::Syntax, ErrorKind::Unresolved]);
}

// --- Check ----------------------------------------------------------------------------------------

#[test]
fn check_lists_references_with_their_namespace_without_resolving() {
    let references = check("${a.b[0]}{{ c }} ${env.HOME} ${secret.K} ${UUID} ${run.id} ${base64(d)} ${e:-${f}}")
        .expect("valid template");
    let listed: Vec<(&str, Namespace, usize, bool)> =
        references.iter().map(|r| (r.text.as_str(), r.namespace, r.offset, r.has_default)).collect();
    assert_eq!(
        listed,
        [
            ("a.b[0]", Namespace::Scope, 0, false),
            ("c", Namespace::Scope, 9, false),
            ("env.HOME", Namespace::Env, 17, false),
            ("secret.K", Namespace::Secret, 29, false),
            ("UUID", Namespace::Builtin, 41, false),
            ("run.id", Namespace::Builtin, 49, false),
            ("d", Namespace::Scope, 59, false),
            ("e", Namespace::Scope, 72, true),
            ("f", Namespace::Scope, 77, false),
        ]
    );
    assert_eq!(references[0].path, [PathSegment::Key("a".into()), PathSegment::Key("b".into()), PathSegment::Index(0)]);
    assert_eq!(check("no placeholders here"), Ok(vec![]));
}

#[test]
fn check_value_walks_a_config_and_points_at_each_string() {
    let config = json!({ "url": "${BASE}/x", "list": [{ "k": "${a}" }, 3, null], "n": "${}" });
    let errors = check_value(&config).expect_err("one bad string");
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].pointer.as_str(), errors[0].offset), ("/n", 0));
    let config = json!({ "url": "${BASE}/x", "list": [{ "k": "${a}" }, 3, null] });
    let references = check_value(&config).expect("valid");
    let listed: Vec<(&str, &str)> = references.iter().map(|r| (r.pointer.as_str(), r.text.as_str())).collect();
    assert_eq!(listed, [("/list/0/k", "a"), ("/url", "BASE")]);
}

// --- Whole values ---------------------------------------------------------------------------------

#[test]
fn render_value_recurses_into_config_and_leaves_keys_and_non_strings_alone() {
    let scope = scope();
    let config = json!({
        "method": "POST",
        "url": "http://api/users/${create_user.body.id}",
        "${name}": "key not interpolated",
        "json": {
            "count": "${count}",
            "tags": "${user.tags}",
            "nested": [{ "who": "{{name}}", "n": 5, "b": false, "z": null }],
        },
    });
    let rendered = RenderContext::new(&scope).render_value(&config).expect("renders");
    assert_eq!(
        rendered.value,
        json!({
            "method": "POST",
            "url": "http://api/users/u-1",
            "${name}": "key not interpolated",
            "json": {
                "count": 3,
                "tags": ["a", "b"],
                "nested": [{ "who": "alice", "n": 5, "b": false, "z": null }],
            },
        })
    );
    assert!(rendered.secrets.is_empty());
}

#[test]
fn a_custom_scope_is_asked_for_whole_paths() {
    struct Steps;
    impl Scope for Steps {
        fn resolve(&self, path: &[PathSegment]) -> Option<Value> {
            // The runner's rule: a capture of the step first, then its action output.
            match path {
                [PathSegment::Key(step), PathSegment::Key(name)] if step == "fetch_user" && name == "user_id" => {
                    Some(json!(12))
                }
                _ => None,
            }
        }
    }
    let context = RenderContext::new(&Steps);
    assert_eq!(context.render_str("${fetch_user.user_id}").map(|r| r.value), Ok(json!(12)));
    assert_eq!(context.render_str("${fetch_user.other:-none}").map(|r| r.value), Ok(json!("none")));
}
