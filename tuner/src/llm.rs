//! OpenAI-compatible chat client: `POST {base}/chat/completions` over `reqwest::blocking` (rustls),
//! with a request timeout, retries with exponential backoff and jitter on HTTP 429, 5xx, timeouts
//! and connection failures (honouring `Retry-After` in seconds, capped at the maximum backoff), a clear error after the last attempt, and
//! every attempt (request, reply or error, status, latency) appended to a JSONL log.
//!
//! Configuration comes from `OPENAI_API_KEY`, `OPENAI_BASE_URL` and the `--model` flag; with
//! neither variable set there is no LLM and the tuner falls back to its built-in optimizer.

use crate::jsonl::{timestamp_now, JsonlLog};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The endpoint used when only `OPENAI_API_KEY` is set.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The model used when `--model` is not given.
pub const DEFAULT_MODEL: &str = "gpt-4o";
/// The one line the tuner prints when no LLM is configured.
pub const NO_LLM_MESSAGE: &str =
    "no LLM configured (set OPENAI_API_KEY and/or OPENAI_BASE_URL); using the built-in optimizer";

/// Who wrote a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The request.
    User,
    /// A previous model reply.
    Assistant,
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Author of the message.
    pub role: Role,
    /// Text of the message.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Message {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// Everything the client needs: endpoint, credentials, model, timeouts, retry policy, log file.
/// Its `Debug` output shows `api_key` as `<redacted>`.
#[derive(Clone, PartialEq)]
pub struct LlmConfig {
    /// Bearer token (`OPENAI_API_KEY`); local servers may need none.
    pub api_key: Option<String>,
    /// Base URL such as `https://api.openai.com/v1` (`/chat/completions` is appended).
    pub base_url: String,
    /// Model name sent in every request.
    pub model: String,
    /// Sampling temperature; `None` leaves the server's default.
    pub temperature: Option<f64>,
    /// Limit for one HTTP attempt (connect, send and read the whole reply).
    pub timeout: Duration,
    /// Retries after the first attempt (so `max_retries + 1` attempts in all).
    pub max_retries: u32,
    /// Backoff before the first retry; doubled for every further retry.
    pub backoff_base: Duration,
    /// Upper bound for one backoff delay, also for a server's `Retry-After`.
    pub backoff_max: Duration,
    /// JSONL file receiving every attempt; `None` disables logging.
    pub log_path: Option<PathBuf>,
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("temperature", &self.temperature)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("log_path", &self.log_path)
            .finish()
    }
}

/// Replaces key-like strings with `[REDACTED]`: the token after `Bearer`, `sk-...` keys, and
/// long (32+ characters) runs of base64-ish characters with both letters and digits. Applied to
/// server error bodies before they reach feedback, history, reports or the log.
pub fn redact_secrets(text: &str) -> String {
    let is_tok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '=');
    let mut out = String::with_capacity(text.len());
    let mut prev_bearer = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !is_tok(c) {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            if !c.is_whitespace() {
                prev_bearer = false;
            }
            continue;
        }
        let end = rest.find(|c: char| !is_tok(c)).unwrap_or(rest.len());
        let run = &rest[..end];
        rest = &rest[end..];
        let digits = run.chars().filter(char::is_ascii_digit).count();
        let letters = run.chars().filter(char::is_ascii_alphabetic).count();
        let secret = prev_bearer
            || (run.starts_with("sk-") && run.len() >= 10)
            || (run.len() >= 32 && digits >= 2 && letters >= 2);
        prev_bearer = run.eq_ignore_ascii_case("bearer");
        out.push_str(if secret { "[REDACTED]" } else { run });
    }
    out
}

impl LlmConfig {
    /// Reads `OPENAI_API_KEY` and `OPENAI_BASE_URL`; `None` when neither is set (no LLM).
    pub fn from_env(model: Option<String>) -> Option<LlmConfig> {
        let key = std::env::var("OPENAI_API_KEY").ok();
        let base = std::env::var("OPENAI_BASE_URL").ok();
        LlmConfig::from_values(key, base, model)
    }

    /// Like [`LlmConfig::from_env`] with explicit values (empty strings count as unset).
    pub fn from_values(
        api_key: Option<String>,
        base_url: Option<String>,
        model: Option<String>,
    ) -> Option<LlmConfig> {
        let nonempty =
            |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let api_key = nonempty(api_key);
        let base_url = match (nonempty(base_url), &api_key) {
            (Some(b), _) => b,
            (None, Some(_)) => DEFAULT_BASE_URL.to_string(),
            (None, None) => return None,
        };
        Some(LlmConfig {
            api_key,
            base_url,
            model: nonempty(model).unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            temperature: None,
            timeout: Duration::from_secs(120),
            max_retries: 5,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            log_path: None,
        })
    }

