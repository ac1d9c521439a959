//! The built-in values of templates: functions called with parentheses (`uuid()`, `random_int(1, 9)`,
//! `fake.email()`, …) and the bare names TestMesh flows use (`UUID`, `TIMESTAMP`, `DATE`, …, and our
//! `run.id`, `flow.name`), with the exact formats they produce.

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngExt as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::borrow::Cow;

/// The longest string `random_string(n)` makes: a typo such as `random_string(1000000)` should fail
/// the check rather than send a megabyte.
pub(super) const MAX_RANDOM_STRING: i64 = 4096;

/// A function callable in a placeholder: `${name(args…)}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Function {
    Uuid,
    Now,
    Timestamp,
    TimestampMs,
    RandomInt,
    RandomString,
    FakeEmail,
    FakeName,
    FakeFirstName,
    FakeLastName,
    Base64,
    Sha256,
}

impl Function {
    /// Every function with the name templates call it by.
    pub(super) const ALL: [(&'static str, Function); 12] = [
        ("uuid", Function::Uuid),
        ("now", Function::Now),
        ("timestamp", Function::Timestamp),
        ("timestamp_ms", Function::TimestampMs),
        ("random_int", Function::RandomInt),
        ("random_string", Function::RandomString),
        ("fake.email", Function::FakeEmail),
        ("fake.name", Function::FakeName),
        ("fake.first_name", Function::FakeFirstName),
        ("fake.last_name", Function::FakeLastName),
        ("base64", Function::Base64),
        ("sha256", Function::Sha256),
    ];

    /// The function called `name`, if there is one.
    pub(super) fn by_name(name: &str) -> Option<Function> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// How the function is called, for messages about its arguments.
    pub(super) fn signature(self) -> &'static str {
        match self {
            Function::Uuid => "uuid()",
            Function::Now => "now()",
            Function::Timestamp => "timestamp()",
            Function::TimestampMs => "timestamp_ms()",
            Function::RandomInt => "random_int(min, max)",
            Function::RandomString => "random_string(length)",
            Function::FakeEmail => "fake.email()",
            Function::FakeName => "fake.name()",
            Function::FakeFirstName => "fake.first_name()",
            Function::FakeLastName => "fake.last_name()",
            Function::Base64 => "base64(text)",
            Function::Sha256 => "sha256(text)",
        }
    }

    /// How many arguments the function takes (each takes a fixed number).
    pub(super) fn arity(self) -> usize {
        match self {
            Function::RandomInt => 2,
            Function::RandomString | Function::Base64 | Function::Sha256 => 1,
            _ => 0,
        }
    }

    /// Whether the result is derived from the arguments (so that it is as secret as they are).
    pub(super) fn derives_from_arguments(self) -> bool {
        matches!(self, Function::Base64 | Function::Sha256)
    }

    /// Calls the function on evaluated arguments (their number is checked by the parser); `now` is
    /// the instant of the render. A wrong argument is described in the error.
    pub(super) fn call(self, args: &[Value], now: DateTime<Utc>) -> Result<Value, String> {
        let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
        Ok(match self {
            Function::Uuid => Value::String(uuid::Uuid::new_v4().to_string()),
            Function::Now => Value::String(now.to_rfc3339_opts(SecondsFormat::Millis, true)),
            Function::Timestamp => Value::from(now.timestamp()),
            Function::TimestampMs => Value::from(now.timestamp_millis()),
            Function::RandomInt => {
                let min = integer(self, arg(0))?;
                let max = integer(self, arg(1))?;
                if min > max {
                    return Err(format!("`{}`: min ({min}) is greater than max ({max})", self.signature()));
                }
                Value::from(rand::rng().random_range(min..=max))
            }
            Function::RandomString => {
                let length = integer(self, arg(0))?;
                check_string_length(length).map_err(|message| format!("`{}`: {message}", self.signature()))?;
                Value::String(random_alphanumeric(length as usize))
            }
            Function::FakeEmail => Value::String(fake_email()),
            Function::FakeName => Value::String(format!("{} {}", pick(FIRST_NAMES), pick(LAST_NAMES))),
            Function::FakeFirstName => Value::String(pick(FIRST_NAMES).to_owned()),
            Function::FakeLastName => Value::String(pick(LAST_NAMES).to_owned()),
            Function::Base64 => {
                Value::String(base64::engine::general_purpose::STANDARD.encode(to_text(arg(0)).as_bytes()))
            }
            Function::Sha256 => Value::String(hex::encode(Sha256::digest(to_text(arg(0)).as_bytes()))),
        })
    }
}

/// Whether `length` is a length `random_string` accepts; the reason when it is not.
pub(super) fn check_string_length(length: i64) -> Result<(), String> {
    if (0..=MAX_RANDOM_STRING).contains(&length) {
        Ok(())
    } else {
        Err(format!("the length must be between 0 and {MAX_RANDOM_STRING}, got {length}"))
    }
}

