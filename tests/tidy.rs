//! Tidy: reads the sources under src/ and enforces DESIGN.md's rules that the compiler cannot.
//!
//! 1. Layering (DESIGN.md, "who may import whom"): each top-level module may refer only to the
//!    modules its row allows, through `crate::`, `super::` (resolved against the file's module
//!    path and its inline `mod x { }` blocks) or `gregor::`. A top-level module missing from the
//!    table is itself a violation, so the table grows with the crate.
//! 2. Only `src/protocol/` mentions `kafka_protocol`; `protocol` never mentions `tokio`; `log`
//!    never uses `tokio::net`; only main.rs and embedded.rs refer to `server` from outside it.
//! 3. Only src/clock.rs reads the time: no `SystemTime::now` / `Instant::now` anywhere else.
//! 4. No `.unwrap()` / `.expect(` outside test code (items under `#[cfg(test)]`, and files named
//!    tests.rs or test_util.rs).
//!
//! Comments, string and char literals are blanked before scanning, so prose that names a module
//! is not a use of it. Every violation is printed with its file and line.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Top-level module -> the crate modules it may use (None: anything).
fn allowed(module: &str) -> Option<Option<&'static [&'static str]>> {
    Some(match module {
        "config" | "model" | "clock" | "links" => Some(&[]),
        "protocol" => Some(&["model"]),
        "log" => Some(&["model", "config", "clock"]),
        "replication" => Some(&["log", "model", "config", "clock", "controller"]),
        "group" | "txn" => Some(&["model", "clock"]),
        "controller" => Some(&["model", "config", "clock", "links"]),
        "server" | "embedded" | "lib" | "main" => None,
        _ => return None,
    })
}

/// Modules that may refer to `server` from outside src/server/.
const SERVER_USERS: &[&str] = &["main", "embedded"];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(&'static str),
    Other(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

impl Token {
    fn is_ident(&self, s: &str) -> bool {
        matches!(&self.tok, Tok::Ident(i) if i == s)
    }
    fn is_punct(&self, s: &str) -> bool {
        matches!(&self.tok, Tok::Punct(p) if *p == s)
    }
    fn is_char(&self, c: char) -> bool {
        matches!(&self.tok, Tok::Other(o) if *o == c)
    }
    fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(i) => Some(i),
            _ => None,
        }
    }
}

struct Violation {
    file: PathBuf,
    line: usize,
    rule: &'static str,
    detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: [{}] {}",
            self.file.display(),
            self.line,
            self.rule,
            self.detail
        )
    }
}

