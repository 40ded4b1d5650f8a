//! The adapter's error type.

use std::fmt;

/// Why a burn model could not be summarised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// burn's capture backend refused the run (scope errors, non-capture tensors).
    Capture,
    /// The model's construction or forward pass panicked on the capture device, e.g. it
    /// read a tensor's values (`into_data`, `into_scalar`), which a shape-only run cannot
    /// answer, or a burn shape assertion failed.
    Panicked,
    /// `tabulate` refused the replayed forward pass (its message names the row and the
    /// operation).
    Summary,
}

impl Error {
    pub(crate) fn capture(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Capture,
            message: message.into(),
        }
    }

    pub(crate) fn panicked(stage: &str, message: &str) -> Error {
        Error {
            kind: ErrorKind::Panicked,
            message: format!("{stage} panicked on the capture device: {message}"),
        }
    }

    pub(crate) fn summary(error: &tabulate::Error) -> Error {
        Error {
            kind: ErrorKind::Summary,
            message: error.to_string(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
