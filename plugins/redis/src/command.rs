//! The commands this plugin knows, and how a step's configuration becomes the arguments of one.

use crate::config::Config;
use serde_json::Value;
use testmesh_plugin_sdk::Error;

/// A command the plugin knows; `Raw` sends `args` as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `GET key`.
    Get,
    /// `SET key value [EX s | PX ms]`.
    Set,
    /// `DEL key…`.
    Del,
    /// `EXISTS key…`.
    Exists,
    /// `EXPIRE key s` or `PEXPIRE key ms`.
    Expire,
    /// `TTL key`.
    Ttl,
    /// `INCR key`.
    Incr,
    /// `HGET key field`.
    Hget,
    /// `HSET key field value…`.
    Hset,
    /// `HGETALL key`.
    Hgetall,
    /// `LPUSH key value…`.
    Lpush,
    /// `LRANGE key start stop`.
    Lrange,
    /// `XADD key id field value…`.
    Xadd,
    /// Any command, from `args`.
    Raw,
}

/// Every command with its name, in the order the descriptor lists them.
pub const ALL: [(Command, &str); 14] = [
    (Command::Get, "get"),
    (Command::Set, "set"),
    (Command::Del, "del"),
    (Command::Exists, "exists"),
    (Command::Expire, "expire"),
    (Command::Ttl, "ttl"),
    (Command::Incr, "incr"),
    (Command::Hget, "hget"),
    (Command::Hset, "hset"),
    (Command::Hgetall, "hgetall"),
    (Command::Lpush, "lpush"),
    (Command::Lrange, "lrange"),
    (Command::Xadd, "xadd"),
    (Command::Raw, "command"),
];

impl Command {
    /// The command named by `config.command` or by the operation of `action: redis.<operation>`.
    pub fn choose(config_command: Option<&str>, operation: Option<&str>) -> Result<Command, Error> {
        let by_name = |name: &str, path: &str| {
            let name = name.trim().to_ascii_lowercase();
            ALL.iter().find(|(_, n)| *n == name).map(|(c, _)| *c).ok_or_else(|| {
                let known = ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ");
                Error::config(path, format!("unknown command `{name}`: use one of {known}"))
            })
        };
        match (config_command, operation) {
            (Some(command), Some(operation)) => {
                let (from_config, from_action) = (by_name(command, "/command")?, by_name(operation, "")?);
                if from_config != from_action {
                    return Err(Error::config(
                        "/command",
                        format!("`command: {command}` contradicts the operation of `action: redis.{operation}`"),
                    ));
                }
                Ok(from_config)
            }
            (Some(command), None) => by_name(command, "/command"),
            (None, Some(operation)) => by_name(operation, ""),
            (None, None) => {
                Err(Error::config("/command", "missing `command`: give one (get, set, …) or write `action: redis.get`"))
            }
        }
    }

