//! Test: the modules of `lifecycle/` import each other without a cycle, so
//! the leaf state types stay leaves and a service never needs the module
//! that runs it. Every file is a node (`steps/place.rs` is
//! `steps::place`, a `mod.rs` is its folder). An edge is any path through
//! `super::`, `self::` or `crate::lifecycle::` (in `use` or in code) and,
//! in a `mod.rs`, a path starting with one of its own submodules (its
//! re-exports). `mod x;` declarations and doc links are not edges, and
//! neither is a reference from a file to itself (its inline `tests`).
//! Importing an item through a `mod.rs` that re-exports it counts as
//! importing that `mod.rs`, so the crate-facing re-exports in
//! `lifecycle/mod.rs` are for code outside `lifecycle/` only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const LIFECYCLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/lifecycle");

/// A module inside `lifecycle/`: `[]` is `lifecycle` itself.
type ModPath = Vec<String>;

type Graph = BTreeMap<ModPath, BTreeSet<ModPath>>;

/// Every `.rs` under `dir`: its module path and its source.
fn read_modules(dir: &Path, prefix: &ModPath, out: &mut BTreeMap<ModPath, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let mut sub = prefix.clone();
            sub.push(name);
            read_modules(&path, &sub, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut module = prefix.clone();
            if name != "mod" {
                module.push(name);
            }
            out.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// `src` with comments, strings and char literals blanked out, so that
/// neither doc links nor text such as `"{e}"` read as code.
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            '"' => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            // A char literal ('x', '\n'); a lifetime ('a) is kept.
            '\'' if c.get(i + 1) == Some(&'\\') || c.get(i + 2) == Some(&'\'') => {
                i += 1;
                while i < c.len() && c[i] != '\'' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("' '");
            }
            ch if is_ident(ch) => {
                let start = i;
                while i < c.len() && is_ident(c[i]) {
                    i += 1;
                }
                let word: String = c[start..i].iter().collect();
                // Raw strings: r"…", r#"…"#, br"…".
                if (word == "r" || word == "br") && matches!(c.get(i), Some('"' | '#')) {
                    let mut hashes = 0;
                    while c.get(i) == Some(&'#') {
                        hashes += 1;
                        i += 1;
                    }
                    i += 1; // the opening quote
                    loop {
                        if i >= c.len() {
                            break;
                        }
                        if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                            i += 1 + hashes;
                            break;
                        }
                        i += 1;
                    }
                    out.push_str("\"\"");
                } else {
                    out.push_str(&word);
                }
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// Identifiers, `::`, and single punctuation characters.
fn tokens(code: &str) -> Vec<String> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else {
            out.push(ch.to_string());
            i += 1;
        }
    }
    out
}

