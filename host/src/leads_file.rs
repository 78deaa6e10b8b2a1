//! Lead files (`.json` / `.csv`) and the validation of a lead's fields.
//!
//! Used by `dialplane plugin test` and reusable by the API's lead import: the
//! same rules (E.164 phone, IANA time zone, unique non-empty id) and the same
//! precise errors, which name the file, the line and the field.
//!
//! One format with `POST /api/leads` (the `lead_file_format` test feeds the
//! same files to both):
//! - **CSV**: a header row; columns `external_id` (or `id`) and `phone` are
//!   required, `name`, `timezone`, `status` and `tags` optional (empty cell =
//!   none); every other column becomes an attribute, in header order.
//! - **JSON**: an array of objects with keys `external_id` (or `id`),
//!   `phone`, `name`, `timezone`, `attributes` (an object of strings),
//!   `status` and `tags` (an array of strings); any other key is an error
//!   naming it. `status` and `tags` belong to the lead record: flows do not
//!   see them, in `plugin test` or in a run.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::runtime::types::{Lead, Properties};

/// Where a lead file is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LeadFileError {
    pub file: String,
    /// 1-based line; 0 when the whole file is at fault.
    pub line: u64,
    /// The column / key at fault, if one is.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for LeadFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ": line {}", self.line)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A field that fails validation (without position: the caller adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// E.164: `+`, a non-zero country digit, 8 to 15 digits in all.
