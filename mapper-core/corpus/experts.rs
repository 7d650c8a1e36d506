//! The benchmark applications' expert mappers, read from where they are written: the body of
//! the `mapper!` invocation in each app's source. There is no second copy of them; every test,
//! benchmark and build script that uses an expert as a corpus mapper reads it through
//! [`expert_text`] (this file is included with `#[path]`, so it uses `std` only).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Every expert: (corpus name, file relative to the workspace root, `mapper!` type name).
pub const EXPERTS: &[(&str, &str, &str)] = &[
    ("cannon", "apps/src/matmul/cannon.rs", "CannonExpert"),
    ("circuit", "apps/src/circuit/expert.rs", "CircuitExpert"),
    ("cosma", "apps/src/matmul/cosma.rs", "CosmaExpert"),
    ("johnson", "apps/src/matmul/johnson.rs", "JohnsonExpert"),
    ("pennant", "apps/src/pennant/expert.rs", "PennantExpert"),
    ("pumma", "apps/src/matmul/pumma.rs", "PummaExpert"),
    (
        "solomonik",
        "apps/src/matmul/solomonik.rs",
        "SolomonikExpert",
    ),
    ("stencil", "apps/src/stencil/expert.rs", "StencilExpert"),
    ("summa", "apps/src/matmul/summa.rs", "SummaExpert"),
];

/// The workspace root, from a crate's manifest directory (every crate is one level below it).
pub fn workspace_root(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The source file of expert `name`, if it is one.
pub fn expert_file(root: &Path, name: &str) -> Option<PathBuf> {
    EXPERTS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, f, _)| root.join(f))
}

/// The mapper text of expert `name` as a `.mapper` file would hold it: the body of its
/// `mapper!` invocation, dedented, with whole-line `//` comments written as `#` comments.
pub fn expert_text(root: &Path, name: &str) -> Result<String, String> {
    let (_, file, ty) = EXPERTS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| format!("`{name}` is not an expert"))?;
    let path = root.join(file);
    let src = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    mapper_body(&src, ty).ok_or_else(|| {
        format!(
            "{}: no `mapper! {{ pub {ty} ...; ... }}` invocation",
            path.display()
        )
    })
}

/// The body of the `mapper!` invocation whose header names `ty`, as mapper text.
pub fn mapper_body(src: &str, ty: &str) -> Option<String> {
    let b = src.as_bytes();
    let mut from = 0;
    loop {
        let at = from + src[from..].find("mapper! {")?;
        let open = at + "mapper! ".len();
        let semi = open + src[open..].find(';')?;
        from = open;
        if !src[open + 1..semi].split_whitespace().any(|w| w == ty) {
            continue;
        }
        // The matching `}`; `//` comments and string literals may hold braces.
        let mut depth = 0usize;
        let mut k = open;
        let close = loop {
            match *b.get(k)? {
                b'/' if b.get(k + 1) == Some(&b'/') => {
                    k += src[k..].find('\n')?;
                    continue;
                }
                b'"' => {
                    k += 1;
                    while *b.get(k)? != b'"' {
                        k += if b[k] == b'\\' { 2 } else { 1 };
                    }
                }
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break k;
                    }
                }
                _ => {}
            }
            k += 1;
        };
        let body = &src[semi + 1..close];
        let lines: Vec<&str> = body.lines().skip_while(|l| l.trim().is_empty()).collect();
        let indent = lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        let mut out = String::new();
        for l in lines {
            let l = if l.trim().is_empty() {
                ""
            } else {
                &l[indent..]
            };
            let ws = l.len() - l.trim_start().len();
            let l = match l[ws..].strip_prefix("//") {
                Some(rest) => format!("{}#{rest}", &l[..ws]),
                None => l.to_string(),
            };
            out.push_str(l.trim_end());
            out.push('\n');
        }
        while out.ends_with("\n\n") {
            out.pop();
        }
        return Some(out);
    }
}
