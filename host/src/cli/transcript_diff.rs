//! A unified-style diff between two YAML transcripts, one hunk per changed
//! field, each headed by where it is: the lead (by id, not position, so a
//! lead added in the middle does not shift every later one), the attempt,
//! and the field path.
//!
//! ```text
//! --- transcript.yaml (expected)
//! +++ plugin test (actual)
//! @@ lead a, attempt 1: report.outcome @@
//! -busy
//! +answered-human
//! ```
//!
//! [`changes`] gives the same hunks as data (`plugin test --expect --json`).

use serde_yaml::Value;

/// One changed field: where it is, and its value on each side (absent on
/// the side that lacks it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    pub lead: Option<String>,
    pub attempt: Option<String>,
    /// The field path below the lead and attempt; empty for a whole entry.
    pub field: String,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
}

/// The changed fields of `expected` against `actual`; empty when they are
/// equal as YAML values (formatting and key order do not count).
pub fn changes(expected: &Value, actual: &Value) -> Vec<Change> {
    let mut found = Vec::new();
    walk(&mut found, &Place::default(), Some(expected), Some(actual));
    found
}

/// The diff of `expected` against `actual` as text; empty when equal.
pub fn diff(expected_name: &str, expected: &Value, actual: &Value) -> String {
    render(expected_name, &changes(expected, actual))
}

/// `changes` as the unified-style text.
pub fn render(expected_name: &str, changes: &[Change]) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let mut out = format!("--- {expected_name} (expected)\n+++ plugin test (actual)\n");
    for c in changes {
        out.push_str(&hunk(c));
    }
    out
}

/// Where a value sits: the lead and attempt it belongs to (when inside one)
/// and the field path below that.
#[derive(Default, Clone)]
struct Place {
    lead: Option<String>,
    attempt: Option<String>,
    path: String,
}

impl Place {
    fn field(&self, key: &str) -> Place {
        let mut p = self.clone();
        if !p.path.is_empty() {
            p.path.push('.');
        }
        p.path.push_str(key);
        p
    }

    fn index(&self, i: usize) -> Place {
        let mut p = self.clone();
        p.path.push_str(&format!("[{i}]"));
        p
    }

    fn change(&self, expected: Option<&Value>, actual: Option<&Value>) -> Change {
        Change {
            lead: self.lead.clone(),
            attempt: self.attempt.clone(),
            field: self.path.clone(),
            expected: expected.cloned(),
            actual: actual.cloned(),
        }
    }
}

fn header(c: &Change) -> String {
    let mut parts = Vec::new();
    if let Some(l) = &c.lead {
        parts.push(format!("lead {l}"));
    }
    if let Some(a) = &c.attempt {
        parts.push(format!("attempt {a}"));
    }
    let field = if c.field.is_empty() {
        "(whole entry)"
    } else {
        &c.field
    };
    if parts.is_empty() {
        format!("@@ {field} @@\n")
    } else {
        format!("@@ {}: {field} @@\n", parts.join(", "))
    }
}

fn walk(hunks: &mut Vec<Change>, at: &Place, expected: Option<&Value>, actual: Option<&Value>) {
    match (expected, actual) {
        (Some(e), Some(a)) if e == a => {}
        (Some(Value::Mapping(e)), Some(Value::Mapping(a))) => {
            for (k, ev) in e {
                walk(hunks, &at.field(&key_text(k)), Some(ev), a.get(k));
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    walk(hunks, &at.field(&key_text(k)), None, Some(av));
                }
            }
        }
        (Some(Value::Sequence(e)), Some(Value::Sequence(a))) if at.path == "leads" => {
            walk_leads(hunks, e, a)
        }
        (Some(Value::Sequence(e)), Some(Value::Sequence(a))) if at.path == "attempts" => {
            walk_keyed(hunks, at, e, a, "attempt", |p, k| Place {
                attempt: Some(k),
                path: String::new(),
                ..p.clone()
            })
        }
        (Some(Value::Sequence(e)), Some(Value::Sequence(a))) => {
            for i in 0..e.len().max(a.len()) {
                walk(hunks, &at.index(i), e.get(i), a.get(i));
            }
        }
        (e, a) => hunks.push(at.change(e, a)),
    }
}

