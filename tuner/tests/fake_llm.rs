//! The LLM optimizer against a fake OpenAI-compatible server on loopback with scripted replies:
//! valid mappers, malformed JSON, prose, invalid DSL, HTTP 429/500, a reply slower than the
//! client timeout, and garbage. The loop must survive all of them and return the best valid mapper.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tuner::llm::ChatBackend;
use tuner::validate::canonicalize;
use tuner::{
    run_loop, AppDescription, Attempt, LlmClient, LlmConfig, LlmOptimizer, Message, PromptBuilder,
    PromptMode,
};

/// One scripted response.
#[derive(Clone)]
enum Reply {
    /// 200 with a chat completion whose content is this text.
    Content(String),
    /// Any status, extra headers and a raw body.
    Http(u16, Vec<(&'static str, &'static str)>, String),
    /// A completion sent only after this delay (longer than the client timeout).
    Slow(Duration, String),
}

fn content(s: &str) -> Reply {
    Reply::Content(s.to_string())
}

fn status(code: u16) -> Reply {
    Reply::Http(
        code,
        vec![],
        format!("{{\"error\": {{\"message\": \"scripted {code}\"}}}}"),
    )
}

/// A fake server: answers request number i with `script[i]`, records request bodies.
struct FakeServer {
    base_url: String,
    requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl FakeServer {
    fn start(script: Vec<Reply>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = seen.clone();
                let script = script.clone();
                std::thread::spawn(move || handle(stream, &seen, &script));
            }
        });
        FakeServer {
            base_url: format!("http://{addr}/v1"),
            requests,
        }
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn handle(stream: TcpStream, seen: &Mutex<Vec<serde_json::Value>>, script: &[Reply]) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut len = 0usize;
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    assert!(
        request_line.starts_with("POST /v1/chat/completions "),
        "{request_line}"
    );
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(serde_json::from_slice(&body).unwrap());
        seen.len() - 1
    };
    let reply = script.get(index).cloned().unwrap_or_else(|| status(503));
    let completion = |text: &str| {
        serde_json::json!({
            "id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
        })
        .to_string()
    };
    let (code, headers, body) = match reply {
        Reply::Content(t) => (200, vec![], completion(&t)),
        Reply::Http(c, h, b) => (c, h, b),
        Reply::Slow(d, t) => {
            std::thread::sleep(d);
            (200, vec![], completion(&t))
        }
    };
    let mut out = format!(
        "HTTP/1.1 {code} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes()); // the client may have timed out and gone
}

fn config(server: &FakeServer, log: &std::path::Path) -> LlmConfig {
    let mut c = LlmConfig::from_values(
        None,
        Some(server.base_url.clone()),
        Some("fake-model".into()),
    )
    .unwrap();
    c.timeout = Duration::from_millis(500);
    c.max_retries = 2;
    c.backoff_base = Duration::ZERO;
    c.backoff_max = Duration::ZERO;
    c.log_path = Some(log.to_path_buf());
    c
}

fn app() -> AppDescription {
    AppDescription {
        name: "toy".into(),
        summary: "A toy app.".into(),
        tasks: vec![],
        regions: vec!["r".into()],
        machine: "1 node, 2 GPUs, 4 CPUs".into(),
        size: String::new(),
    }
}

const A: &str = "Task * CPU;";
const B: &str = "Task * GPU;\nRegion * * GPU FBMEM;";
const C: &str = "Task * GPU;\nRegion * * GPU ZCMEM;";
const D: &str = "Task * OMP;";
const E: &str = "Task * GPU;\nLayout * * * AOS;";
const F: &str = "Task * GPU;\nInstanceLimit * 4;";

/// A deterministic evaluation: a fixed score per canonical mapper, 0.5 for other valid mappers,
/// no score (with the diagnostics as feedback) for invalid DSL.
fn evaluator() -> impl FnMut(&str) -> Attempt {
    let table: HashMap<String, f64> = [(A, 1.0), (B, 5.0), (C, 3.0), (D, 2.0), (E, 4.0), (F, 2.5)]
        .into_iter()
        .map(|(m, s)| (canonicalize(m).unwrap(), s))
        .collect();
    move |text: &str| match canonicalize(text) {
        Ok(c) => {
            let score = table.get(&c).copied().unwrap_or(0.5);
            Attempt::scored(c, score, format!("ran in {:.3} s", 1.0 / score))
        }
        Err(diags) => Attempt::failed(text, diags),
    }
}