    /// The full chat-completions URL for this base URL.
    pub fn endpoint(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        if base.ends_with("/chat/completions") {
            base.to_string()
        } else {
            format!("{base}/chat/completions")
        }
    }

    /// One line describing the configuration, without the key (for the tuner's banner).
    pub fn describe(&self) -> String {
        format!(
            "LLM optimizer: model {} at {}{}",
            self.model,
            self.endpoint(),
            if self.api_key.is_some() {
                " (with API key)"
            } else {
                ""
            }
        )
    }
}

/// Why a chat request failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The HTTP client or the log file could not be set up.
    #[error("cannot set up the LLM client: {0}")]
    Setup(String),
    /// The server kept answering with an error status.
    #[error("LLM request to {url} failed with HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        /// Endpoint.
        url: String,
        /// Last HTTP status.
        status: u16,
        /// Start of the last error body.
        body: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Every attempt timed out.
    #[error("LLM request to {url} timed out after {secs:.1} s, {attempts} attempt(s); raise the timeout or check the server")]
    Timeout {
        /// Endpoint.
        url: String,
        /// Timeout of one attempt in seconds.
        secs: f64,
        /// Attempts made.
        attempts: u32,
    },
    /// The server could not be reached.
    #[error("cannot reach LLM server {url} after {attempts} attempt(s): {message}; check OPENAI_BASE_URL")]
    Network {
        /// Endpoint.
        url: String,
        /// Last transport error.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The reply was not a chat completion with text.
    #[error("LLM server {url} sent an unexpected reply: {message}")]
    BadReply {
        /// Endpoint.
        url: String,
        /// What was wrong.
        message: String,
    },
}

/// Anything that answers a list of chat messages with text (the HTTP client, or a test double).
pub trait ChatBackend {
    /// Sends the conversation and returns the assistant's reply text.
    fn chat(&self, messages: &[Message]) -> Result<String, LlmError>;
    /// The model name, for logs and reports.
    fn model(&self) -> &str;
}

/// Result of one HTTP attempt.
enum AttemptOutcome {
    Reply(String),
    Retry {
        err: LlmError,
        retry_after: Option<Duration>,
    },
    Fatal(LlmError),
}

/// The blocking OpenAI-compatible client.
#[derive(Debug)]
pub struct LlmClient {
    config: LlmConfig,
    http: reqwest::blocking::Client,
    log: Option<JsonlLog>,
    url: String,
    requests: AtomicU64,
}

