//! A forgiving JSON reader for LLM replies: best effort on the mistakes models make. Accepts
//! trailing commas, single-quoted and triple-quoted strings, unquoted keys, raw newlines and tabs
//! inside strings, unknown escapes (kept verbatim), `//` and `/* */` comments, Python literals
//! (`True`, `False`, `None`), and a double quote inside a double-quoted string when what follows it
//! cannot end a string. Strict JSON is read by `serde_json` first; this is the fallback.

use serde_json::{Map, Number, Value};

/// Deepest nesting accepted (replies are small; this only guards the recursion).
const MAX_DEPTH: usize = 64;

/// Parses `src` (the whole input, surrounding whitespace allowed) as lenient JSON.
pub fn parse(src: &str) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str(src) {
        return Ok(v);
    }
    let mut p = Reader {
        s: src.chars().collect(),
        i: 0,
    };
    let v = p.value(0)?;
    p.skip_ws();
    if p.i < p.s.len() {
        return Err(format!(
            "unexpected `{}` after the JSON value at character {}",
            p.s[p.i], p.i
        ));
    }
    Ok(v)
}

struct Reader {
    s: Vec<char>,
    i: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => self.i += 1,
                Some('/') if self.peek_at(1) == Some('/') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                Some('/') if self.peek_at(1) == Some('*') => {
                    self.i += 2;
                    while self.i < self.s.len()
                        && !(self.peek() == Some('*') && self.peek_at(1) == Some('/'))
                    {
                        self.i += 1;
                    }
                    self.i = (self.i + 2).min(self.s.len());
                }
                _ => return,
            }
        }
    }

    fn err(&self, what: &str) -> String {
        match self.peek() {
            Some(c) => format!("{what} at character {}, found `{c}`", self.i),
            None => format!("{what} at the end of the input"),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("JSON nested too deeply".into());
        }
        self.skip_ws();
        match self.peek() {
            Some('{') => self.object(depth),
            Some('[') => self.array(depth),
            Some('"') | Some('\'') => self.string(false).map(Value::String),
            Some(c) if c == '-' || c == '+' || c == '.' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_alphabetic() || c == '_' => {
                let w = self.word();
                Ok(match w.as_str() {
                    "true" | "True" => Value::Bool(true),
                    "false" | "False" => Value::Bool(false),
                    "null" | "None" | "undefined" => Value::Null,
                    _ => Value::String(w),
                })
            }
            _ => Err(self.err("expected a JSON value")),
        }
    }

    fn word(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || c == '_' || c == '-' || c == '$' {
                self.i += 1;
            } else {
                break;
            }
        }
        self.s[start..self.i].iter().collect()
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E') {
                self.i += 1;
            } else {
                break;
            }
        }
        let text: String = self.s[start..self.i].iter().collect();
        let text = text.trim_start_matches('+');
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Value::Number(n.into()));
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("bad number `{text}` at character {start}"))
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.i += 1; // '{'
        let mut map = Map::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some('}') => {
                    self.i += 1;
                    return Ok(Value::Object(map));
                }
                Some(',') => {
                    self.i += 1;
                    continue;
                }
                None => return Err(self.err("unclosed `{`")),
                _ => {}
            }
            let key = match self.peek() {
                Some('"') | Some('\'') => self.string(true)?,
                Some(c) if c.is_alphanumeric() || c == '_' || c == '$' => self.word(),
                _ => return Err(self.err("expected an object key")),
            };
            self.skip_ws();
            if self.peek() != Some(':') {
                return Err(self.err(&format!("expected `:` after key `{key}`")));
            }
            self.i += 1;
            let v = self.value(depth + 1)?;
            map.insert(key, v);
            self.skip_ws();
            match self.peek() {
                Some(',') | Some('}') => {}
                // A missing comma between members: keep going if a key follows.
                Some('"') | Some('\'') => {}
                None => return Err(self.err("unclosed `{`")),
                _ => return Err(self.err("expected `,` or `}` in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.i += 1; // '['
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                Some(',') => {
                    self.i += 1;
                    continue;
                }
                None => return Err(self.err("unclosed `[`")),
                _ => {}
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            if self.peek().is_none() {
                return Err(self.err("unclosed `[`"));
            }
            if !matches!(self.peek(), Some(',') | Some(']')) {
                return Err(self.err("expected `,` or `]` in an array"));
            }
        }
    }

    /// True if a quote at the current position can end a string: what follows is a delimiter.
    fn can_close_here(&self) -> bool {
        let mut k = self.i + 1;
        while let Some(c) = self.s.get(k) {
            if c.is_whitespace() {
                k += 1;
                continue;
            }
            return matches!(c, ',' | '}' | ']' | ':');
        }
        true
    }

    /// Reads a string; a key ends at its first closing quote, a value only where it can end.
    fn string(&mut self, key: bool) -> Result<String, String> {
        let q = self.peek().unwrap_or('"');
        let start = self.i;
        let triple = self.peek_at(1) == Some(q) && self.peek_at(2) == Some(q);
        self.i += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(format!("unterminated string starting at character {start}"));
            };
            if triple {
                if c == q && self.peek_at(1) == Some(q) && self.peek_at(2) == Some(q) {
                    self.i += 3;
                    return Ok(out);
                }
            } else if c == q {
                if key || q == '\'' || self.can_close_here() {
                    self.i += 1;
                    return Ok(out);
                }
                out.push(c);
                self.i += 1;
                continue;
            }
            if c == '\\' {
                let Some(e) = self.peek_at(1) else {
                    return Err(format!("unterminated string starting at character {start}"));
                };
                self.i += 2;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    '"' | '\'' | '\\' | '/' | '`' => out.push(e),
                    '\n' => {}
                    'u' => {
                        let hex: String = self.s.iter().skip(self.i).take(4).collect();
                        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                            Some(ch) if hex.len() == 4 => {
                                out.push(ch);
                                self.i += 4;
                            }
                            _ => out.push_str("\\u"),
                        }
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                continue;
            }
            out.push(c);
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_json() {
        assert_eq!(
            parse(r#"{"a": [1, 2.5, "x\n"]}"#).unwrap(),
            json!({"a": [1, 2.5, "x\n"]})
        );
    }

    #[test]
    fn common_mistakes() {
        assert_eq!(
            parse("{'mapper': 'Task * GPU;',}").unwrap(),
            json!({"mapper": "Task * GPU;"})
        );
        assert_eq!(
            parse("{mapper: \"a\nb\", ok: True, n: None,}").unwrap(),
            json!({"mapper": "a\nb", "ok": true, "n": null})
        );
        assert_eq!(
            parse("{\"mapper\": \"\"\"Task * GPU;\nRegion * * GPU FBMEM;\"\"\"}").unwrap(),
            json!({"mapper": "Task * GPU;\nRegion * * GPU FBMEM;"})
        );
        assert_eq!(
            parse("{\"a\": [1, 2,], // c\n \"b\": 'it\\'s'}").unwrap(),
            json!({"a": [1, 2], "b": "it's"})
        );
        assert_eq!(
            parse(r#"{"m": "print("x") ok"}"#).unwrap(),
            json!({"m": "print(\"x\") ok"})
        );
        assert_eq!(parse(r#"{"m": "a\qb"}"#).unwrap(), json!({"m": "a\\qb"}));
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse("{\"a\": 1").unwrap_err(),
            "unclosed `{` at the end of the input"
        );
        assert_eq!(
            parse("{\"a\" 1}").unwrap_err(),
            "expected `:` after key `a` at character 5, found `1`"
        );
        assert_eq!(
            parse("{\"a\": \"x").unwrap_err(),
            "unterminated string starting at character 6"
        );
        assert!(parse("[".repeat(100).as_str())
            .unwrap_err()
            .contains("nested too deeply"));
        assert_eq!(
            parse("{} x").unwrap_err(),
            "unexpected `x` after the JSON value at character 3"
        );
    }
}