    /// The command's name as flows write it.
    pub fn name(self) -> &'static str {
        ALL.iter().find(|(c, _)| *c == self).map_or("command", |(_, n)| *n)
    }

    /// The config fields this command reads, beside the server and `command`.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Command::Get | Command::Ttl | Command::Incr | Command::Hgetall => &["key"],
            Command::Set => &["key", "value", "ttl", "seconds"],
            Command::Del | Command::Exists => &["key", "keys"],
            Command::Expire => &["key", "ttl", "seconds"],
            Command::Hget => &["key", "field"],
            Command::Hset => &["key", "field", "value", "fields"],
            Command::Lpush => &["key", "value", "values"],
            Command::Lrange => &["key", "start", "stop"],
            Command::Xadd => &["key", "id", "fields", "field", "value"],
            Command::Raw => &["args"],
        }
    }

    /// The arguments to send (`["SET", "k", "v", "EX", "10"]`), or a config error at the field that
    /// is missing, wrong, or not used by this command.
    pub fn args(self, config: &Config) -> Result<Vec<String>, Error> {
        self.check_unused(config)?;
        let key = || -> Result<String, Error> {
            config.key.clone().ok_or_else(|| Error::config("/key", format!("`{}` needs a `key`", self.name())))
        };
        let verb = self.name().to_ascii_uppercase();
        let args = match self {
            Command::Get | Command::Ttl | Command::Incr | Command::Hgetall => vec![verb, key()?],
            Command::Set => {
                let value = config.value.as_ref().ok_or_else(|| Error::config("/value", "`set` needs a `value`"))?;
                let mut args = vec![verb, key()?, encode(value)];
                if let Some((unit, amount)) = expiry(config)? {
                    args.extend([unit.to_string(), amount]);
                }
                args
            }
            Command::Del | Command::Exists => {
                let mut args = vec![verb];
                args.extend(config.key.clone());
                args.extend(config.keys.iter().flatten().cloned());
                if args.len() == 1 {
                    return Err(Error::config("/key", format!("`{}` needs a `key` (or `keys`)", self.name())));
                }
                args
            }
            Command::Expire => match expiry(config)? {
                Some(("EX", seconds)) => vec!["EXPIRE".into(), key()?, seconds],
                Some((_, millis)) => vec!["PEXPIRE".into(), key()?, millis],
                None => return Err(Error::config("/ttl", "`expire` needs `ttl` (or `seconds`)")),
            },
            Command::Hget => {
                let field = config.field.clone().ok_or_else(|| Error::config("/field", "`hget` needs a `field`"))?;
                vec![verb, key()?, field]
            }
            Command::Hset | Command::Xadd => {
                let mut args = vec![verb, key()?];
                if self == Command::Xadd {
                    args.push(config.id.clone().unwrap_or_else(|| "*".to_string()));
                }
                let pairs = field_pairs(config, self)?;
                args.extend(pairs.into_iter().flat_map(|(f, v)| [f, v]));
                args
            }
            Command::Lpush => {
                let mut args = vec![verb, key()?];
                args.extend(config.value.iter().map(encode));
                args.extend(config.values.iter().flatten().map(encode));
                if args.len() == 2 {
                    return Err(Error::config("/value", "`lpush` needs a `value` (or `values`)"));
                }
                args
            }
            Command::Lrange => {
                vec![verb, key()?, config.start.unwrap_or(0).to_string(), config.stop.unwrap_or(-1).to_string()]
            }
            Command::Raw => match &config.args {
                Some(args) if !args.is_empty() => args.clone(),
                _ => return Err(Error::config("/args", "`command` needs `args`, the whole command: [\"PING\"]")),
            },
        };
        Ok(args)
    }

    /// Refuses fields this command would ignore: most often a typo or the wrong command.
    fn check_unused(self, config: &Config) -> Result<(), Error> {
        let given = [
            ("key", config.key.is_some()),
            ("keys", config.keys.is_some()),
            ("value", config.value.is_some()),
            ("values", config.values.is_some()),
            ("field", config.field.is_some()),
            ("fields", config.fields.is_some()),
            ("ttl", config.ttl.is_some()),
            ("seconds", config.seconds.is_some()),
            ("id", config.id.is_some()),
            ("start", config.start.is_some()),
            ("stop", config.stop.is_some()),
            ("args", config.args.is_some()),
        ];
        match given.iter().find(|(name, set)| *set && !self.fields().contains(name)) {
            Some((name, _)) => Err(Error::config(
                format!("/{name}"),
                format!("`{}` does not use `{name}`; it reads {}", self.name(), self.fields().join(", ")),
            )),
            None => Ok(()),
        }
    }
}