impl LlmClient {
    /// Builds the HTTP client and opens the log file.
    pub fn new(config: LlmConfig) -> Result<LlmClient, LlmError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("mapper-tuner/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Setup(e.to_string()))?;
        let log = match &config.log_path {
            Some(p) => Some(JsonlLog::open(p).map_err(|e| LlmError::Setup(e.to_string()))?),
            None => None,
        };
        let url = config.endpoint();
        Ok(LlmClient {
            config,
            http,
            log,
            url,
            requests: AtomicU64::new(0),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// The backoff before retry number `retry` (1-based), with jitter in `[d/2, d]`.
    fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .config
            .backoff_base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let d = exp.min(self.config.backoff_max);
        let half = d / 2;
        half + half.mul_f64(fastrand::f64())
    }

    fn attempt(&self, body: &serde_json::Value) -> (AttemptOutcome, Option<u16>) {
        let mut req = self.http.post(&self.url).json(body);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let resp = match req.send() {
            Ok(r) => r,
            Err(e) => return (self.transport_error(e), None),
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok());
        let text = match resp.text() {
            Ok(t) => t,
            Err(e) => return (self.transport_error(e), Some(status.as_u16())),
        };
        let code = status.as_u16();
        if status.is_success() {
            return (parse_completion(&self.url, &text), Some(code));
        }
        let err = LlmError::Status {
            url: self.url.clone(),
            status: code,
            body: preview(&self.redact(&text), 500),
            attempts: 0,
        };
        let outcome = if code == 429 || status.is_server_error() || code == 408 {
            AttemptOutcome::Retry { err, retry_after }
        } else {
            AttemptOutcome::Fatal(err)
        };
        (outcome, Some(code))
    }

    /// [`redact_secrets`], and the configured key wherever it appears.
    fn redact(&self, text: &str) -> String {
        let mut t = text.to_string();
        if let Some(k) = self.config.api_key.as_deref().filter(|k| k.len() >= 4) {
            t = t.replace(k, "[REDACTED]");
        }
        redact_secrets(&t)
    }

    fn transport_error(&self, e: reqwest::Error) -> AttemptOutcome {
        let err = if e.is_timeout() {
            LlmError::Timeout {
                url: self.url.clone(),
                secs: self.config.timeout.as_secs_f64(),
                attempts: 0,
            }
        } else {
            LlmError::Network {
                url: self.url.clone(),
                message: error_chain(&e),
                attempts: 0,
            }
        };
        AttemptOutcome::Retry {
            err,
            retry_after: None,
        }
    }

    fn log_attempt(&self, entry: serde_json::Value) {
        if let Some(log) = &self.log {
            if let Err(e) = log.append(&entry) {
                eprintln!(
                    "warning: cannot write LLM log {}: {e}",
                    log.path().display()
                );
            }
        }
    }
}

impl ChatBackend for LlmClient {
    fn chat(&self, messages: &[Message]) -> Result<String, LlmError> {
        let request_id = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let mut body = serde_json::json!({ "model": self.config.model, "messages": messages });
        if let Some(t) = self.config.temperature {
            body["temperature"] = serde_json::json!(t);
        }
        let attempts = self.config.max_retries.saturating_add(1);
        let mut attempt = 1;
        loop {
            let start = Instant::now();
            let (outcome, status) = self.attempt(&body);
            let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
            let (reply, error) = match &outcome {
                AttemptOutcome::Reply(r) => (Some(r.as_str()), None),
                AttemptOutcome::Retry { err, .. } | AttemptOutcome::Fatal(err) => {
                    (None, Some(err.to_string()))
                }
            };
            self.log_attempt(serde_json::json!({
                "timestamp": timestamp_now(),
                "request": request_id,
                "attempt": attempt,
                "model": self.config.model,
                "url": self.url,
                "messages": messages,
                "status": status,
                "latency_ms": (latency_ms * 1000.0).round() / 1000.0,
                "reply": reply,
                "error": error,
            }));
            match outcome {
                AttemptOutcome::Reply(r) => return Ok(r),
                AttemptOutcome::Fatal(e) => return Err(with_attempts(e, attempt)),
                AttemptOutcome::Retry { err, retry_after } => {
                    if attempt >= attempts {
                        return Err(with_attempts(err, attempt));
                    }
                    let delay = match retry_after {
                        Some(ra) => ra.min(self.config.backoff_max),
                        None => self.backoff(attempt),
                    };
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                    attempt += 1;
                }
            }
        }
    }

    fn model(&self) -> &str {
        &self.config.model
    }
}

/// Sets the attempt count of an error.
fn with_attempts(e: LlmError, n: u32) -> LlmError {
    match e {
        LlmError::Status {
            url, status, body, ..
        } => LlmError::Status {
            url,
            status,
            body,
            attempts: n,
        },
        LlmError::Timeout { url, secs, .. } => LlmError::Timeout {
            url,
            secs,
            attempts: n,
        },
        LlmError::Network { url, message, .. } => LlmError::Network {
            url,
            message,
            attempts: n,
        },
        other => other,
    }
}

/// Reads `choices[0].message.content` from a chat-completion body.
fn parse_completion(url: &str, text: &str) -> AttemptOutcome {
    let bad = |message: String| {
        AttemptOutcome::Fatal(LlmError::BadReply {
            url: url.to_string(),
            message,
        })
    };
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return bad(format!(
                "body is not JSON ({e}): {}",
                preview(&redact_secrets(text), 200)
            ))
        }
    };
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return bad(format!(
            "server reported an error: {}",
            preview(&redact_secrets(&err.to_string()), 300)
        ));
    }
    let content = v
        .get("choices")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("message"))
        .and_then(|m| m.get("content"));
    match content {
        Some(serde_json::Value::String(s)) => AttemptOutcome::Reply(s.clone()),
        // Some servers send content as a list of parts: [{"type": "text", "text": "..."}].
        Some(serde_json::Value::Array(parts)) => AttemptOutcome::Reply(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                .collect(),
        ),
        _ => bad(format!(
            "no `choices[0].message.content` text in {}",
            preview(text, 200)
        )),
    }
}

