//! Turns every corpus mapper (`mapper-core/corpus/*.mapper`, and the apps' expert mappers,
//! read from their own `mapper!` invocations through `mapper-core/corpus/experts.rs`) into a
//! `mapper! { pub NAME; ... }` invocation in `OUT_DIR` (one file each, `#` comments turned into `//`, every DSL token at
//! the line and column it has in the `.mapper` file), plus `corpus.rs`, which includes them and
//! lists them with their text as `CORPUS`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "../mapper-core/corpus/experts.rs"]
mod experts;

/// `# comment` -> `// comment` (the first `#` outside a string literal on each line).
fn to_rust_comments(line: &str) -> String {
    let mut in_str = false;
    let mut prev = '\0';
    for (i, c) in line.char_indices() {
        match c {
            '"' if prev != '\\' => in_str = !in_str,
            '#' if !in_str => return format!("{}//{}", &line[..i], &line[i + 1..]),
            _ => {}
        }
        prev = c;
    }
    line.to_string()
}

fn type_name(stem: &str) -> String {
    stem.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let corpus = Path::new(&manifest).join("../mapper-core/corpus");
    println!("cargo:rerun-if-changed={}", corpus.display());
    let mut files: Vec<(String, PathBuf, String)> = std::fs::read_dir(&corpus)
        .expect("mapper-core/corpus exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "mapper"))
        .map(|p| {
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("corpus file names are UTF-8")
                .to_string();
            let text = std::fs::read_to_string(&p).expect("corpus file is readable");
            (stem, p, text)
        })
        .collect();
    // The apps' experts, read from their `mapper!` invocations (written out as `.mapper` text
    // in OUT_DIR for `include_str!`).
    let root = experts::workspace_root(&manifest);
    for (name, _, _) in experts::EXPERTS {
        let src = experts::expert_file(&root, name).expect("listed expert");
        println!("cargo:rerun-if-changed={}", src.display());
        let text = experts::expert_text(&root, name).expect("expert mapper readable");
        let p = Path::new(&out).join(format!("{name}.mapper"));
        std::fs::write(&p, &text).expect("OUT_DIR is writable");
        files.push((name.to_string(), p, text));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut index = String::from("/// Every corpus mapper: (file stem, `.mapper` text, generated mapper).\npub const CORPUS: &[(&str, &str, &dyn ::mapper_core::Mapper)] = &[\n");
    let mut includes = String::new();
    for (stem, f, text) in &files {
        if f.starts_with(&corpus) {
            println!("cargo:rerun-if-changed={}", f.display());
        }
        let stem = stem.as_str();
        let ty = type_name(stem);
        let mut lines = text.lines();
        let first = lines.next().unwrap_or("");
        assert!(
            first.trim().is_empty() || first.trim_start().starts_with('#'),
            "{}: the first line must be a comment (the mapper! header goes there)",
            f.display()
        );
        let mut src = format!(
            "::mapper_macros::mapper! {{ pub {ty}; {}\n",
            to_rust_comments(first)
        );
        for l in lines {
            src.push_str(&to_rust_comments(l));
            src.push('\n');
        }
        src.push_str("}\n");
        let gen = Path::new(&out).join(format!("{stem}.rs"));
        std::fs::write(&gen, src).expect("OUT_DIR is writable");
        writeln!(includes, "include!({:?});", gen.display().to_string()).ok();
        writeln!(
            index,
            "    ({stem:?}, include_str!({:?}), &{ty}),",
            f.canonicalize().expect("corpus path").display().to_string()
        )
        .ok();
    }
    index.push_str("];\n");
    std::fs::write(
        Path::new(&out).join("corpus.rs"),
        format!("{includes}\n{index}"),
    )
    .expect("OUT_DIR is writable");
}
