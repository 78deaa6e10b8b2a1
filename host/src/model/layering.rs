//! Holds the layers to their direction: `store/`, `runtime/` and `config.rs`
//! use nothing from `lifecycle/` or `api/`, and `model/` uses nothing from
//! the crate outside itself. Reads the sources, so a violation fails here
//! with file and line rather than surfacing later as a cycle.

use std::path::{Path, PathBuf};

/// Top-level modules the lower layers must not reach.
const UPPER_LAYERS: &[&str] = &["lifecycle", "api"];

/// Where a path written in a module lands: the crate-level module it names.
/// `module` is the file's module path (`["store", "postgres", "runs"]`).
/// Returns every top-level module named (a `crate::{a, b}` group names two).
/// Conservative with inline `mod tests`: it may flag, never miss.
fn top_modules_named(module: &[String], code: &str) -> Vec<(usize, String)> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // Bytes, not `&str`: `i` steps through multi-byte characters too.
        let rest = &bytes[i..];
        let at_word_start = i == 0 || !is_ident_byte(bytes[i - 1]) && bytes[i - 1] != b':';
        let (mut j, mut supers, from_crate) = if at_word_start && rest.starts_with(b"crate::") {
            (i + "crate::".len(), 0, true)
        } else if at_word_start && rest.starts_with(b"super::") {
            (i, 0, false)
        } else {
            i += 1;
            continue;
        };
        while bytes[j..].starts_with(b"super::") {
            supers += 1;
            j += "super::".len();
        }
        // `j` now follows an ASCII `::`, so it is a char boundary.
        if !from_crate && supers < module.len() {
            // Stays inside this file's own top-level module.
            found.push((i, module[0].clone()));
        } else if code[j..].starts_with('{') {
            for item in group_items(&code[j..]) {
                found.push((i, item));
            }
        } else {
            let top = leading_ident(&code[j..]);
            if !top.is_empty() {
                found.push((i, top));
            }
        }
        i = j.max(i + 1);
    }
    found
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn leading_ident(s: &str) -> String {
    s.bytes()
        .take_while(|&b| is_ident_byte(b))
        .map(char::from)
        .collect()
}

/// First identifier of each top-level item of the `{…}` group `s` opens.
fn group_items(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (k, c) in s.char_indices() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    item_start = true;
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => {
                item_start = true;
                continue;
            }
            _ => {}
        }
        if depth == 1 && item_start && !c.is_whitespace() {
            items.push(leading_ident(&s[k..]));
            item_start = false;
        }
    }
    items
}

/// The code of `text` with comment lines blanked (doc links to the layer
/// above, e.g. "use `lifecycle::cancel_run`", are guidance, not a dependency).
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// This file: its test fixtures spell the forbidden paths on purpose.
const THIS_FILE: &str = "model/layering.rs";

/// Every `.rs` file under `path` except [`THIS_FILE`].
fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.ends_with(THIS_FILE) {
        return;
    }
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// `file:line: text` for every reference `file` makes that `allowed` refuses.
fn violations(src: &Path, file: &Path, allowed: &dyn Fn(&str) -> bool) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let code = code_only(&text);
    let module = module_path(src, file);
    top_modules_named(&module, &code)
        .into_iter()
        .filter(|(_, top)| !allowed(top))
        .map(|(at, top)| {
            let line = code[..at].matches('\n').count() + 1;
            let shown = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("{}:{line}: uses `{top}`: {shown}", file.display())
        })
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn lower_layers_do_not_use_lifecycle_or_api() {
    let src = src();
    let mut files = vec![src.join("config.rs")];
    for dir in ["store", "runtime", "model"] {
        rust_files(&src.join(dir), &mut files);
    }
    assert!(files.len() > 10, "found only {files:?}");
    let below_lifecycle = |top: &str| !UPPER_LAYERS.contains(&top);
    let bad: Vec<String> = files
        .iter()
        .flat_map(|f| violations(&src, f, &below_lifecycle))
        .collect();
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

#[test]
fn model_is_a_leaf() {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src.join("model"), &mut files);
    let inside_model = |top: &str| top == "model";
    let bad: Vec<String> = files
        .iter()
        .flat_map(|f| violations(&src, f, &inside_model))
        .collect();
    assert!(bad.is_empty(), "model/ must be a leaf:\n{}", bad.join("\n"));
}

#[test]
fn the_scanner_sees_every_spelling() {
    let module = |p: &str| p.split('/').map(String::from).collect::<Vec<_>>();
    let tops = |m: &str, code: &str| -> Vec<String> {
        top_modules_named(&module(m), code)
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    };
    assert_eq!(
        tops("store/runs", "use crate::lifecycle::X;"),
        ["lifecycle"]
    );
    assert_eq!(
        tops("store/runs", "use crate::{\n  config,\n  api::{a, b},\n};"),
        ["config", "api"]
    );
    assert_eq!(
        tops("store/postgres", "use super::super::lifecycle::X;"),
        ["lifecycle"]
    );
    assert_eq!(
        tops("store/postgres/runs", "use super::super::super::api::X;"),
        ["api"]
    );
    assert_eq!(
        tops("store/postgres/runs", "use super::super::Store;"),
        ["store"]
    );
    assert!(tops("runtime", "let s = \"café\"; use crate::store::X;") == ["store"]);
    assert_eq!(tops("model", "use super::api;"), ["api"]);
    assert_eq!(tops("model/ids", "use super::status::X;"), ["model"]);
    assert_eq!(tops("store", "let x = crate::api::f();"), ["api"]);
    assert!(tops("store", "use crate_name::x; fn supersede() {}").is_empty());
    assert_eq!(
        code_only("/// see [`crate::lifecycle::x`]\nuse a;"),
        "\nuse a;"
    );
}