/// Leads are matched by their `lead` id; below a lead, paths restart.
fn walk_leads(hunks: &mut Vec<Change>, e: &[Value], a: &[Value]) {
    walk_keyed(hunks, &Place::default(), e, a, "lead", |_, k| Place {
        lead: Some(k),
        ..Place::default()
    })
}

/// Matches the entries of two lists by the scalar under `key` (falling
/// back to their position), in expected order, then the added ones.
fn walk_keyed(
    hunks: &mut Vec<Change>,
    at: &Place,
    e: &[Value],
    a: &[Value],
    key: &str,
    place: impl Fn(&Place, String) -> Place,
) {
    let id = |v: &Value, i: usize| {
        v.get(key)
            .map(scalar_text)
            .unwrap_or_else(|| format!("#{}", i + 1))
    };
    let a_ids: Vec<String> = a.iter().enumerate().map(|(i, v)| id(v, i)).collect();
    let e_ids: Vec<String> = e.iter().enumerate().map(|(i, v)| id(v, i)).collect();
    for (ev, eid) in e.iter().zip(&e_ids) {
        let av = a_ids.iter().position(|x| x == eid).map(|j| &a[j]);
        walk(hunks, &place(at, eid.clone()), Some(ev), av);
    }
    for (av, aid) in a.iter().zip(&a_ids) {
        if !e_ids.contains(aid) {
            walk(hunks, &place(at, aid.clone()), None, Some(av));
        }
    }
}

fn hunk(c: &Change) -> String {
    let mut h = header(c);
    for (sign, v) in [('-', &c.expected), ('+', &c.actual)] {
        if let Some(v) = v {
            for line in yaml_lines(v) {
                h.push(sign);
                h.push_str(&line);
                h.push('\n');
            }
        }
    }
    h
}

fn yaml_lines(v: &Value) -> Vec<String> {
    match v {
        Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_) => serde_yaml::to_string(v)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect(),
        scalar => vec![scalar_text(scalar)],
    }
}

fn key_text(k: &Value) -> String {
    scalar_text(k)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim_end()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::diff;

    fn yaml(s: &str) -> serde_yaml::Value {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn equal_values_have_no_diff() {
        let a = yaml("leads:\n- lead: a\n  phone: '+1'\n");
        let b = yaml("leads: [{phone: '+1', lead: a}]");
        assert_eq!(diff("t.yaml", &a, &b), "");
    }

    #[test]
    fn a_changed_field_is_named_with_its_lead_and_attempt() {
        let e = yaml(
            "leads:\n- lead: a\n  attempts:\n  - attempt: 1\n    report: {outcome: busy}\n- lead: b\n  attempts: []\n",
        );
        let a = yaml(
            "leads:\n- lead: b\n  attempts: []\n- lead: a\n  attempts:\n  - attempt: 1\n    report: {outcome: answered-human}\n",
        );
        assert_eq!(
            diff("t.yaml", &e, &a),
            "--- t.yaml (expected)\n+++ plugin test (actual)\n\
             @@ lead a, attempt 1: report.outcome @@\n-busy\n+answered-human\n"
        );
    }

    #[test]
    fn added_and_removed_entries_are_shown_whole() {
        let e = yaml("leads:\n- lead: a\n  phone: x\n");
        let a = yaml("leads:\n- lead: c\n  phone: y\nfailures: 0\n");
        let d = diff("t.yaml", &e, &a);
        assert!(
            d.contains("@@ lead a: (whole entry) @@\n-lead: a\n-phone: x\n"),
            "{d}"
        );
        assert!(
            d.contains("@@ lead c: (whole entry) @@\n+lead: c\n+phone: y\n"),
            "{d}"
        );
        assert!(d.contains("@@ failures @@\n+0\n"), "{d}");
    }
}