/// The paths a `use` tree names (`a::{b, c::d}` → `a::b`, `a::c::d`).
fn expand_use(tree: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut prefix = Vec::new();
    let mut i = 0;
    while i < tree.len() {
        match tree[i].as_str() {
            "::" => i += 1,
            "{" => {
                // Split the group at its top-level commas.
                let mut depth = 0;
                let mut item = Vec::new();
                i += 1;
                while i < tree.len() {
                    match tree[i].as_str() {
                        "{" => depth += 1,
                        "}" if depth == 0 => break,
                        "}" => depth -= 1,
                        "," if depth == 0 => {
                            for p in expand_use(&item) {
                                paths.push([prefix.clone(), p].concat());
                            }
                            item.clear();
                            i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    item.push(tree[i].clone());
                    i += 1;
                }
                for p in expand_use(&item) {
                    paths.push([prefix.clone(), p].concat());
                }
                return paths;
            }
            // `a as b`: the alias is not part of the path.
            "as" => break,
            seg => {
                prefix.push(seg.to_string());
                i += 1;
            }
        }
    }
    if !prefix.is_empty() {
        paths.push(prefix);
    }
    paths
}

/// The module of `lifecycle/` a path written in module `here` points into:
/// its longest prefix that is a module. `None` outside `lifecycle/`.
fn resolve(here: &ModPath, path: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut abs = match path.first().map(String::as_str) {
        Some("crate") if path.get(1).map(String::as_str) == Some("lifecycle") => path[2..].to_vec(),
        Some("super" | "self") => {
            let mut base = here.clone();
            let mut rest = path;
            while let Some(seg) = rest.first() {
                match seg.as_str() {
                    "super" => {
                        // Above `lifecycle` is the rest of the crate.
                        base.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
            [base, rest.to_vec()].concat()
        }
        // A submodule of `here` by its bare name (`mod.rs` re-exports).
        Some(first) if modules.contains(&[here.clone(), vec![first.to_string()]].concat()) => {
            [here.clone(), path.to_vec()].concat()
        }
        _ => return None,
    };
    while !modules.contains(&abs) {
        abs.pop()?;
    }
    Some(abs)
}

/// The modules `file` (module `me`) refers to.
fn references(me: &ModPath, src: &str, modules: &BTreeSet<ModPath>) -> BTreeSet<ModPath> {
    let t = tokens(&code_only(src));
    let mut found = BTreeSet::new();
    // Inline modules (`mod tests { … }`): their name and the depth they close at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < t.len() {
        let here: ModPath = [me.clone(), inline.iter().map(|(n, _)| n.clone()).collect()].concat();
        match t[i].as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            "mod" if t.get(i + 2).map(String::as_str) == Some("{") => {
                inline.push((t[i + 1].clone(), depth));
                depth += 1;
                i += 3;
                continue;
            }
            "use" => {
                let end = (i..t.len()).find(|&k| t[k] == ";").unwrap_or(t.len());
                for path in expand_use(&t[i + 1..end]) {
                    found.extend(resolve(&here, &path, modules));
                }
                i = end + 1;
                continue;
            }
            word if (i == 0 || t[i - 1] != "::")
                && t.get(i + 1).map(String::as_str) == Some("::") =>
            {
                let mut path = vec![word.to_string()];
                let mut k = i + 1;
                while t.get(k).map(String::as_str) == Some("::")
                    && t.get(k + 1)
                        .is_some_and(|s| s.chars().all(|c| c.is_alphanumeric() || c == '_'))
                {
                    path.push(t[k + 1].clone());
                    k += 2;
                }
                found.extend(resolve(&here, &path, modules));
                i = k;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found.remove(me);
    found
}

fn graph(sources: &BTreeMap<ModPath, String>) -> Graph {
    let modules: BTreeSet<ModPath> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(me, src)| (me.clone(), references(me, src, &modules)))
        .collect()
}

/// A cycle, as the modules along it (the first repeated at the end).
fn find_cycle(g: &Graph) -> Option<Vec<ModPath>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        n: &ModPath,
        g: &Graph,
        mark: &mut BTreeMap<ModPath, Mark>,
        stack: &mut Vec<ModPath>,
    ) -> Option<Vec<ModPath>> {
        mark.insert(n.clone(), Mark::Open);
        stack.push(n.clone());
        for m in g.get(n).into_iter().flatten() {
            match mark.get(m).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(m, g, mark, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        mark.insert(n.clone(), Mark::Done);
        None
    }
    let mut mark = BTreeMap::new();
    for n in g.keys() {
        if mark.get(n).copied().unwrap_or(Mark::New) == Mark::New {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, g, &mut mark, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

fn name(m: &ModPath) -> String {
    match m.is_empty() {
        true => "lifecycle".into(),
        false => m.join("::"),
    }
}

fn lifecycle_graph() -> Graph {
    let mut sources = BTreeMap::new();
    read_modules(Path::new(LIFECYCLE_DIR), &Vec::new(), &mut sources);
    graph(&sources)
}

fn m(path: &str) -> ModPath {
    path.split("::").map(String::from).collect()
}

#[test]
fn lifecycle_modules_import_each_other_without_a_cycle() {
    let g = lifecycle_graph();
    if let Some(cycle) = find_cycle(&g) {
        let shown: Vec<String> = cycle.iter().map(name).collect();
        panic!("import cycle in lifecycle/: {}", shown.join(" -> "));
    }
}

/// The graph is really read (a parser that saw nothing would find no cycle).
#[test]
fn the_graph_sees_the_imports() {
    let g = lifecycle_graph();
    let edge = |a: &str, b: &str| g.get(&m(a)).is_some_and(|s| s.contains(&m(b)));
    assert!(edge("worker", "claimer"), "use super::{{…, claimer, …}}");
    assert!(
        edge("steps::place", "steps::after_call"),
        "use super::after_call"
    );
    assert!(
        edge("steps::place", "reconciler"),
        "use crate::lifecycle::reconciler"
    );
    assert!(edge("heartbeater", "fleet_share"), "fleet_share::run_once");
    assert!(
        edge("compliance", "compliance::calling_window"),
        "a re-export"
    );
    assert!(
        !edge("shares", "shares"),
        "inline tests are the file itself"
    );
    for leaf in ["context", "run_control", "lease", "shares", "job_result"] {
        let services = [
            "claimer",
            "heartbeater",
            "reconciler",
            "worker",
            "run_driver",
        ];
        for s in services {
            assert!(!edge(leaf, s), "{leaf} must not import the service {s}");
        }
    }
}

#[test]
fn a_cycle_is_found_and_shown() {
    let sources: BTreeMap<ModPath, String> = [
        (vec![], "pub mod a;\npub mod b;\npub mod c;\n".to_string()),
        (m("a"), "use super::{b::{self, X}};\n".to_string()),
        (
            m("b"),
            "fn f() { crate::lifecycle::c::g(\"super::a\") }\n".to_string(),
        ),
        (
            m("c"),
            "// use super::b;\nfn g() { super::a::h(); }\n".to_string(),
        ),
    ]
    .into_iter()
    .collect();
    let cycle = find_cycle(&graph(&sources)).expect("a -> b -> c -> a");
    let shown: Vec<String> = cycle.iter().map(name).collect();
    assert_eq!(shown, ["a", "b", "c", "a"]);
}