/// The error and its sources, joined by `: `.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let msg = inner.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        src = inner.source();
    }
    s
}

/// At most `max` characters of `s`, with `...` when cut.
pub(crate) fn preview(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_values() {
        assert_eq!(LlmConfig::from_values(None, None, Some("m".into())), None);
        assert_eq!(
            LlmConfig::from_values(Some("  ".into()), Some("".into()), None),
            None
        );
        let c = LlmConfig::from_values(Some("k".into()), None, None).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.model, DEFAULT_MODEL);
        assert_eq!(c.endpoint(), "https://api.openai.com/v1/chat/completions");
        let c = LlmConfig::from_values(
            None,
            Some("http://127.0.0.1:8000/v1/".into()),
            Some("llama".into()),
        )
        .unwrap();
        assert_eq!(c.api_key, None);
        assert_eq!(c.model, "llama");
        assert_eq!(c.endpoint(), "http://127.0.0.1:8000/v1/chat/completions");
        assert_eq!(
            c.describe(),
            "LLM optimizer: model llama at http://127.0.0.1:8000/v1/chat/completions"
        );
        let c = LlmConfig::from_values(None, Some("http://h/v1/chat/completions".into()), None)
            .unwrap();
        assert_eq!(c.endpoint(), "http://h/v1/chat/completions");
    }

    #[test]
    fn completion_parsing() {
        match parse_completion(
            "u",
            r#"{"choices":[{"message":{"role":"assistant","content":"hi"}}]}"#,
        ) {
            AttemptOutcome::Reply(r) => assert_eq!(r, "hi"),
            _ => panic!("expected a reply"),
        }
        match parse_completion("u", r#"{"choices":[]}"#) {
            AttemptOutcome::Fatal(e) => {
                assert_eq!(e.to_string(), "LLM server u sent an unexpected reply: no `choices[0].message.content` text in {\"choices\":[]}")
            }
            _ => panic!("expected an error"),
        }
        match parse_completion("u", "oops") {
            AttemptOutcome::Fatal(e) => assert!(e.to_string().contains("body is not JSON"), "{e}"),
            _ => panic!("expected an error"),
        }
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let mut c = LlmConfig::from_values(Some("k".into()), None, None).unwrap();
        c.backoff_base = Duration::from_millis(100);
        c.backoff_max = Duration::from_millis(1000);
        let client = LlmClient::new(c).unwrap();
        for _ in 0..20 {
            let b1 = client.backoff(1);
            assert!(
                b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100),
                "{b1:?}"
            );
            let b3 = client.backoff(3);
            assert!(
                b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400),
                "{b3:?}"
            );
            let b10 = client.backoff(10);
            assert!(
                b10 >= Duration::from_millis(500) && b10 <= Duration::from_millis(1000),
                "{b10:?}"
            );
        }
    }

    #[test]
    fn odd_retry_after_values_do_not_panic() {
        for v in ["1e30", "-1", "NaN", "inf", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            assert_eq!(
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok()),
                None,
                "{v}"
            );
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let c = LlmConfig::from_values(Some("sk-secret-123456".into()), None, None).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("sk-secret"), "{d}");
        assert!(d.contains("api_key: Some(\"<redacted>\")"), "{d}");
        assert_eq!(
            redact_secrets("invalid key sk-abcdefghijkl for Bearer xyz.123, see https://x.org/v1"),
            "invalid key [REDACTED] for Bearer [REDACTED].123, see https://x.org/v1"
        );
        let b64 = "QWxhZGRpbjpvcGVuIHNlc2FtZQ1234567890abcdEFGH";
        assert_eq!(redact_secrets(&format!("token={b64}!")), "[REDACTED]!");
        assert_eq!(
            redact_secrets("Task * GPU; 1024x768"),
            "Task * GPU; 1024x768"
        );
        match parse_completion("u", "{\"error\": \"bad key sk-live-0123456789abc\"}") {
            AttemptOutcome::Fatal(e) => {
                let m = e.to_string();
                assert!(m.contains("[REDACTED]") && !m.contains("sk-live"), "{m}");
            }
            _ => panic!(),
        }
    }

    #[test]
    fn preview_cuts() {
        assert_eq!(preview("  abcdef ", 3), "abc...");
        assert_eq!(preview("héllo", 10), "héllo");
    }
}
