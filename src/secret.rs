//! Secrets: a string that never shows itself in Debug, Display or logs.

use std::fmt;

/// A secret value (API key, client secret, token). Formats as `***`.
///
/// Kept instead of secrecy's `SecretString`: the run needs a secret that clones into every
/// request task and compares (to redact it from answers), which secrecy deliberately
/// withholds; zeroizing on drop buys little when reqwest copies the value into headers.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every known secret value in a text by `***` (for error messages built from
/// server answers or URLs).
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Adds a secret to hide (values shorter than 4 characters are ignored: too common).
    pub fn add(&mut self, s: &Secret) {
        if s.expose().len() >= 4 && !self.secrets.iter().any(|x| x == s.expose()) {
            self.secrets.push(s.expose().to_owned());
        }
    }
    /// The text with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter2-key");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let mut r = Redactor::default();
        r.add(&s);
        assert_eq!(r.redact("key=hunter2-key&x=1"), "key=***&x=1");
    }
}
