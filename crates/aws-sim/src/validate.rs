//! Model-constraint validation: the rule types a constraint table is made
//! of (one table per service model, kept beside each emulator and checked
//! against the model file by its conformance test) and a validator that
//! walks request JSON with a table, collecting every violation the way
//! AWS's Coral front end reports them.
//!
//! The SDKs check no constraint client-side (smithy-rs generates no length
//! or pattern checks, botocore checks only some), so every rule lives in the
//! emulator.

use serde_json::{Map, Value};

/// A model pattern, verbatim, with the Rust function implementing it
/// (patterns match the whole value, as Coral applies them).
pub type Pattern = Option<(&'static str, fn(&str) -> bool)>;

/// A string shape: length bounds and the model's pattern with a Rust check.
pub struct StrRule {
    /// Shape name in the model.
    pub shape: &'static str,
    /// `min` of the model (0 when absent).
    pub min: usize,
    /// `max` of the model (`usize::MAX` when absent).
    pub max: usize,
    /// The model's `pattern`, verbatim, with the function that implements it.
    pub pattern: Pattern,
}

/// A list shape's length bounds (blob shapes use it too: their bounds count bytes).
pub struct ListRule {
    /// Shape name.
    pub shape: &'static str,
    /// `min` (0 when absent).
    pub min: usize,
    /// `max` (`usize::MAX` when absent).
    pub max: usize,
}

/// An integer shape's range.
pub struct IntRule {
    /// Shape name.
    pub shape: &'static str,
    /// `min`.
    pub min: i64,
    /// `max` (`i64::MAX` when absent).
    pub max: i64,
}

/// One service's constraint table.
pub struct Rules {
    /// String shapes.
    pub strings: &'static [StrRule],
    /// List (and blob) shapes.
    pub lists: &'static [ListRule],
    /// Integer shapes.
    pub ints: &'static [IntRule],
    /// Enum shapes and their values, in model order.
    pub enums: &'static [(&'static str, &'static [&'static str])],
}

impl Rules {
    /// Every row of the table that disagrees with the model (`service-2.json`
    /// as JSON): type, `min`, `max`, `pattern` (verbatim) and enum values in
    /// model order. Empty when the table is faithful.
    pub fn mismatches(&self, model: &Value) -> Vec<String> {
        let shapes = &model["shapes"];
        let mut out = Vec::new();
        let mut expect = |what: String, ours: Value, theirs: Value| {
            if ours != theirs {
                out.push(format!("{what}: table {ours}, model {theirs}"));
            }
        };
        let bound = |n: usize| if n == NONE { Value::Null } else { n.into() };
        let min = |s: &Value| s.get("min").cloned().unwrap_or(0.into());
        let max = |s: &Value| s.get("max").cloned().unwrap_or(Value::Null);
        for r in self.strings {
            let s = &shapes[r.shape];
            expect(
                format!("{} type", r.shape),
                "string".into(),
                s["type"].clone(),
            );
            expect(format!("{} min", r.shape), r.min.into(), min(s));
            expect(format!("{} max", r.shape), bound(r.max), max(s));
            expect(
                format!("{} pattern", r.shape),
                r.pattern.map_or(Value::Null, |p| p.0.into()),
                s.get("pattern").cloned().unwrap_or(Value::Null),
            );
        }
        for r in self.lists {
            let s = &shapes[r.shape];
            let ty = s["type"].as_str().unwrap_or("");
            expect(
                format!("{} type", r.shape),
                true.into(),
                (ty == "list" || ty == "blob").into(),
            );
            expect(format!("{} min", r.shape), r.min.into(), min(s));
            expect(format!("{} max", r.shape), bound(r.max), max(s));
        }
        for r in self.ints {
            let s = &shapes[r.shape];
            expect(
                format!("{} type", r.shape),
                "integer".into(),
                s["type"].clone(),
            );
            expect(format!("{} min", r.shape), r.min.into(), min(s));
            let m = if r.max == i64::MAX {
                Value::Null
            } else {
                r.max.into()
            };
            expect(format!("{} max", r.shape), m, max(s));
        }
        for (name, values) in self.enums {
            expect(
                format!("{name} enum"),
                (*values).into(),
                shapes[*name].get("enum").cloned().unwrap_or(Value::Null),
            );
        }
        out
    }
}

/// "No bound" in a rule.
pub const NONE: usize = usize::MAX;