pub fn validate_phone(phone: &str) -> Result<(), String> {
    let digits = phone.strip_prefix('+').ok_or_else(|| {
        format!("`{phone}` is not an E.164 number (it must start with `+`, e.g. +14155550123)")
    })?;
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{phone}` is not an E.164 number (`+` then 8 to 15 digits, not starting with 0)"
        ))
    }
}

/// An IANA time zone name known to chrono-tz (e.g. `America/New_York`).
pub fn validate_timezone(tz: &str) -> Result<(), String> {
    tz.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| format!("`{tz}` is not an IANA time zone (e.g. `America/New_York`)"))
}

/// Checks every field of one lead.
pub fn validate_lead(lead: &Lead) -> Result<(), FieldError> {
    if lead.id.trim().is_empty() {
        return Err(FieldError {
            field: "id",
            message: "is empty".into(),
        });
    }
    validate_phone(&lead.phone).map_err(|message| FieldError {
        field: "phone",
        message,
    })?;
    if let Some(tz) = &lead.timezone {
        validate_timezone(tz).map_err(|message| FieldError {
            field: "timezone",
            message,
        })?;
    }
    Ok(())
}

/// Reads and validates a lead file; the format follows the extension
/// (`.json` / `.csv`), else the first character (`[` = JSON).
pub fn read(path: &Path) -> Result<Vec<Lead>, LeadFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| LeadFileError {
        file: file.clone(),
        line: 0,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => parse_json(&file, &text),
        Some("csv") => parse_csv(&file, &text),
        _ if text.trim_start().starts_with('[') => parse_json(&file, &text),
        _ => parse_csv(&file, &text),
    }
}

fn err(file: &str, line: u64, field: Option<&str>, message: impl Into<String>) -> LeadFileError {
    LeadFileError {
        file: file.to_string(),
        line,
        field: field.map(str::to_string),
        message: message.into(),
    }
}

/// Validates `lead` found at `line` and checks its id is new.
fn accept(
    file: &str,
    line: u64,
    lead: Lead,
    seen: &mut HashMap<String, u64>,
    out: &mut Vec<Lead>,
) -> Result<(), LeadFileError> {
    validate_lead(&lead).map_err(|e| err(file, line, Some(e.field), e.message))?;
    if let Some(first) = seen.insert(lead.id.clone(), line) {
        return Err(err(
            file,
            line,
            Some("id"),
            format!("duplicate id `{}` (first on line {first})", lead.id),
        ));
    }
    out.push(lead);
    Ok(())
}

/// CSV columns that are not attributes (as `POST /api/leads` reads them).
const KNOWN: [&str; 7] = [
    "external_id",
    "id",
    "phone",
    "name",
    "timezone",
    "status",
    "tags",
];

/// Parses CSV text (see the module docs).
pub fn parse_csv(file: &str, text: &str) -> Result<Vec<Lead>, LeadFileError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| err(file, 1, None, format!("unreadable header row: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let id_col = col("external_id").or_else(|| col("id"));
    let (Some(id_col), Some(phone_col)) = (id_col, col("phone")) else {
        let missing = if id_col.is_none() {
            "external_id"
        } else {
            "phone"
        };
        return Err(err(
            file,
            1,
            Some(missing),
            format!(
                "the header row has no `{missing}` column (columns: external_id or id, phone, name, timezone, status, tags, then attributes)"
            ),
        ));
    };
    let (name_col, tz_col) = (col("name"), col("timezone"));
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            err(file, line, None, e.to_string())
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let cell = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let attributes: Properties = headers
            .iter()
            .zip(rec.iter())
            .filter(|(h, _)| !KNOWN.contains(h))
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        let lead = Lead {
            id: rec.get(id_col).unwrap_or_default().to_string(),
            phone: rec.get(phone_col).unwrap_or_default().to_string(),
            name: cell(name_col),
            timezone: cell(tz_col),
            attributes,
        };
        accept(file, line, lead, &mut seen, &mut out)?;
    }
    Ok(out)
}

/// Parses a JSON array of lead objects (see the module docs). Elements are
/// parsed one at a time so that every error carries its element's line.
pub fn parse_json(file: &str, text: &str) -> Result<Vec<Lead>, LeadFileError> {
    let line_of = |offset: usize| 1 + text[..offset.min(text.len())].matches('\n').count() as u64;
    let skip_ws = |mut i: usize| {
        while i < text.len() && text.as_bytes()[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut pos = skip_ws(0);
    if text.as_bytes().get(pos) != Some(&b'[') {
        return Err(err(
            file,
            line_of(pos),
            None,
            "expected a JSON array of leads (`[ {...}, ... ]`)",
        ));
    }
    pos = skip_ws(pos + 1);
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    if text.as_bytes().get(pos) == Some(&b']') {
        return Ok(out);
    }
    loop {
        let start = pos;
        let mut stream =
            serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
        let value = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                return Err(err(
                    file,
                    line_of(start) + e.line() as u64 - 1,
                    None,
                    format!("invalid JSON: {e}"),
                ));
            }
            None => return Err(err(file, line_of(start), None, "unexpected end of file")),
        };
        let end = start + stream.byte_offset();
        let line = line_of(skip_ws(start));
        let lead = json_lead(file, line, value)?;
        accept(file, line, lead, &mut seen, &mut out)?;
        pos = skip_ws(end);
        match text.as_bytes().get(pos) {
            Some(b',') => pos = skip_ws(pos + 1),
            Some(b']') => break,
            _ => {
                return Err(err(
                    file,
                    line_of(pos),
                    None,
                    "expected `,` or `]` after a lead",
                ));
            }
        }
    }
    if skip_ws(pos + 1) != text.len() {
        return Err(err(
            file,
            line_of(pos + 1),
            None,
            "unexpected text after the array",
        ));
    }
    Ok(out)
}

/// The keys of a JSON lead, as `POST /api/leads` takes them.
const JSON_KEYS: [&str; 8] = [
    "external_id",
    "id",
    "phone",
    "name",
    "timezone",
    "attributes",
    "status",
    "tags",
];

fn json_lead(file: &str, line: u64, value: serde_json::Value) -> Result<Lead, LeadFileError> {
    use serde_json::Value;
    let Value::Object(map) = value else {
        return Err(err(file, line, None, "each lead must be a JSON object"));
    };
    if let Some(unknown) = map.keys().find(|k| !JSON_KEYS.contains(&k.as_str())) {
        return Err(err(
            file,
            line,
            Some(unknown),
            format!(
                "unknown field `{unknown}`: a lead has {}; attributes go in `attributes`",
                JSON_KEYS.join(", ")
            ),
        ));
    }
    let text_field = |key: &str| -> Result<Option<String>, LeadFileError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(err(file, line, Some(key), "must be a string")),
        }
    };
    let id = match (text_field("external_id")?, text_field("id")?) {
        (Some(_), Some(_)) => {
            return Err(err(
                file,
                line,
                Some("id"),
                "give `external_id` or its alias `id`, not both",
            ));
        }
        (Some(id), None) | (None, Some(id)) => id,
        (None, None) => return Err(err(file, line, Some("external_id"), "is missing")),
    };
    let phone = text_field("phone")?.ok_or_else(|| err(file, line, Some("phone"), "is missing"))?;
    let name = text_field("name")?;
    let timezone = text_field("timezone")?;
    // The lead record's own fields (flows do not see them, in a run either):
    // checked so a file `plugin test` takes is one the API takes.
    text_field("status")?;
    match map.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) => {
            if let Some(i) = tags.iter().position(|t| !t.is_string()) {
                return Err(err(
                    file,
                    line,
                    Some(&format!("tags[{i}]")),
                    "must be a string",
                ));
            }
        }
        Some(_) => {
            return Err(err(file, line, Some("tags"), "must be an array of strings"));
        }
    }
    let mut attributes = Properties::new();
    match map.get("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(attrs)) => {
            for (k, v) in attrs {
                let Value::String(v) = v else {
                    return Err(err(
                        file,
                        line,
                        Some(&format!("attributes.{k}")),
                        "must be a string",
                    ));
                };
                attributes.push((k.clone(), v.clone()));
            }
        }
        Some(_) => {
            return Err(err(
                file,
                line,
                Some("attributes"),
                "must be an object of strings",
            ));
        }
    }
    Ok(Lead {
        id,
        phone,
        name: name.filter(|n| !n.is_empty()),
        timezone: timezone.filter(|t| !t.is_empty()),
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_maps_columns_and_attributes() {
        let leads = parse_csv(
            "l.csv",
            "id,phone,name,timezone,segment\na,+14155550127,Ann,America/New_York,gold\nb,+442071234560,,,\n",
        )
        .unwrap();
        assert_eq!(leads[0].name.as_deref(), Some("Ann"));
        assert_eq!(leads[0].attributes, vec![("segment".into(), "gold".into())]);
        assert_eq!(leads[1].timezone, None);
    }

    #[test]
    fn csv_errors_name_line_and_field() {
        let e = parse_csv("l.csv", "id,phone\na,+14155550127\nb,555-0101\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (3, Some("phone")));
        assert!(
            e.to_string()
                .starts_with("l.csv: line 3: field `phone`: `555-0101`"),
            "{e}"
        );
        let e = parse_csv("l.csv", "id,tel\na,+14155550127\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (1, Some("phone")));
        let e = parse_csv("l.csv", "id,phone,timezone\na,+14155550127,Mars/Base\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (2, Some("timezone")));
        let e = parse_csv("l.csv", "id,phone\na,+14155550127\na,+14155550128\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (3, Some("id")));
    }

    #[test]
    fn json_errors_name_the_element_line() {
        let text = "[\n  {\"id\": \"a\", \"phone\": \"+14155550127\"},\n  {\"id\": \"b\",\n   \"phone\": \"12\"}\n]";
        let e = parse_json("l.json", text).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (3, Some("phone")));
        let ok = parse_json(
            "l.json",
            "[{\"external_id\": \"7\", \"phone\": \"+14155550127\", \"status\": \"new\", \"tags\": [\"a\"], \"attributes\": {\"segment\": \"gold\"}}]",
        )
        .unwrap();
        assert_eq!(ok[0].id, "7");
        assert_eq!(ok[0].attributes, vec![("segment".into(), "gold".into())]);
        // As the API: no loose keys, no numbers for text.
        let e = parse_json(
            "l.json",
            "[{\"id\": \"a\", \"phone\": \"+14155550127\", \"vip\": \"y\"}]",
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("vip"), "{e}");
        let e = parse_json("l.json", "[{\"id\": 7, \"phone\": \"+14155550127\"}]").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("id"), "{e}");
        let e = parse_json("l.json", "[\n{\"id\": \"a\",\n \"phone\": }]").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }
}
