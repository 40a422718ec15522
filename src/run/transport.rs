//! Moves requests: over the network (reqwest, rustls), or replayed from a cassette of
//! recorded exchanges (sandbox runs and connector development), optionally recording.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: reqwest::Method,
    /// Full URL.
    pub url: url::Url,
    /// Headers (values may be secrets: never log them).
    pub headers: Vec<(String, String)>,
    /// Form body (token requests).
    pub form: Option<Vec<(String, String)>>,
    /// JSON body.
    pub json: Option<serde_json::Value>,
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: bytes::Bytes,
}

impl Response {
    /// First header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Timed out.
    #[error("timed out")]
    Timeout,
    /// Could not connect.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Anything else on the wire.
    #[error("{0}")]
    Other(String),
    /// A replayed run asked for something the cassette does not hold.
    #[error("not in the cassette: {0}")]
    NotRecorded(String),
}

impl TransportError {
    /// Whether a retry may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TransportError::Timeout | TransportError::Connect(_) | TransportError::Other(_)
        )
    }
}

/// One recorded exchange. Credentials are never recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    /// Method.
    pub method: String,
    /// Path and query, without scheme and host.
    pub path: String,
    /// Status.
    pub status: u16,
    /// Headers kept: `link`, `content-type`, `retry-after`.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Body as JSON when it parses, else as text.
    pub body: serde_json::Value,
    /// The JSON body the request sent, if any (part of the exchange's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<serde_json::Value>,
}

/// Where requests go.
pub enum Transport {
    /// The network.
    Http {
        /// Client.
        client: reqwest::Client,
        /// Exchanges recorded for a cassette, if recording, and the connector's configured
        /// base URL (links are recorded against it, so a cassette does not depend on the
        /// host it was recorded from).
        recorder: Option<(Mutex<Vec<Exchange>>, url::Url)>,
    },
    /// A cassette, matched by method, path and query.
    Replay {
        /// Exchanges by `METHOD path?query`.
        exchanges: HashMap<String, Exchange>,
    },
}

fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{}", url.path(), q),
        None => url.path().to_owned(),
    }
}

/// An exchange's key: method, path and query, and the request's JSON body with its object
/// members sorted (so member order does not matter).
fn key(method: &str, path: &str, body: Option<&serde_json::Value>) -> String {
    let mut k = format!("{} {}", method.to_ascii_uppercase(), path);
    if let Some(b) = body {
        k.push(' ');
        k.push_str(&normalized(b).to_string());
    }
    k
}

fn normalized(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), normalized(&m[k])))
                    .collect(),
            )
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// Replaces the recorded server's origin in a body with the connector's base, so that next
/// links in bodies do not depend on the host a cassette was recorded from.
fn rehost_body(body: &[u8], from: &url::Url, to: &url::Url) -> Vec<u8> {
    let origin = |u: &url::Url| u.origin().ascii_serialization();
    let (f, t) = (origin(from), origin(to));
    if f == t {
        return body.to_vec();
    }
    let text = String::from_utf8_lossy(body);
    text.replace(&f, &t)
        .replace(&f.replace('/', "\\/"), &t.replace('/', "\\/"))
        .into_bytes()
}