/// `\P{C}*`: no character of Unicode category C (Cc control, Cf format,
/// Cs surrogate — impossible in a Rust `str` —, Co private use, Cn unassigned;
/// Cn is approximated by the noncharacters).
pub fn no_control(s: &str) -> bool {
    !s.chars().any(|c| {
        let u = c as u32;
        c.is_control()
            || matches!(u, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB)
            || matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
            || (u & 0xFFFE) == 0xFFFE
            || matches!(u, 0xFDD0..=0xFDEF)
    })
}

/// `[\s\S]*` and friends: anything.
pub fn any(_: &str) -> bool {
    true
}

/// One field of a `ValidationException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Member path, Coral style (`documents.1.member.id`).
    pub name: String,
    /// What the constraint says.
    pub message: String,
}

/// Why a request is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// The body is not JSON, or a member has the wrong JSON type.
    CannotParse(String),
    /// Members break length, range, pattern, enum or required constraints.
    Fields(Vec<FieldError>),
}

/// Coral's summary of field errors: `2 validation errors detected: Value at
/// 'a' failed to satisfy constraint: ...; Value at 'b' ...`.
pub fn summary(fields: &[FieldError]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| {
            format!(
                "Value at '{}' failed to satisfy constraint: {}",
                f.name, f.message
            )
        })
        .collect();
    let n = fields.len();
    format!(
        "{} validation error{} detected: {}",
        n,
        if n == 1 { "" } else { "s" },
        parts.join("; ")
    )
}

/// Walks request JSON, collecting field errors (all of them, as Coral does)
/// and the first type error (which makes the request unparsable).
pub struct Validator {
    rules: &'static Rules,
    /// Constraint violations found so far.
    pub fields: Vec<FieldError>,
    parse: Option<String>,
}

impl Validator {
    /// New empty validator over a service's table.
    pub fn new(rules: &'static Rules) -> Self {
        Validator {
            rules,
            fields: Vec::new(),
            parse: None,
        }
    }