/// Blanks comments, string literals and char literals, keeping every newline.
fn clean(src: &str) -> Vec<char> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::with_capacity(c.len());
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let is_ident_char = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && is_ident_char(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.extend([' ', ' ']);
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.extend([' ', ' ']);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if !prev_ident && (c[i] == 'r' || (c[i] == 'b' && c.get(i + 1) == Some(&'r'))) && {
            // A raw string: r"..", r#".."#, br#".."#.
            let mut j = i + if c[i] == 'b' { 2 } else { 1 };
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            c.get(j) == Some(&'"')
        } {
            let mut j = i + if c[i] == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while c[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1; // opening quote
            while j < c.len() {
                if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &c[i..j.min(c.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let end = if c.get(i + 1) == Some(&'\\') {
                (i + 2..c.len()).find(|&j| c[j] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for &ch in &c[i..=e] {
                        out.push(blank(ch));
                    }
                    i = e + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn tokenize(c: &[char]) -> Vec<Token> {
    let mut toks = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            toks.push(Token {
                tok: Tok::Ident(c[start..i].iter().collect()),
                line,
            });
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            toks.push(Token {
                tok: Tok::Punct("::"),
                line,
            });
            i += 2;
        } else {
            toks.push(Token {
                tok: Tok::Other(ch),
                line,
            });
            i += 1;
        }
    }
    toks
}

/// The module path of a file under src/: src/log/segment.rs -> [log, segment]; mod.rs -> its dir;
/// lib.rs and main.rs -> the crate root (empty).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if parts.is_empty() && (stem == "lib" || stem == "main") {
        return Vec::new();
    }
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The top-level module a file belongs to ("lib" and "main" for the crate roots).
fn top_module(rel: &Path) -> String {
    let path = module_path(rel);
    match path.first() {
        Some(m) => m.clone(),
        None => rel.to_string_lossy().trim_end_matches(".rs").to_string(),
    }
}

/// Index of the token after the `}` matching the `{` at `open`.
fn skip_braces(toks: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (j, t) in toks.iter().enumerate().skip(open) {
        if t.is_char('{') {
            depth += 1;
        } else if t.is_char('}') {
            depth -= 1;
            if depth == 0 {
                return j + 1;
            }
        }
    }
    toks.len()
}

/// Token ranges that are test code: the item following each `#[cfg(test)]`.
fn test_ranges(toks: &[Token]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let pattern = ["#", "[", "cfg", "(", "test", ")", "]"];
    let matches_at = |i: usize| {
        pattern.iter().enumerate().all(|(k, p)| {
            toks.get(i + k).is_some_and(|t| match &t.tok {
                Tok::Ident(s) => s == p,
                Tok::Other(c) => c.to_string() == *p,
                Tok::Punct(_) => false,
            })
        })
    };
    let mut i = 0;
    while i < toks.len() {
        if matches_at(i) {
            let start = i;
            let mut j = i + pattern.len();
            // The item ends at the first `;` outside braces or at the end of its first `{ }`.
            let mut end = toks.len();
            while j < toks.len() {
                if toks[j].is_char(';') {
                    end = j + 1;
                    break;
                }
                if toks[j].is_char('{') {
                    end = skip_braces(toks, j);
                    break;
                }
                j += 1;
            }
            ranges.push((start, end));
            i = end;
        } else {
            i += 1;
        }
    }
    ranges
}

/// The first segment of each path in a `{ a::b, c, self }` group starting at `open`.
fn group_heads(toks: &[Token], open: usize) -> Vec<(String, usize)> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = false;
    for t in &toks[open..] {
        if t.is_char('{') {
            depth += 1;
            expect_head = depth == 1;
            continue;
        }
        if t.is_char('}') {
            depth -= 1;
            if depth == 0 {
                break;
            }
            continue;
        }
        if depth == 1 && t.is_char(',') {
            expect_head = true;
            continue;
        }
        if expect_head {
            if let Some(i) = t.ident() {
                heads.push((i.to_string(), t.line));
            }
            expect_head = false;
        }
    }
    heads
}

/// (top-level module referred to, line) for every `crate::`, `super::` and `gregor::` path.
fn crate_references(toks: &[Token], file_path: &[String]) -> Vec<(String, usize)> {
    let mut refs = Vec::new();
    // Inline `mod name {` blocks: (name, brace depth inside them).
    let mut inline: Vec<(String, i32)> = Vec::new();
    let mut depth = 0i32;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.is_char('{') {
            depth += 1;
            if i >= 2 && toks[i - 2].is_ident("mod") {
                if let Some(name) = toks[i - 1].ident() {
                    inline.push((name.to_string(), depth));
                }
            }
        } else if t.is_char('}') {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth -= 1;
        }
        let starts_path = i == 0 || !toks[i - 1].is_punct("::");
        let root_kind = ["crate", "super", "gregor"]
            .into_iter()
            .find(|k| t.is_ident(k));
        if let (true, Some(kind), true) = (
            starts_path,
            root_kind,
            toks.get(i + 1).is_some_and(|n| n.is_punct("::")),
        ) {
            let mut here: Vec<String> = file_path.to_vec();
            here.extend(inline.iter().map(|(n, _)| n.clone()));
            let mut j = i;
            let base: Option<Vec<String>> = match kind {
                "super" => {
                    let mut base = here;
                    let mut ok = true;
                    while toks.get(j).is_some_and(|x| x.is_ident("super"))
                        && toks.get(j + 1).is_some_and(|x| x.is_punct("::"))
                    {
                        ok &= base.pop().is_some();
                        j += 2;
                    }
                    ok.then_some(base)
                }
                _ => {
                    j += 2;
                    Some(Vec::new())
                }
            };
            if let Some(base) = base {
                if let Some(top) = base.first() {
                    refs.push((top.clone(), t.line));
                } else if let Some(next) = toks.get(j) {
                    if let Some(name) = next.ident() {
                        refs.push((name.to_string(), t.line));
                    } else if next.is_char('{') {
                        refs.extend(group_heads(toks, j));
                    }
                }
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    refs.retain(|(m, _)| m != "self" && m != "super" && m != "crate");
    refs
}

/// The second segments of every `root::x` path (including `root::{x, y}` groups).
fn external_uses(toks: &[Token], root: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for i in 0..toks.len() {
        if toks[i].is_ident(root)
            && toks.get(i + 1).is_some_and(|t| t.is_punct("::"))
            && (i == 0 || !toks[i - 1].is_punct("::"))
        {
            match toks.get(i + 2) {
                Some(t) if t.ident().is_some() => {
                    out.push((t.ident().unwrap_or_default().to_string(), t.line))
                }
                Some(t) if t.is_char('{') => out.extend(group_heads(toks, i + 2)),
                _ => {}
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn check_file(
    rel: &Path,
    src: &str,
    violations: &mut Vec<Violation>,
    modules_seen: &mut BTreeSet<String>,
) {
    let toks = tokenize(&clean(src));
    let file = Path::new("src").join(rel);
    let mut v = |line: usize, rule: &'static str, detail: String| {
        violations.push(Violation {
            file: file.clone(),
            line,
            rule,
            detail,
        })
    };
    let module = top_module(rel);
    modules_seen.insert(module.clone());
    let file_name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    // 1. Layering.
    let refs = crate_references(&toks, &module_path(rel));
    match allowed(&module) {
        None => v(
            1,
            "layering",
            format!("module `{module}` is not in the layering table (DESIGN.md); add its row"),
        ),
        Some(Some(allow)) => {
            for (target, line) in &refs {
                if *target != module && !allow.contains(&target.as_str()) {
                    v(
                        *line,
                        "layering",
                        format!(
                            "`{module}` must not use `{target}` (may use: {})",
                            if allow.is_empty() {
                                "nothing in the crate".to_string()
                            } else {
                                allow.join(", ")
                            }
                        ),
                    );
                }
            }
        }
        Some(None) => {}
    }

    // 2. Specific bans.
    if module != "server" && !SERVER_USERS.contains(&module.as_str()) {
        for (target, line) in &refs {
            if target == "server" {
                v(
                    *line,
                    "layering",
                    format!("only {} may use `server`", SERVER_USERS.join(" and ")),
                );
            }
        }
    }
    if module != "protocol" {
        for t in toks.iter().filter(|t| t.is_ident("kafka_protocol")) {
            v(
                t.line,
                "kafka_protocol",
                "only src/protocol/ may use `kafka_protocol`".into(),
            );
        }
    }
    if module == "protocol" {
        for t in toks.iter().filter(|t| t.is_ident("tokio")) {
            v(
                t.line,
                "layering",
                "`protocol` is sans-I/O: no `tokio`".into(),
            );
        }
    }
    if module == "log" {
        for (second, line) in external_uses(&toks, "tokio") {
            if second == "net" {
                v(line, "layering", "`log` must not use `tokio::net`".into());
            }
        }
    }

    // 3. Time comes from the Clock.
    if rel != Path::new("clock.rs") {
        for w in toks.windows(3) {
            if (w[0].is_ident("SystemTime") || w[0].is_ident("Instant"))
                && w[1].is_punct("::")
                && w[2].is_ident("now")
            {
                v(
                    w[0].line,
                    "clock",
                    format!(
                        "`{}::now` outside src/clock.rs: take the time from the Clock",
                        w[0].ident().unwrap_or_default()
                    ),
                );
            }
        }
    }

    // 4. No unwrap/expect outside tests.
    if file_name != "tests.rs" && file_name != "test_util.rs" {
        let tests = test_ranges(&toks);
        let in_test = |i: usize| tests.iter().any(|(s, e)| (*s..*e).contains(&i));
        for i in 1..toks.len() {
            let call = if toks[i].is_ident("unwrap")
                && toks.get(i + 1).is_some_and(|t| t.is_char('('))
                && toks.get(i + 2).is_some_and(|t| t.is_char(')'))
            {
                ".unwrap()"
            } else if toks[i].is_ident("expect") && toks.get(i + 1).is_some_and(|t| t.is_char('('))
            {
                ".expect("
            } else {
                continue;
            };
            if toks[i - 1].is_char('.') && !in_test(i) {
                v(
                    toks[i].line,
                    "unwrap",
                    format!("`{call}` outside test code: handle the error (DESIGN habit 4)"),
                );
            }
        }
    }
}

#[test]
fn sources_follow_the_design_rules() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "sources found under {}", src.display());
    let mut violations = Vec::new();
    let mut modules = BTreeSet::new();
    for path in &files {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let rel = path.strip_prefix(&src).expect("under src");
        check_file(rel, &text, &mut violations, &mut modules);
    }
    eprintln!("tidy: {} files, modules {:?}", files.len(), modules);
    for v in &violations {
        eprintln!("{v}");
    }
    assert!(
        violations.is_empty(),
        "{} tidy violation(s), listed above",
        violations.len()
    );
}

/// The checker itself: each rule fires on a small sample and stays quiet on prose and strings.
#[test]
fn the_checker_catches_what_it_should() {
    let run = |rel: &str, src: &str| {
        let mut v = Vec::new();
        check_file(Path::new(rel), src, &mut v, &mut BTreeSet::new());
        v.into_iter().map(|v| (v.line, v.rule)).collect::<Vec<_>>()
    };
    // Layering through crate::, grouped use, and super:: that climbs to the root.
    assert_eq!(
        run("log/segment.rs", "use crate::protocol::X;\n"),
        vec![(1, "layering")]
    );
    assert_eq!(
        run(
            "log/segment.rs",
            "use crate::{model::Offset,\n server::B};\n"
        ),
        vec![(2, "layering"), (2, "layering")]
    );
    assert_eq!(
        run(
            "log/mod.rs",
            "use super::protocol::X;\nuse super::model::Y;\n"
        ),
        vec![(1, "layering")]
    );
    assert_eq!(
        run(
            "log/segment.rs",
            "use super::batch::X; use super::super::config::C;\n"
        ),
        vec![]
    );
    assert_eq!(
        run(
            "config.rs",
            "#[cfg(test)]\nmod tests {\n use super::*;\n use super::BrokerConfig;\n}\n"
        ),
        vec![]
    );
    assert_eq!(
        run("model.rs", "fn f() -> crate::clock::X {}\n"),
        vec![(1, "layering")]
    );
    assert_eq!(
        run(
            "replication/mod.rs",
            "use crate::controller::MetadataImage;\n"
        ),
        vec![]
    );
    assert_eq!(run("newthing.rs", "fn f() {}\n"), vec![(1, "layering")]);
    // Prose and strings are not uses.
    assert_eq!(
        run(
            "log/mod.rs",
            "//! must not use crate::protocol or kafka_protocol\nconst S: &str = \"crate::server\";\n"
        ),
        vec![]
    );
    assert_eq!(
        run(
            "log/mod.rs",
            "const S: &str = r#\"Instant::now \"quoted\" x.unwrap()\"#; fn f<'a>(c: char) { let _ = '\"'; }\n"
        ),
        vec![]
    );
    // External crates.
    assert_eq!(
        run("server/x.rs", "use kafka_protocol::X;\n"),
        vec![(1, "kafka_protocol")]
    );
    assert_eq!(
        run(
            "protocol/codec.rs",
            "use kafka_protocol::X;\nuse tokio::sync::mpsc;\n"
        ),
        vec![(2, "layering")]
    );
    assert_eq!(
        run(
            "log/x.rs",
            "use tokio::{sync::Mutex, net::TcpStream};\nuse tokio::sync::Notify;\n"
        ),
        vec![(1, "layering")]
    );
    // Time.
    assert_eq!(
        run(
            "server/x.rs",
            "let t = std::time::Instant::now();\nlet w = SystemTime::now();\n"
        ),
        vec![(1, "clock"), (2, "clock")]
    );
    assert_eq!(
        run("clock.rs", "let t = std::time::Instant::now();\n"),
        vec![]
    );
    // unwrap/expect outside tests only.
    let src = "fn a() { x.unwrap(); y.expect(\"m\"); z.unwrap_or(1); }\n#[cfg(test)]\nmod tests { fn b() { x.unwrap(); } }\nfn c() { x.unwrap(); }\n";
    assert_eq!(
        run("server/x.rs", src),
        vec![(1, "unwrap"), (1, "unwrap"), (4, "unwrap")]
    );
    assert_eq!(run("log/test_util.rs", "fn a() { x.unwrap(); }\n"), vec![]);
    assert_eq!(
        run(
            "log/mod.rs",
            "#[cfg(test)]\nmod test_util;\nfn a() { x.unwrap(); }\n"
        ),
        vec![(3, "unwrap")]
    );
}