impl Transport {
    /// A network transport with the given request timeout.
    pub fn http(timeout: Duration, record: Option<url::Url>) -> Result<Transport, TransportError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mapper/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError::Other(e.to_string()))?;
        Ok(Transport::Http {
            client,
            recorder: record.map(|base| (Mutex::new(Vec::new()), base)),
        })
    }

    /// A replay transport from a cassette file (one JSON exchange per line).
    pub fn replay(path: &Path) -> Result<Transport, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut exchanges = HashMap::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let ex: Exchange = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
            exchanges.insert(key(&ex.method, &ex.path, ex.request_body.as_ref()), ex);
        }
        Ok(Transport::Replay { exchanges })
    }

    /// Sends one request.
    pub async fn send(&self, req: &Request) -> Result<Response, TransportError> {
        match self {
            Transport::Http { client, recorder } => {
                let mut b = client.request(req.method.clone(), req.url.clone());
                for (k, v) in &req.headers {
                    b = b.header(k, v);
                }
                if let Some(form) = &req.form {
                    b = b.form(form);
                }
                if let Some(json) = &req.json {
                    b = b
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(serde_json::to_vec(json).unwrap_or_default());
                }
                let resp = b.send().await.map_err(map_err)?;
                let status = resp.status().as_u16();
                let headers: Vec<(String, String)> = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_ascii_lowercase(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = resp.bytes().await.map_err(map_err)?;
                let response = Response {
                    status,
                    headers,
                    body,
                };
                if let Some((rec, base)) = recorder
                    && req.form.is_none()
                    && status < 500
                    && status != 429
                {
                    let rehosted = rehost_body(&response.body, &req.url, base);
                    let body = serde_json::from_slice(&rehosted).unwrap_or_else(|_| {
                        serde_json::Value::String(
                            String::from_utf8_lossy(&response.body).into_owned(),
                        )
                    });
                    let headers = response
                        .headers
                        .iter()
                        .filter(|(k, _)| k == "link" || k == "content-type")
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                if k == "link" {
                                    rehost_links(v, base)
                                } else {
                                    v.clone()
                                },
                            )
                        })
                        .collect();
                    rec.lock().unwrap().push(Exchange {
                        method: req.method.to_string(),
                        path: path_and_query(&req.url),
                        status,
                        headers,
                        body,
                        request_body: req.json.clone(),
                    });
                }
                Ok(response)
            }
            Transport::Replay { exchanges } => {
                let pq = path_and_query(&req.url);
                let ex = exchanges
                    .get(&key(req.method.as_str(), &pq, req.json.as_ref()))
                    .ok_or_else(|| TransportError::NotRecorded(format!("{} {pq}", req.method)))?;
                let body = match &ex.body {
                    serde_json::Value::String(s)
                        if !ex
                            .headers
                            .iter()
                            .any(|(k, v)| k == "content-type" && v.contains("json")) =>
                    {
                        bytes::Bytes::from(s.clone())
                    }
                    v => bytes::Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
                };
                // links point at the recorded host; rewrite them to the host asked
                let headers = ex
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            if k == "link" {
                                rehost_links(v, &req.url)
                            } else {
                                v.clone()
                            },
                        )
                    })
                    .collect();
                Ok(Response {
                    status: ex.status,
                    headers,
                    body,
                })
            }
        }
    }

    /// Writes the recorded exchanges, sorted, one per line.
    pub fn save_recording(&self, path: &PathBuf) -> std::io::Result<usize> {
        let Transport::Http {
            recorder: Some(rec),
            ..
        } = self
        else {
            return Ok(0);
        };
        let mut ex = rec.0.lock().unwrap().clone();
        // of an exchange retried (a body cut short, then a good one), keep the last answer
        // (exchanges are told apart as replay tells them apart: method, path and body)
        ex.reverse();
        let mut ex: Vec<(String, Exchange)> = ex
            .into_iter()
            .map(|e| (key(&e.method, &e.path, e.request_body.as_ref()), e))
            .collect();
        ex.sort_by(|a, b| (&a.1.path, &a.0).cmp(&(&b.1.path, &b.0)));
        ex.dedup_by(|a, b| a.0 == b.0);
        let ex: Vec<Exchange> = ex.into_iter().map(|(_, e)| e).collect();
        let mut out = String::new();
        for e in &ex {
            out.push_str(&serde_json::to_string(e).map_err(std::io::Error::other)?);
            out.push('\n');
        }
        std::fs::write(path, out)?;
        Ok(ex.len())
    }
}

fn rehost_links(v: &str, to: &url::Url) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(s) = rest.find('<') {
        out.push_str(&rest[..=s]);
        let after = &rest[s + 1..];
        let Some(e) = after.find('>') else { break };
        let link = &after[..e];
        match url::Url::parse(link) {
            Ok(mut u) => {
                let _ = u.set_scheme(to.scheme());
                let _ = u.set_host(to.host_str());
                let _ = u.set_port(to.port());
                out.push_str(u.as_str());
            }
            Err(_) => out.push_str(link),
        }
        rest = &after[e..];
    }
    out.push_str(rest);
    out
}

fn map_err(e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() {
        TransportError::Connect(with_causes(&e))
    } else {
        TransportError::Other(with_causes(&e))
    }
}

/// An error with its chain of causes ("error sending request: ... : Connection refused"),
/// so that the root cause (connection refused, DNS, TLS) is not lost.
fn with_causes(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = c.source();
    }
    out
}