    fn str_rule(&self, shape: &str) -> &'static StrRule {
        self.rules
            .strings
            .iter()
            .find(|r| r.shape == shape)
            .unwrap_or_else(|| panic!("no string rule for {shape}"))
    }

    fn list_rule(&self, shape: &str) -> &'static ListRule {
        self.rules
            .lists
            .iter()
            .find(|r| r.shape == shape)
            .unwrap_or_else(|| panic!("no list rule for {shape}"))
    }

    /// The values of an enum shape.
    pub fn enum_values(&self, shape: &str) -> &'static [&'static str] {
        self.rules
            .enums
            .iter()
            .find(|(n, _)| *n == shape)
            .unwrap_or_else(|| panic!("no enum {shape}"))
            .1
    }

    /// Whether a violation was recorded at `path` or below it.
    pub fn failed_at(&self, path: &str) -> bool {
        self.fields.iter().any(|f| {
            f.name == path
                || f.name
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    }

    /// Records a constraint violation.
    pub fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.fields.push(FieldError {
            name: path.to_string(),
            message: message.into(),
        });
    }

    fn type_error(&mut self, path: &str, expected: &str) {
        if self.parse.is_none() {
            self.parse = Some(format!("Cannot parse '{path}': expected {expected}"));
        }
    }

    fn present<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        required: bool,
    ) -> Option<&'v Value> {
        match v {
            None | Some(Value::Null) => {
                if required {
                    self.fail(path, "Member must not be null");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A present member of the JSON type `get` reads, or a type error.
    fn typed<'v, T>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        required: bool,
        expected: &str,
        get: impl Fn(&'v Value) -> Option<T>,
    ) -> Option<T> {
        let v = self.present(path, v, required)?;
        let t = get(v);
        if t.is_none() {
            self.type_error(path, expected);
        }
        t
    }

    /// Records a length outside `min..=max` (Coral's wording).
    fn bounds(&mut self, path: &str, n: usize, min: usize, max: usize) {
        if n < min {
            self.fail(
                path,
                format!("Member must have length greater than or equal to {min}"),
            );
        }
        if max != NONE && n > max {
            self.fail(
                path,
                format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// Checks the length of a list or blob against a list shape's bounds.
    pub fn check_len(&mut self, path: &str, n: usize, shape: &str) {
        let r = self.list_rule(shape);
        self.bounds(path, n, r.min, r.max);
    }

    /// Checks a string against a shape's rule.
    pub fn check_str(&mut self, path: &str, s: &str, shape: &str) {
        let r = self.str_rule(shape);
        self.bounds(path, s.chars().count(), r.min, r.max);
        if let Some((p, f)) = r.pattern
            && !f(s)
        {
            self.fail(
                path,
                format!("Member must satisfy regular expression pattern: {p}"),
            );
        }
    }

    /// A string member of a shape.
    pub fn string(
        &mut self,
        path: &str,
        v: Option<&Value>,
        shape: &str,
        required: bool,
    ) -> Option<String> {
        let s = self.typed(path, v, required, "a string", Value::as_str)?;
        self.check_str(path, s, shape);
        Some(s.to_string())
    }

    /// An enum member.
    pub fn enumeration(
        &mut self,
        path: &str,
        v: Option<&Value>,
        shape: &str,
        required: bool,
    ) -> Option<String> {
        let s = self.typed(path, v, required, "a string", Value::as_str)?;
        let values = self.enum_values(shape);
        if !values.contains(&s) {
            self.fail(
                path,
                format!(
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                ),
            );
            return None;
        }
        Some(s.to_string())
    }

    /// A list member with the shape's length bounds.
    pub fn list<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        shape: &str,
        required: bool,
    ) -> Option<&'v Vec<Value>> {
        let v = self.present(path, v, required)?;
        let Some(l) = v.as_array() else {
            self.type_error(path, "a list");
            return None;
        };
        self.check_len(path, l.len(), shape);
        Some(l)
    }

    /// A structure member.
    pub fn object<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        required: bool,
    ) -> Option<&'v Map<String, Value>> {
        let v = self.present(path, v, required)?;
        let Some(m) = v.as_object() else {
            self.type_error(path, "a structure");
            return None;
        };
        Some(m)
    }

    /// A union member: exactly one of its members may be set.
    pub fn union<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        members: &[&str],
        required: bool,
    ) -> Option<(String, &'v Value)> {
        let m = self.object(path, v, required)?;
        let set: Vec<(&String, &Value)> = m
            .iter()
            .filter(|(k, v)| members.contains(&k.as_str()) && !v.is_null())
            .collect();
        if set.len() != 1 {
            self.fail(
                path,
                format!(
                    "Member must have exactly one of [{}] set",
                    members.join(", ")
                ),
            );
            return None;
        }
        Some((set[0].0.clone(), set[0].1))
    }

    /// A long member (JSON integer).
    pub fn long(&mut self, path: &str, v: Option<&Value>, required: bool) -> Option<i64> {
        self.typed(path, v, required, "a long", Value::as_i64)
    }

    /// An integer member checked against an int rule.
    pub fn int(&mut self, path: &str, v: Option<i64>, shape: &str) -> Option<i64> {
        let n = v?;
        let r = self
            .rules
            .ints
            .iter()
            .find(|r| r.shape == shape)
            .unwrap_or_else(|| panic!("no int rule {shape}"));
        if n < r.min {
            self.fail(
                path,
                format!("Member must have value greater than or equal to {}", r.min),
            );
        }
        if n > r.max {
            self.fail(
                path,
                format!("Member must have value less than or equal to {}", r.max),
            );
        }
        Some(n)
    }

    /// A timestamp member in a JSON body: epoch seconds, may be fractional.
    pub fn timestamp(&mut self, path: &str, v: Option<&Value>, required: bool) -> Option<f64> {
        self.typed(
            path,
            v,
            required,
            "a timestamp (epoch seconds)",
            Value::as_f64,
        )
    }

    /// A boolean member.
    pub fn boolean(&mut self, path: &str, v: Option<&Value>) -> Option<bool> {
        self.typed(path, v, false, "a boolean", Value::as_bool)
    }

    /// Records a parse problem found by the caller (bad base64, bad number).
    pub fn parse_error(&mut self, message: impl Into<String>) {
        if self.parse.is_none() {
            self.parse = Some(message.into());
        }
    }

    /// A double member (JSON number).
    pub fn double(&mut self, path: &str, v: Option<&Value>, required: bool) -> Option<f64> {
        self.typed(path, v, required, "a double", Value::as_f64)
    }

    /// A blob member (base64 in JSON), its decoded length checked against
    /// the shape's bounds (a [`ListRule`] row: blob bounds count bytes).
    pub fn blob(
        &mut self,
        path: &str,
        v: Option<&Value>,
        shape: &str,
        required: bool,
    ) -> Option<Vec<u8>> {
        use base64::Engine;
        let v = self.present(path, v, required)?;
        let Some(s) = v.as_str() else {
            self.type_error(path, "a base64 blob");
            return None;
        };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) else {
            self.parse_error(format!("Cannot parse '{path}': invalid base64"));
            return None;
        };
        self.check_len(path, bytes.len(), shape);
        Some(bytes)
    }

    /// Ends validation: an unparsable request first, then the field errors.
    pub fn finish(self) -> Result<(), Invalid> {
        if let Some(p) = self.parse {
            return Err(Invalid::CannotParse(p));
        }
        if !self.fields.is_empty() {
            return Err(Invalid::Fields(self.fields));
        }
        Ok(())
    }
}