/// An integer argument: a whole number, or a string holding one (variables from an env file or the
/// command line are strings).
fn integer(function: Function, value: &Value) -> Result<i64, String> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| format!("`{}` expects whole numbers, got {}", function.signature(), describe(value)))
}

/// A value as it appears in a message: short JSON.
fn describe(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("`{}…`", &text[..at]),
        None => format!("`{text}`"),
    }
}

/// How a value reads inside a longer string: strings as they are, `null` as nothing, numbers and
/// booleans as JSON writes them, objects and lists as compact JSON.
pub(super) fn to_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Array(_) | Value::Object(_) => Cow::Owned(value.to_string()),
    }
}

/// A bare name with a built-in meaning: TestMesh's upper-case variables, and `run.id`, `flow.name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Builtin {
    Uuid,
    RandomId,
    Timestamp,
    IsoTimestamp,
    Date,
    Time,
    DateTime,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    RunId,
    FlowName,
}

impl Builtin {
    /// TestMesh's bare built-in variables by name (`run.id` and `flow.name` are paths, matched
    /// by the parser).
    const BARE: [(&'static str, Builtin); 13] = [
        ("UUID", Builtin::Uuid),
        ("RANDOM_ID", Builtin::RandomId),
        ("TIMESTAMP", Builtin::Timestamp),
        ("ISO_TIMESTAMP", Builtin::IsoTimestamp),
        ("DATE", Builtin::Date),
        ("TIME", Builtin::Time),
        ("DATETIME", Builtin::DateTime),
        ("YEAR", Builtin::Year),
        ("MONTH", Builtin::Month),
        ("DAY", Builtin::Day),
        ("HOUR", Builtin::Hour),
        ("MINUTE", Builtin::Minute),
        ("SECOND", Builtin::Second),
    ];

    /// The bare built-in called `name` (exact case, as TestMesh matches them).
    pub(super) fn by_name(name: &str) -> Option<Builtin> {
        Self::BARE.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
    }

    /// Whether the scope is asked first: TestMesh's bare names are ordinary words that a flow may
    /// well use for a variable of its own, and the flow's own variable should win.
    pub(super) fn scope_first(self) -> bool {
        !matches!(self, Builtin::RunId | Builtin::FlowName)
    }

    /// The value of a clock built-in at `now`, in TestMesh's formats (in UTC, not the machine's
    /// zone, so that a run reads the same on every machine); `None` for the others.
    pub(super) fn clock_value(self, now: DateTime<Utc>) -> Option<Value> {
        let format = |f: &str| Some(Value::String(now.format(f).to_string()));
        match self {
            Builtin::Timestamp => Some(Value::from(now.timestamp())),
            Builtin::IsoTimestamp => Some(Value::String(now.to_rfc3339_opts(SecondsFormat::Secs, true))),
            Builtin::Date => format("%Y-%m-%d"),
            Builtin::Time => format("%H:%M:%S"),
            Builtin::DateTime => format("%Y-%m-%d %H:%M:%S"),
            Builtin::Year => format("%Y"),
            Builtin::Month => format("%m"),
            Builtin::Day => format("%d"),
            Builtin::Hour => format("%H"),
            Builtin::Minute => format("%M"),
            Builtin::Second => format("%S"),
            Builtin::Uuid | Builtin::RandomId | Builtin::RunId | Builtin::FlowName => None,
        }
    }
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_alphanumeric(length: usize) -> String {
    let mut rng = rand::rng();
    (0..length).map(|_| char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())])).collect()
}

fn pick(words: &'static [&'static str]) -> &'static str {
    words[rand::rng().random_range(0..words.len())]
}

/// `first.last1234@example.com`: the domains are reserved for examples (RFC 2606), so mail sent to a
/// fake address goes nowhere; the number makes clashes between runs unlikely (a sign-up test that
/// runs twice must not hit "email already taken").
fn fake_email() -> String {
    let number = rand::rng().random_range(1000..=99999);
    let domain = pick(&["example.com", "example.org", "example.net"]);
    format!("{}.{}{number}@{domain}", pick(FIRST_NAMES), pick(LAST_NAMES)).to_ascii_lowercase()
}

const FIRST_NAMES: &[&str] = &[
    "Alice", "Amara", "Ana", "Ben", "Carlos", "Chen", "Chloe", "Daniel", "Elena", "Emma", "Farah", "Grace", "Hana",
    "Ivan", "James", "Jonas", "Kofi", "Laila", "Liam", "Lucas", "Maria", "Mateo", "Mei", "Nadia", "Noah", "Olivia",
    "Omar", "Priya", "Ravi", "Sofia", "Tomas", "Yuki", "Zara",
];

const LAST_NAMES: &[&str] = &[
    "Adeyemi", "Andersen", "Bauer", "Brown", "Costa", "Dubois", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
    "Kim", "Kowalski", "Lopez", "Martin", "Moreau", "Nakamura", "Nguyen", "Novak", "Okafor", "Patel", "Rossi",
    "Santos", "Schmidt", "Silva", "Smith", "Tanaka", "Virtanen", "Wang", "Williams", "Yilmaz", "Zhang",
];