/// A value as Redis stores it: strings as they are, anything else JSON-encoded.
pub fn encode(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `("EX", seconds)` for a whole number of seconds, else `("PX", milliseconds)`; `None` without expiry.
fn expiry(config: &Config) -> Result<Option<(&'static str, String)>, Error> {
    let expiry = match (config.ttl, config.seconds) {
        (Some(_), Some(_)) => {
            return Err(Error::config("/seconds", "`ttl` and `seconds` both set the expiry: keep one"));
        }
        (ttl, seconds) => ttl.or(seconds),
    };
    let path = if config.ttl.is_some() { "/ttl" } else { "/seconds" };
    match expiry {
        None => Ok(None),
        Some(d) if d.as_millis() == 0 => Err(Error::config(path, "the expiry must be at least 1ms")),
        Some(d) if d.subsec_nanos() == 0 => Ok(Some(("EX", d.as_secs().to_string()))),
        Some(d) if d.subsec_nanos() % 1_000_000 == 0 => Ok(Some(("PX", d.as_millis().to_string()))),
        Some(_) => Err(Error::config(path, "Redis expiries have millisecond precision")),
    }
}

/// The field/value pairs of `hset` and `xadd`: `field` + `value`, then `fields`.
fn field_pairs(config: &Config, command: Command) -> Result<Vec<(String, String)>, Error> {
    let mut pairs = Vec::new();
    match (&config.field, &config.value) {
        (Some(field), Some(value)) => pairs.push((field.clone(), encode(value))),
        (Some(_), None) => {
            return Err(Error::config("/value", format!("`field` needs a `value` for `{}`", command.name())));
        }
        (None, Some(_)) => {
            return Err(Error::config("/field", format!("`value` needs a `field` for `{}`", command.name())));
        }
        (None, None) => {}
    }
    pairs.extend(config.fields.iter().flatten().map(|(f, v)| (f.clone(), encode(v))));
    if pairs.is_empty() {
        return Err(Error::config("/fields", format!("`{}` needs `fields` (or `field` and `value`)", command.name())));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(command: &str, config: Value) -> Result<Vec<String>, Error> {
        let config: Config = Error::parse_config(&config.to_string())?;
        Command::choose(Some(command), None)?.args(&config)
    }

    fn ok(command: &str, config: Value) -> Vec<String> {
        args(command, config).expect("valid")
    }

    fn err_path(command: &str, config: Value) -> String {
        match args(command, config) {
            Err(Error::InvalidConfig { path, .. }) => path,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn choosing_the_command() {
        assert_eq!(Command::choose(Some("GET"), None), Ok(Command::Get));
        assert_eq!(Command::choose(None, Some("hgetall")), Ok(Command::Hgetall));
        assert_eq!(Command::choose(Some("set"), Some("set")), Ok(Command::Set));
        assert_eq!(Command::choose(Some("command"), None), Ok(Command::Raw));
        assert!(
            matches!(Command::choose(Some("set"), Some("get")), Err(Error::InvalidConfig { path, .. }) if path == "/command")
        );
        assert!(matches!(Command::choose(None, None), Err(Error::InvalidConfig { path, .. }) if path == "/command"));
        let err = Command::choose(Some("flushall"), None).expect_err("unknown");
        assert!(matches!(&err, Error::InvalidConfig { message, .. } if message.contains("hgetall")), "{err:?}");
        assert!(
            matches!(Command::choose(None, Some("nope")), Err(Error::InvalidConfig { path, .. }) if path.is_empty())
        );
    }

    #[test]
    fn simple_commands() {
        assert_eq!(ok("get", json!({"key": "k"})), ["GET", "k"]);
        assert_eq!(ok("ttl", json!({"key": "k"})), ["TTL", "k"]);
        assert_eq!(ok("incr", json!({"key": "k"})), ["INCR", "k"]);
        assert_eq!(ok("hgetall", json!({"key": "k"})), ["HGETALL", "k"]);
        assert_eq!(ok("hget", json!({"key": "k", "field": "f"})), ["HGET", "k", "f"]);
        assert_eq!(ok("del", json!({"key": "a", "keys": ["b", "c"]})), ["DEL", "a", "b", "c"]);
        assert_eq!(ok("exists", json!({"keys": ["b"]})), ["EXISTS", "b"]);
        assert_eq!(ok("lrange", json!({"key": "l"})), ["LRANGE", "l", "0", "-1"]);
        assert_eq!(ok("lrange", json!({"key": "l", "start": 1, "stop": 3})), ["LRANGE", "l", "1", "3"]);
        assert_eq!(ok("command", json!({"args": ["PING"]})), ["PING"]);
    }

    #[test]
    fn set_encodes_values_and_expiry() {
        assert_eq!(ok("set", json!({"key": "k", "value": "v"})), ["SET", "k", "v"]);
        assert_eq!(ok("set", json!({"key": "k", "value": {"a": 1}, "ttl": 10})), ["SET", "k", "{\"a\":1}", "EX", "10"]);
        assert_eq!(ok("set", json!({"key": "k", "value": 5, "seconds": "1.5s"})), ["SET", "k", "5", "PX", "1500"]);
        assert_eq!(ok("set", json!({"key": "k", "value": null})), ["SET", "k", "null"]);
        assert_eq!(err_path("set", json!({"key": "k"})), "/value");
        assert_eq!(err_path("set", json!({"key": "k", "value": 1, "ttl": 1, "seconds": 1})), "/seconds");
        assert_eq!(err_path("set", json!({"key": "k", "value": 1, "ttl": 0})), "/ttl");
    }

    #[test]
    fn expire_uses_seconds_or_milliseconds() {
        assert_eq!(ok("expire", json!({"key": "k", "seconds": 60})), ["EXPIRE", "k", "60"]);
        assert_eq!(ok("expire", json!({"key": "k", "ttl": "250ms"})), ["PEXPIRE", "k", "250"]);
        assert_eq!(err_path("expire", json!({"key": "k"})), "/ttl");
    }

    #[test]
    fn hashes_lists_and_streams() {
        assert_eq!(ok("hset", json!({"key": "h", "field": "f", "value": 1})), ["HSET", "h", "f", "1"]);
        assert_eq!(
            ok("hset", json!({"key": "h", "fields": {"a": "x", "b": [1]}})),
            ["HSET", "h", "a", "x", "b", "[1]"]
        );
        assert_eq!(err_path("hset", json!({"key": "h"})), "/fields");
        assert_eq!(err_path("hset", json!({"key": "h", "field": "f"})), "/value");
        assert_eq!(ok("lpush", json!({"key": "l", "value": "a", "values": ["b", 2]})), ["LPUSH", "l", "a", "b", "2"]);
        assert_eq!(err_path("lpush", json!({"key": "l"})), "/value");
        assert_eq!(
            ok("xadd", json!({"key": "s", "fields": {"event": "signup"}})),
            ["XADD", "s", "*", "event", "signup"]
        );
        assert_eq!(ok("xadd", json!({"key": "s", "id": "1-1", "fields": {"n": 1}})), ["XADD", "s", "1-1", "n", "1"]);
        assert_eq!(err_path("xadd", json!({"key": "s"})), "/fields");
    }

    #[test]
    fn missing_and_unused_fields() {
        assert_eq!(err_path("get", json!({})), "/key");
        assert_eq!(err_path("del", json!({})), "/key");
        assert_eq!(err_path("hget", json!({"key": "k"})), "/field");
        assert_eq!(err_path("command", json!({"args": []})), "/args");
        assert_eq!(err_path("get", json!({"key": "k", "value": "v"})), "/value");
        assert_eq!(err_path("command", json!({"key": "k", "args": ["PING"]})), "/key");
    }
}