/// Parses a request body as a JSON object (`{}` when empty).
pub fn parse_body(body: &[u8]) -> Result<Value, Invalid> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Invalid::CannotParse(format!("Could not parse request body into json: {e}"))
    })?;
    if !v.is_object() {
        return Err(Invalid::CannotParse(
            "request body must be a JSON object".into(),
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    static RULES: Rules = Rules {
        strings: &[
            StrRule {
                shape: "Id",
                min: 1,
                max: 4,
                pattern: Some(("\\P{C}*", no_control)),
            },
            StrRule {
                shape: "Title",
                min: 1,
                max: NONE,
                pattern: None,
            },
        ],
        lists: &[ListRule {
            shape: "Blob",
            min: 1,
            max: 3,
        }],
        ints: &[IntRule {
            shape: "Max",
            min: 1,
            max: 10,
        }],
        enums: &[("Kind", &["A", "B"])],
    };

    #[test]
    fn patterns() {
        assert!(
            no_control("SI-1001.pdf é 日本") && !no_control("a\u{7}b") && !no_control("a\u{200B}")
        );
    }

    #[test]
    fn collects_every_field_error_with_coral_wording() {
        let mut v = Validator::new(&RULES);
        v.string("a", Some(&Value::String("x\u{7}yzzz".into())), "Id", true);
        v.string("b", None, "Title", true);
        v.enumeration("c", Some(&Value::String("C".into())), "Kind", true);
        v.int("d", Some(11), "Max");
        v.blob("e", Some(&Value::String("AAAAAAAA".into())), "Blob", true);
        assert!(v.failed_at("a") && !v.failed_at("f"));
        let Err(Invalid::Fields(fields)) = v.finish() else {
            panic!("expected field errors");
        };
        assert_eq!(fields.len(), 6, "{fields:?}");
        let msg = summary(&fields);
        assert!(msg.starts_with("6 validation errors detected: Value at 'a' failed to satisfy constraint: Member must have length less than or equal to 4; "), "{msg}");
        assert!(msg.contains("Value at 'b' failed to satisfy constraint: Member must not be null"));
        assert!(msg.contains("Member must satisfy enum value set: [A, B]"));
        assert!(msg.contains("Value at 'd' failed to satisfy constraint: Member must have value less than or equal to 10"));
        assert!(msg.contains("Value at 'e' failed to satisfy constraint: Member must have length less than or equal to 3"));
    }

    #[test]
    fn mismatches_name_each_row_the_model_disagrees_with() {
        let model = serde_json::json!({"shapes": {
            "Id": {"type": "string", "min": 1, "max": 4, "pattern": "\\P{C}*"},
            "Title": {"type": "string", "min": 1},
            "Blob": {"type": "blob", "min": 1, "max": 3},
            "Max": {"type": "integer", "min": 1, "max": 10},
            "Kind": {"type": "string", "enum": ["A", "B"]},
        }});
        assert_eq!(RULES.mismatches(&model), Vec::<String>::new());
        let mut changed = model.clone();
        changed["shapes"]["Id"]["max"] = 5.into();
        changed["shapes"]["Kind"]["enum"] = serde_json::json!(["B", "A"]);
        changed["shapes"]["Max"]["type"] = "long".into();
        let m = RULES.mismatches(&changed);
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].starts_with("Id max: table 4, model 5"), "{m:?}");
    }

    #[test]
    fn type_errors_make_the_request_unparsable() {
        let mut v = Validator::new(&RULES);
        v.string("a", Some(&Value::Bool(true)), "Id", true);
        v.string("b", None, "Title", true);
        assert_eq!(
            v.finish(),
            Err(Invalid::CannotParse(
                "Cannot parse 'a': expected a string".into()
            ))
        );
        assert!(matches!(parse_body(b"[1]"), Err(Invalid::CannotParse(_))));
        assert_eq!(parse_body(b"  ").unwrap(), Value::Object(Map::new()));
    }
}
