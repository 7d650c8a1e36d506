//! Robustness: the text parser must return (never panic, hang or overflow the stack) on any
//! input: arbitrary strings, soups of DSL tokens, brackets, quotes, `#` and unicode, and a set
//! of explicit nasty cases.

use mapper_core::parse::{parse_expr_text, parse_text, parse_tokens};
use mapper_core::print::print;
use proptest::prelude::*;
use std::str::FromStr;

/// Parses `src` and checks the basic invariants of the output.
fn check(src: &str) {
    let out = parse_text(src);
    assert!(out.diagnostics.len() <= mapper_core::diag::MAX_DIAGNOSTICS);
    for d in &out.diagnostics {
        assert!(!d.message.is_empty());
        // Rendering must not panic either.
        let _ = d.render("x.mapper", src);
    }
    // Whatever was recovered prints and re-parses cleanly.
    let text = print(&out.program);
    let again = parse_text(&text);
    assert!(
        again.diagnostics.is_empty(),
        "recovered program does not re-parse:\n{text}\n{:#?}",
        again.diagnostics
    );
    assert_eq!(again.program, out.program);
    let _ = parse_expr_text(src);
}

const FRAGMENTS: &[&str] = &[
    "Task",
    "Region",
    "Layout",
    "InstanceLimit",
    "CollectMemory",
    "IndexTaskMap",
    "SingleTaskMap",
    "ControlReplicate",
    "def",
    "return",
    "print",
    "Machine",
    "True",
    "False",
    "tuple",
    "for",
    "in",
    "GPU",
    "CPU",
    "FBMEM",
    "ZCMEM",
    "SOA",
    "C_order",
    "Align",
    "No_Align",
    "Task",
    "int",
    "x",
    "task",
    "ip",
    "m",
    "*",
    ",",
    ";",
    ":",
    "?",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "/",
    "%",
    "!",
    "&&",
    "||",
    ".",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "0",
    "1",
    "128",
    "-1",
    "99999999999999999999",
    "1.5",
    "0x1F",
    "3u8",
    "\"",
    "\"fmt {}\"",
    "'",
    "'a'",
    "#",
    "# c\n",
    "//",
    "/*",
    "*/",
    "\n",
    " ",
    "\t",
    "\r",
    "\0",
    "é",
    "λ",
    "😀",
    "\u{200e}",
    "r#\"",
    "\"#",
    "\\",
    "$",
    "@",
    "~",
    "^",
    "`",
    "_",
    "::",
    "->",
    "=>",
    "b\"x\"",
    "r\"raw\"",
    "1e3",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(FRAGMENTS.to_vec()),
            prop::sample::select(vec!["", " ", "\n"]),
        ),
        0..60,
    )
    .prop_map(|v| v.into_iter().map(|(a, b)| format!("{a}{b}")).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings(s in any::<String>()) {
        check(&s);
    }

    #[test]
    fn printable_strings(s in "[ -~\n]{0,200}") {
        check(&s);
    }

    #[test]
    fn token_soups(s in soup()) {
        check(&s);
    }

    #[test]
    fn mutated_valid_text(cut in 0usize..400, insert in prop::sample::select(FRAGMENTS.to_vec())) {
        let base = "Task * GPU,CPU;\nRegion * rp GPU FBMEM;\nLayout * * * SOA Align==128;\n\
                    m = Machine(GPU);\ndef f(Task t) {\n    ip = t.ipoint;\n    \
                    print(\"{}\", ip);\n    return m[ip[0] % m.size[0], *];\n}\n\
                    IndexTaskMap a, b f;\n";
        let chars: Vec<char> = base.chars().collect();
        let at = cut % (chars.len() + 1);
        let mut s: String = chars[..at].iter().collect();
        s.push_str(insert);
        s.extend(&chars[at..]);
        check(&s);
        // Truncation at every point too.
        let t: String = chars[..at].iter().collect();
        check(&t);
    }
}

#[test]
fn explicit_cases() {
    let cases: Vec<String> = vec![
        String::new(),
        "# only a comment\n# another\n".into(),
        "// rust comment\n/* block */\n".into(),
        "(".repeat(10_000),
        "(".repeat(10_000) + &")".repeat(10_000),
        "{".repeat(10_000),
        "x = ".to_string() + &"(".repeat(10_000) + "1" + &")".repeat(10_000) + ";",
        "x = ".to_string() + &"(".repeat(150) + "1" + &")".repeat(150) + ";",
        "x = ".to_string() + &"-".repeat(10_000) + "1;",
        "x = ".to_string() + &"!".repeat(10_000) + "x;",
        "x = 1".to_string() + &" + 1".repeat(10_000) + ";",
        "x = a".to_string() + &"[0]".repeat(10_000) + ";",
        "x = a".to_string() + &".b".repeat(10_000) + ";",
        "x = a".to_string() + &" ? b : c".repeat(10_000) + ";",
        "x = ".to_string() + &"f(".repeat(150) + &")".repeat(150) + ";",
        "}".into(),
        "Task * GPU;\n}}}\n".into(),
        "x = \"unterminated".into(),
        "def f(Task t)".into(),
        "def f(Task t) {".into(),
        "def".into(),
        "def f".into(),
        "def f(Task t):\n    return 1;\n".into(),
        "Task\0 * GPU;".into(),
        "\0\0\0".into(),
        "Task * GPU".into(),
        ";;;;".into(),
        "'".into(),
        "r#\"".into(),
        "/*".into(),
        "x = 99999999999999999999;".into(),
        "print(\"{}\", 1);".into(),
        "Task ".to_string() + &"a, ".repeat(5_000) + "b GPU;",
        "Region * * GPU ".to_string() + &"FBMEN,".repeat(1_000) + "FBMEM;",
        "x y z;\n".repeat(1_000),
    ];
    for c in &cases {
        check(c);
    }
}

#[test]
fn deep_token_streams_from_macros() {
    // A token stream nested far beyond the text pre-scan limit (as a macro could pass).
    let deep = "x = ".to_string() + &"(".repeat(5_000) + "1" + &")".repeat(5_000) + ";";
    let ts = proc_macro2::TokenStream::from_str(&deep).expect("balanced");
    let out = parse_tokens(ts);
    assert_eq!(out.diagnostics.len(), 1);
    assert_eq!(out.diagnostics[0].message, "expression nested too deeply");
    let deep = "def f(Task t) ".to_string() + &"{".repeat(5_000) + &"}".repeat(5_000);
    let ts = proc_macro2::TokenStream::from_str(&deep).expect("balanced");
    let out = parse_tokens(ts);
    assert!(!out.diagnostics.is_empty());
}

#[test]
fn error_count_is_capped() {
    let src = "bogus x;\n".repeat(500);
    let out = parse_text(&src);
    assert_eq!(out.diagnostics.len(), mapper_core::diag::MAX_DIAGNOSTICS);
}