fn json_reply(mapper: &str) -> String {
    serde_json::json!({"reasoning": "try this", "mapper": mapper}).to_string()
}

#[test]
fn loop_survives_every_failure_and_returns_the_best() {
    let script = vec![
        // 1: valid mapper A.
        content(&json_reply(A)),
        // 2-3: rate limited once, then the best mapper B.
        Reply::Http(
            429,
            vec![("Retry-After", "0")],
            "{\"error\": \"slow down\"}".into(),
        ),
        content(&json_reply(B)),
        // 4: malformed JSON (single quotes, trailing comma) holding C.
        content("{'reasoning': 'zero-copy', 'mapper': 'Task * GPU;\nRegion * * GPU ZCMEM;',}"),
        // 5: malformed beyond repair: no mapper at all.
        content("{\"mapper\": \"Task * GP"),
        // 6: prose around a fenced block with D.
        content("Let us use OpenMP.\n```mapper\nTask * OMP;\n```\nThis should help."),
        // 7: invalid DSL.
        content(&json_reply("Task * GPX;\nRegion * * GPU FBMEN;")),
        // 8-10: two server errors, then E.
        status(500),
        status(502),
        content(&json_reply(E)),
        // 11-12: a reply slower than the timeout, then F.
        Reply::Slow(Duration::from_millis(1500), json_reply("Task * IO;")),
        content(&json_reply(F)),
        // 13-15: the server keeps failing: error after the last retry.
        status(500),
        status(500),
        status(500),
        // 16: 200 but not a chat completion.
        Reply::Http(200, vec![], "<html>gateway</html>".into()),
    ];
    let n = script.len();
    let server = FakeServer::start(script);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("llm.jsonl");
    let client = LlmClient::new(config(&server, &log)).unwrap();
    let mut opt = LlmOptimizer::new(
        client,
        PromptBuilder::new(app()),
        PromptMode::OptoPrime,
        "Task * CPU;",
    );
    let result = run_loop(&mut opt, evaluator(), 10);

    assert_eq!(
        server.count(),
        n,
        "every scripted response was requested once"
    );
    let h = &result.history;
    assert_eq!(h.len(), 10);
    let scores: Vec<Option<f64>> = h.iter().map(|a| a.score).collect();
    assert_eq!(
        scores,
        vec![
            Some(1.0),
            Some(5.0),
            Some(3.0),
            None,
            Some(2.0),
            None,
            Some(4.0),
            Some(2.5),
            None,
            None
        ]
    );
    let best = result.best.expect("a valid mapper");
    assert_eq!(best.mapper, canonicalize(B).unwrap());
    assert_eq!(best.score, Some(5.0));

    // Failures became feedback.
    assert!(
        h[3].feedback.starts_with(
            "The llm-optoprime optimizer produced no mapper: no mapper found in the reply"
        ),
        "{}",
        h[3].feedback
    );
    assert!(h[5].feedback.contains("GPX"), "{}", h[5].feedback);
    assert!(
        h[8].feedback
            .contains("failed with HTTP 500 after 3 attempt(s)"),
        "{}",
        h[8].feedback
    );
    assert!(
        h[9].feedback.contains("unexpected reply: body is not JSON"),
        "{}",
        h[9].feedback
    );

    // The prompts carried the feedback of the previous attempt.
    let requests = server.requests.lock().unwrap();
    let user = |i: usize| {
        requests[i]["messages"][1]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(requests[0]["model"], "fake-model");
    assert!(
        user(3).contains("Score of the last attempt: 5.000"),
        "{}",
        user(3)
    );
    assert!(user(6).contains("Score of the last attempt: 2.000"));
    assert!(
        user(7).contains("GPX"),
        "the diagnostics of the invalid mapper are fed back"
    );
    drop(requests);

    // One log line per HTTP request, in order, with the attempt numbers of the retries.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), n);
    let attempts: Vec<u64> = lines
        .iter()
        .map(|l| l["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(
        attempts,
        vec![1, 1, 2, 1, 1, 1, 1, 1, 2, 3, 1, 2, 1, 2, 3, 1]
    );
    let statuses: Vec<Option<u64>> = lines.iter().map(|l| l["status"].as_u64()).collect();
    assert_eq!(statuses[1], Some(429));
    assert_eq!(statuses[10], None, "the timed-out attempt has no status");
    assert!(lines[10]["error"].as_str().unwrap().contains("timed out"));
    assert_eq!(lines[2]["reply"].as_str(), Some(json_reply(B).as_str()));
    assert_eq!(lines[0]["model"], "fake-model");
    assert_eq!(lines[0]["messages"][0]["role"], "system");
    assert!(lines[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(lines[0]["latency_ms"].as_f64().is_some());
    let requests: Vec<u64> = lines
        .iter()
        .map(|l| l["request"].as_u64().unwrap())
        .collect();
    assert_eq!(
        requests,
        vec![1, 2, 2, 3, 4, 5, 6, 7, 7, 7, 8, 8, 9, 9, 9, 10]
    );
}

#[test]
fn opro_prompt_lists_past_mappers_ascending() {
    let script = vec![
        content(&json_reply(D)),
        content(&json_reply(B)),
        content(&json_reply(A)),
        content(&json_reply(C)),
    ];
    let server = FakeServer::start(script);
    let dir = tempfile::tempdir().unwrap();
    let client = LlmClient::new(config(&server, &dir.path().join("log.jsonl"))).unwrap();
    let mut opt = LlmOptimizer::new(client, PromptBuilder::new(app()), PromptMode::Opro, "");
    assert_eq!(tuner::Optimizer::name(&opt), "llm-opro");
    let result = run_loop(&mut opt, evaluator(), 4);
    assert_eq!(result.best.map(|a| a.score), Some(Some(5.0)));
    let requests = server.requests.lock().unwrap();
    assert_eq!(requests.len(), 4);
    let last = requests[3]["messages"][1]["content"].as_str().unwrap();
    let pos = |s: &str| {
        last.find(s)
            .unwrap_or_else(|| panic!("missing {s:?} in {last}"))
    };
    assert!(pos("Task * CPU;\n```\nscore: 1.000") < pos("Task * OMP;\n```\nscore: 2.000"));
    assert!(pos("score: 2.000") < pos("Region * * GPU FBMEM;\n```\nscore: 5.000"));
}

#[test]
fn client_errors_are_clear() {
    // A non-retryable status: one request, no retry.
    let server = FakeServer::start(vec![Reply::Http(
        401,
        vec![],
        "{\"error\": \"bad key\"}".into(),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let client = LlmClient::new(config(&server, &dir.path().join("log.jsonl"))).unwrap();
    let err = client.chat(&[Message::user("hi")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("LLM request to {}/chat/completions failed with HTTP 401 after 1 attempt(s): {{\"error\": \"bad key\"}}", server.base_url)
    );
    assert_eq!(server.count(), 1);

    // Retry-After is honoured even with a long configured backoff (the test would take 30 s or
    // more otherwise, though no timing is asserted).
    let server = FakeServer::start(vec![
        Reply::Http(429, vec![("Retry-After", "0")], String::new()),
        Reply::Http(503, vec![("Retry-After", "0")], String::new()),
        content("ok"),
    ]);
    let mut c = config(&server, &dir.path().join("log2.jsonl"));
    c.backoff_base = Duration::from_secs(60);
    c.backoff_max = Duration::from_secs(60);
    let client = LlmClient::new(c).unwrap();
    assert_eq!(client.chat(&[Message::user("hi")]).unwrap(), "ok");
    assert_eq!(server.count(), 3);

    // Nothing listens: a network error after all attempts.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c =
        LlmConfig::from_values(None, Some(format!("http://127.0.0.1:{port}/v1")), None).unwrap();
    c.max_retries = 1;
    c.backoff_base = Duration::ZERO;
    c.timeout = Duration::from_millis(500);
    let err = LlmClient::new(c)
        .unwrap()
        .chat(&[Message::user("hi")])
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("cannot reach LLM server http://127.0.0.1:{port}/v1/chat/completions after 2 attempt(s)")), "{msg}");
    assert!(msg.ends_with("check OPENAI_BASE_URL"), "{msg}");
}
