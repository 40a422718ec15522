//! Input values from a file (`--config`): per integration, by input name, in TOML or YAML.

use std::collections::BTreeMap;
use std::path::Path;

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("--config {file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Neither `.toml` nor `.yaml`/`.yml`.
    #[error(
        "--config {file}: name the file .toml, .yaml or .yml (the extension says how to read it)"
    )]
    Format {
        /// The file.
        file: String,
    },
    /// Not the expected shape, or not parseable.
    #[error("--config {file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// What is wrong, with the position where the parser gives one.
        message: String,
    },
}

/// A value of the file: text, a number or a boolean (inputs are text; the others are
/// written as text).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// Input values per integration: `{integration: {input name: value}}`.
#[derive(Debug, Default, Clone)]
pub struct Config(BTreeMap<String, BTreeMap<String, String>>);

impl Config {
    /// Reads a config file, by its extension.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: file.clone(),
            source,
        })?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let parse = |message: String| ConfigError::Parse {
            file: file.clone(),
            message,
        };
        let raw: BTreeMap<String, BTreeMap<String, Scalar>> = match ext.as_deref() {
            Some("toml") => {
                toml::from_str(&text).map_err(|e| parse(e.to_string().trim().to_owned()))?
            }
            Some("yaml" | "yml") => {
                if text
                    .lines()
                    .all(|l| l.trim().is_empty() || l.trim().starts_with('#'))
                {
                    BTreeMap::new()
                } else {
                    serde_saphyr::from_str(&text).map_err(|e| parse(e.to_string()))?
                }
            }
            _ => return Err(ConfigError::Format { file }),
        };
        Ok(Config(
            raw.into_iter()
                .map(|(i, vals)| (i, vals.into_iter().map(|(k, v)| (k, v.text())).collect()))
                .collect(),
        ))
    }

    /// The values of one integration (empty when the file has none for it).
    pub fn inputs(&self, integration: &str) -> BTreeMap<String, String> {
        self.0.get(integration).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn toml_and_yaml_give_the_same_values() {
        let (_a, t) = write(
            "m.toml",
            "[default]\nregion = \"eu\"\npage = 50\n\n[tenant2]\nregion = \"us\"\n",
        );
        let (_b, y) = write(
            "m.yaml",
            "default:\n  region: eu\n  page: 50\ntenant2:\n  region: us\n",
        );
        for p in [t, y] {
            let c = Config::load(&p).unwrap();
            assert_eq!(c.inputs("default")["region"], "eu");
            assert_eq!(c.inputs("default")["page"], "50");
            assert_eq!(c.inputs("tenant2")["region"], "us");
            assert!(c.inputs("other").is_empty());
        }
    }

    #[test]
    fn a_wrong_shape_or_extension_says_so() {
        let (_a, p) = write("m.toml", "region = \"eu\"\n");
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.starts_with("--config ") && e.contains("m.toml"), "{e}");
        let (_b, p) = write("m.json", "{}");
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains(".toml, .yaml or .yml"), "{e}");
    }
}
