//! The error a plugin returns: bad configuration (the flow author's fault) or a failed operation.

use std::fmt;

/// Why a plugin call failed. Both kinds fail the step; the distinction tells the user whose fault it
/// is: [`Error::InvalidConfig`] is shown next to the step's source position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The step's configuration is wrong.
    InvalidConfig {
        /// JSON Pointer into the configuration (`/headers/Accept`), empty for the whole of it.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The operation failed (connection refused, denied capability, server error, …).
    Failed(String),
}

impl Error {
    /// A configuration problem at `path` (a JSON Pointer such as `/url`).
    pub fn config(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidConfig { path: path.into(), message: message.into() }
    }

    /// A failed operation.
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// Deserialises a step configuration into `T`, turning serde's error into an
    /// [`Error::InvalidConfig`] that points at the offending field.
    pub fn parse_config<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, Error> {
        let mut de = serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let pointer = e
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                    serde_path_to_error::Segment::Map { key } => Some(key.replace('~', "~0").replace('/', "~1")),
                    serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                    serde_path_to_error::Segment::Unknown => None,
                })
                .fold(String::new(), |acc, s| acc + "/" + &s);
            Error::config(pointer, e.into_inner().to_string())
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig { path, message } if path.is_empty() => write!(f, "invalid config: {message}"),
            Error::InvalidConfig { path, message } => write!(f, "invalid config at {path}: {message}"),
            Error::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::http::HttpError> for Error {
    fn from(e: crate::http::HttpError) -> Self {
        Error::Failed(e.to_string())
    }
}
