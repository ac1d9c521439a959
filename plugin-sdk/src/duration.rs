//! Durations in step configurations: a number of milliseconds (`250`) or text with units (`250ms`,
//! `10s`, `1m30s`, `1.5s`), parsed the same way by every plugin.
//!
//! Use [`parse`] on text, [`from_value`] on a JSON value, or the serde helpers on a config field:
//!
//! ```ignore
//! #[derive(serde::Deserialize)]
//! struct Config {
//!     #[serde(default, with = "testmesh_plugin_sdk::duration::option")]
//!     timeout: Option<std::time::Duration>,
//!     #[serde(with = "testmesh_plugin_sdk::duration")]
//!     duration: std::time::Duration,
//! }
//! ```

use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// The hint every error message ends with.
const EXPECTED: &str = "a number of milliseconds (250) or a number with a unit (250ms, 10s, 1m30s, 1.5s)";

/// Parses a duration: a plain number is milliseconds (`250`, `1.5`); otherwise one or more
/// `<number><unit>` parts, units `ns`, `us` (or `µs`), `ms`, `s`, `m` and `h` (`1m30s`, `1.5s`).
/// Surrounding whitespace is ignored; negative durations are refused.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("empty duration: expected {EXPECTED}"));
    }
    if let Ok(millis) = trimmed.parse::<f64>() {
        return from_millis(millis).map_err(|e| format!("`{trimmed}`: {e}"));
    }
    let bad = || format!("`{trimmed}` is not a duration: expected {EXPECTED}");
    let mut rest = trimmed;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let value: f64 = number.parse().map_err(|_| bad())?;
        let seconds_per_unit = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        let part = Duration::try_from_secs_f64(value * seconds_per_unit).map_err(|_| bad())?;
        total = total.checked_add(part).ok_or_else(|| format!("`{trimmed}` is too long a duration"))?;
        rest = after;
    }
    Ok(total)
}

/// Reads a duration from JSON: a non-negative number of milliseconds, or text accepted by [`parse`].
pub fn from_value(value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(n) => from_millis(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => parse(s),
        other => Err(format!("expected a duration, {EXPECTED}; found {other}")),
    }
}

/// Renders a duration the way [`parse`] reads it back, with the largest units that fit: `250ms`,
/// `1.5s`, `1m30s`, `2h`. Sub-millisecond parts are kept as a fraction of a millisecond.
pub fn format(duration: Duration) -> String {
    let total_ms = duration.as_secs_f64() * 1000.0;
    if total_ms < 1000.0 {
        return format!("{}ms", trim_float(total_ms));
    }
    let secs = duration.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let fraction = f64::from(duration.subsec_nanos()) / 1e9;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if seconds > 0 || fraction > 0.0 {
        out.push_str(&format!("{}s", trim_float(seconds as f64 + fraction)));
    }
    out
}

/// The JSON Schema of a duration field, for config schemas: a number of milliseconds or a string.
pub fn json_schema(description: &str) -> Value {
    serde_json::json!({
        "description": format!("{description} A number of milliseconds or a string with units: 250ms, 10s, 1m30s, 1.5s."),
        "anyOf": [
            { "type": "number", "minimum": 0 },
            { "type": "string", "examples": ["250ms", "10s", "1m30s"] }
        ]
    })
}

/// Deserialises a required duration field (`#[serde(with = "testmesh_plugin_sdk::duration")]`).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// Serde helpers for an optional duration field: `null` and an absent field (with
/// `#[serde(default)]`) are `None`.
pub mod option {
    use super::DurationVisitor;
    use serde::de::{Deserializer, Visitor};
    use std::fmt;
    use std::time::Duration;

    /// Deserialises an `Option<Duration>` field
    /// (`#[serde(default, with = "testmesh_plugin_sdk::duration::option")]`).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(OptionVisitor)
    }

    struct OptionVisitor;

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            DurationVisitor.expecting(f)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            super::deserialize(deserializer).map(Some)
        }
    }
}

/// Milliseconds as a duration, refusing negative, infinite and absurdly large values.
fn from_millis(millis: f64) -> Result<Duration, String> {
    if millis.is_nan() {
        return Err(format!("not a duration; expected {EXPECTED}"));
    }
    if millis < 0.0 {
        return Err(format!("a duration cannot be negative; expected {EXPECTED}"));
    }
    Duration::try_from_secs_f64(millis / 1000.0).map_err(|_| "too long a duration".to_string())
}

/// `1.5` → `1.5`, `2.0` → `2`, at most three decimals.
fn trim_float(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Accepts numbers (milliseconds) and strings ([`parse`]).
struct DurationVisitor;

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_millis(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_millis)
            .map_err(|_| E::custom(format!("a duration cannot be negative ({v})")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        from_millis(v).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn plain_numbers_are_milliseconds() {
        assert_eq!(parse("250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse(" 1.5 "), Ok(Duration::from_micros(1500)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn units_and_compound_durations() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1h2m3s4ms"), Ok(Duration::from_millis(3_723_004)));
        assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("7ns"), Ok(Duration::from_nanos(7)));
    }

    #[test]
    fn malformed_durations_are_refused_with_a_hint() {
        for bad in ["", "  ", "abc", "10x", "s", "1..5s", "-1s", "10 s", "1m30", "NaN"] {
            let err = parse(bad).expect_err(bad);
            assert!(err.contains("250ms") || err.contains("negative"), "{bad}: {err}");
        }
        assert!(parse("-5").expect_err("negative").contains("negative"));
    }

    #[test]
    fn json_values() {
        assert_eq!(from_value(&serde_json::json!(100)), Ok(Duration::from_millis(100)));
        assert_eq!(from_value(&serde_json::json!(0.5)), Ok(Duration::from_micros(500)));
        assert_eq!(from_value(&serde_json::json!("2s")), Ok(Duration::from_secs(2)));
        assert!(from_value(&serde_json::json!(-1)).is_err());
        assert!(from_value(&serde_json::json!(true)).is_err());
    }

    #[test]
    fn format_round_trips() {
        for (d, text) in [
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(7200), "2h"),
            (Duration::ZERO, "0ms"),
        ] {
            assert_eq!(format(d), text);
            assert_eq!(parse(text), Ok(d));
        }
    }

    #[derive(Deserialize, Debug)]
    struct Config {
        #[serde(default, with = "super::option")]
        timeout: Option<Duration>,
        #[serde(with = "super")]
        duration: Duration,
    }

    #[test]
    fn serde_helpers() {
        let c: Config = serde_json::from_str(r#"{"duration": 5}"#).expect("valid");
        assert_eq!((c.timeout, c.duration), (None, Duration::from_millis(5)));
        let c: Config = serde_json::from_str(r#"{"duration": "1m", "timeout": null}"#).expect("valid");
        assert_eq!((c.timeout, c.duration), (None, Duration::from_secs(60)));
        let c: Config = serde_json::from_str(r#"{"duration": 2.5, "timeout": "3s"}"#).expect("valid");
        assert_eq!((c.timeout, c.duration), (Some(Duration::from_secs(3)), Duration::from_micros(2500)));
        let err = serde_json::from_str::<Config>(r#"{"duration": "soon"}"#).expect_err("invalid");
        assert!(err.to_string().contains("`soon` is not a duration"), "{err}");
        let err = serde_json::from_str::<Config>(r#"{"duration": -3}"#).expect_err("negative");
        assert!(err.to_string().contains("negative"), "{err}");
        let err = serde_json::from_str::<Config>(r#"{"duration": [1]}"#).expect_err("list");
        assert!(err.to_string().contains("milliseconds"), "{err}");
    }
}
