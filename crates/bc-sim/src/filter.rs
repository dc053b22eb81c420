//! OData `$filter`: parser and evaluator for the subset BC clients use
//! (comparisons, and/or/not, parentheses, startswith/endswith/contains).
//!
//! BC quirk: datetimes, dates and GUIDs are written unquoted
//! (`lastModifiedDateTime gt 2024-01-01T00:00:00Z`).

use crate::schema::{EntityType, Kind, Schema};
use crate::value::{Record, Val};
use chrono::NaiveDate;
use std::cmp::Ordering;
use uuid::Uuid;

/// A filter error, rendered as BC's 400 `BadRequest`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilterError {
    /// Property not on the type (BC's exact wording).
    #[error("Could not find a property named '{0}' on type '{1}'.")]
    UnknownProperty(String, String),
    /// Syntax error.
    #[error("Syntax error at position {0} in '{1}'.")]
    Syntax(usize, String),
    /// Operand types do not fit.
    #[error(
        "A binary operator with incompatible types was detected. Found operand types '{0}' and '{1}' for operator kind '{2}'."
    )]
    Types(String, String, String),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// 'text'
    Str(String),
    /// 12.5
    Num(f64),
    /// true/false
    Bool(bool),
    /// unquoted GUID
    Guid(Uuid),
    /// 2024-01-01
    Date(NaiveDate),
    /// 2024-01-01T00:00:00Z as ms
    Dt(i64),
    /// null
    Null,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// eq
    Eq,
    /// ne
    Ne,
    /// gt
    Gt,
    /// ge
    Ge,
    /// lt
    Lt,
    /// le
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// a and b
    And(Box<Expr>, Box<Expr>),
    /// a or b
    Or(Box<Expr>, Box<Expr>),
    /// not a
    Not(Box<Expr>),
    /// prop op literal
    Cmp(usize, Op, Lit),
    /// startswith/endswith/contains(prop, 'x')
    Func(&'static str, usize, String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Lit(Lit),
    LParen,
    RParen,
    Comma,
}

fn lex(s: &str) -> Result<Vec<(usize, Tok)>, FilterError> {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let err = |i: usize| FilterError::Syntax(i, s.to_string());
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push((i, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((i, Tok::RParen));
                i += 1;
            }
            ',' => {
                out.push((i, Tok::Comma));
                i += 1;
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(err(start)),
                        Some('\'') if b.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((start, Tok::Lit(Lit::Str(v))));
            }
            _ if c.is_alphanumeric() || c == '-' || c == '_' => {
                while i < b.len()
                    && (b[i].is_alphanumeric() || matches!(b[i], '-' | '_' | ':' | '.' | '+'))
                {
                    i += 1;
                }
                let w: String = b[start..i].iter().collect();
                out.push((start, classify(&w).ok_or_else(|| err(start))?));
            }
            _ => return Err(err(i)),
        }
    }
    Ok(out)
}

fn classify(w: &str) -> Option<Tok> {
    if w.len() == 36
        && let Ok(g) = Uuid::parse_str(w)
    {
        return Some(Tok::Lit(Lit::Guid(g)));
    }
    let first = w.chars().next()?;
    if first.is_ascii_digit() || first == '-' {
        if w.contains('T') {
            return chrono::DateTime::parse_from_rfc3339(w)
                .ok()
                .map(|d| Tok::Lit(Lit::Dt(d.timestamp_millis())));
        }
        if w.len() == 10 && w.as_bytes()[4] == b'-' {
            return NaiveDate::parse_from_str(w, "%Y-%m-%d")
                .ok()
                .map(|d| Tok::Lit(Lit::Date(d)));
        }
        return w.parse::<f64>().ok().map(|n| Tok::Lit(Lit::Num(n)));
    }
    match w {
        "true" => Some(Tok::Lit(Lit::Bool(true))),
        "false" => Some(Tok::Lit(Lit::Bool(false))),
        "null" => Some(Tok::Lit(Lit::Null)),
        _ if w.chars().all(|c| c.is_alphanumeric() || c == '_') => Some(Tok::Word(w.to_string())),
        _ => None,
    }
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    i: usize,
    src: &'a str,
    ty: &'a EntityType,
}

/// Parses `$filter` against an entity type.
pub fn parse(src: &str, ty: &EntityType) -> Result<Expr, FilterError> {
    let mut p = Parser {
        toks: lex(src)?,
        i: 0,
        src,
        ty,
    };
    let e = p.or()?;
    if p.i != p.toks.len() {
        return Err(p.syntax());
    }
    Ok(e)
}

impl Parser<'_> {
    fn syntax(&self) -> FilterError {
        let at = self.toks.get(self.i).map_or(self.src.len(), |t| t.0);
        FilterError::Syntax(at, self.src.to_string())
    }
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.i), Some((_, Tok::Word(x))) if x == w)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).map(|t| t.1.clone());
        self.i += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), FilterError> {
        if self.toks.get(self.i).map(|x| &x.1) == Some(&t) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.syntax())
        }
    }
    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut l = self.and()?;
        while self.peek_word("or") {
            self.i += 1;
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut l = self.unary()?;
        while self.peek_word("and") {
            self.i += 1;
            l = Expr::And(Box::new(l), Box::new(self.unary()?));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.peek_word("not") {
            self.i += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }
    fn prop(&self, name: &str) -> Result<usize, FilterError> {
        self.ty
            .idx(name)
            .ok_or_else(|| FilterError::UnknownProperty(name.to_string(), self.ty.qualified()))
    }
    fn primary(&mut self) -> Result<Expr, FilterError> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Some(Tok::Word(w)) if matches!(w.as_str(), "startswith" | "endswith" | "contains") => {
                let f: &'static str = match w.as_str() {
                    "startswith" => "startswith",
                    "endswith" => "endswith",
                    _ => "contains",
                };
                self.expect(Tok::LParen)?;
                let Some(Tok::Word(p)) = self.next() else {
                    return Err(self.syntax());
                };
                let idx = self.prop(&p)?;
                self.expect(Tok::Comma)?;
                let Some(Tok::Lit(Lit::Str(s))) = self.next() else {
                    return Err(self.syntax());
                };
                self.expect(Tok::RParen)?;
                Ok(Expr::Func(f, idx, s))
            }
            Some(Tok::Word(p)) => {
                let idx = self.prop(&p)?;
                let op = match self.next() {
                    Some(Tok::Word(o)) => match o.as_str() {
                        "eq" => Op::Eq,
                        "ne" => Op::Ne,
                        "gt" => Op::Gt,
                        "ge" => Op::Ge,
                        "lt" => Op::Lt,
                        "le" => Op::Le,
                        _ => {
                            self.i -= 1;
                            return Err(self.syntax());
                        }
                    },
                    _ => {
                        self.i -= 1;
                        return Err(self.syntax());
                    }
                };
                let Some(Tok::Lit(lit)) = self.next() else {
                    self.i -= 1;
                    return Err(self.syntax());
                };
                self.check_types(idx, op, &lit)?;
                Ok(Expr::Cmp(idx, op, lit))
            }
            _ => {
                self.i = self.i.saturating_sub(1);
                Err(self.syntax())
            }
        }
    }
    fn check_types(&self, idx: usize, op: Op, lit: &Lit) -> Result<(), FilterError> {
        let p = &self.ty.props[idx];
        let ok = matches!(
            (p.kind, lit),
            (_, Lit::Null)
                | (Kind::String | Kind::Enum(_), Lit::Str(_))
                | (Kind::Decimal | Kind::Int32 | Kind::Int64, Lit::Num(_))
                | (Kind::Boolean, Lit::Bool(_))
                | (Kind::Guid, Lit::Guid(_))
                | (Kind::Date, Lit::Date(_))
                | (Kind::DateTime, Lit::Dt(_) | Lit::Date(_))
        );
        if ok {
            return Ok(());
        }
        let lt = match lit {
            Lit::Str(_) => "Edm.String",
            Lit::Num(_) => "Edm.Decimal",
            Lit::Bool(_) => "Edm.Boolean",
            Lit::Guid(_) => "Edm.Guid",
            Lit::Date(_) => "Edm.Date",
            Lit::Dt(_) => "Edm.DateTimeOffset",
            Lit::Null => "null",
        };
        let kind = match op {
            Op::Eq => "Equal",
            Op::Ne => "NotEqual",
            Op::Gt => "GreaterThan",
            Op::Ge => "GreaterThanOrEqual",
            Op::Lt => "LessThan",
            Op::Le => "LessThanOrEqual",
        };
        Err(FilterError::Types(
            p.edm_type.to_string(),
            lt.into(),
            kind.into(),
        ))
    }
}

fn cmp(v: &Val, lit: &Lit) -> Option<Ordering> {
    match (v, lit) {
        (Val::Enum(s), Lit::Str(l)) => Some(
            s.replace("_x0020_", " ")
                .trim()
                .cmp(l.trim())
                .then(Ordering::Equal),
        )
        .map(|o| if *s == l.as_str() { Ordering::Equal } else { o }),
        (_, Lit::Str(l)) => v.as_str().map(|s| s.to_lowercase().cmp(&l.to_lowercase())),
        (_, Lit::Num(n)) => v.as_f64().and_then(|x| x.partial_cmp(n)),
        (Val::Bool(b), Lit::Bool(l)) => Some(b.cmp(l)),
        (Val::Guid(g), Lit::Guid(l)) => Some(g.cmp(l)),
        (Val::Date(d), Lit::Date(l)) => Some(d.cmp(l)),
        (Val::Dt(d), Lit::Dt(l)) => Some(d.cmp(l)),
        (Val::Dt(d), Lit::Date(l)) => Some(
            d.cmp(
                &l.and_hms_opt(0, 0, 0)
                    .map_or(0, |x| x.and_utc().timestamp_millis()),
            ),
        ),
        _ => None,
    }
}

/// Evaluates a filter on a record.
pub fn eval(e: &Expr, r: &Record) -> bool {
    match e {
        Expr::And(a, b) => eval(a, r) && eval(b, r),
        Expr::Or(a, b) => eval(a, r) || eval(b, r),
        Expr::Not(a) => !eval(a, r),
        Expr::Func(f, i, s) => {
            let v = r.vals[*i].as_str().unwrap_or("").to_lowercase();
            let s = s.to_lowercase();
            match *f {
                "startswith" => v.starts_with(&s),
                "endswith" => v.ends_with(&s),
                _ => v.contains(&s),
            }
        }
        Expr::Cmp(i, op, lit) => {
            let Some(o) = cmp(&r.vals[*i], lit) else {
                return matches!(op, Op::Ne);
            };
            match op {
                Op::Eq => o == Ordering::Equal,
                Op::Ne => o != Ordering::Equal,
                Op::Gt => o == Ordering::Greater,
                Op::Ge => o != Ordering::Less,
                Op::Lt => o == Ordering::Less,
                Op::Le => o != Ordering::Greater,
            }
        }
    }
}

/// The lower bound on `lastModifiedDateTime` that every match must exceed
/// (from top-level `and`-ed `gt`/`ge` terms), used to skip the generated base.
pub fn lmd_lower_bound(e: &Expr, ty: &EntityType) -> Option<i64> {
    let lmd = ty.idx("lastModifiedDateTime")?;
    match e {
        Expr::And(a, b) => match (lmd_lower_bound(a, ty), lmd_lower_bound(b, ty)) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        },
        Expr::Cmp(i, Op::Gt | Op::Ge, Lit::Dt(t)) if *i == lmd => Some(*t),
        _ => None,
    }
}

/// Enum members valid for a property (used by tests and error messages).
pub fn enum_members(ty: &EntityType, idx: usize) -> &'static [&'static str] {
    Schema::get()
        .enum_members(ty.props[idx].kind)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Record;

    fn inv() -> &'static EntityType {
        Schema::get().by_set("salesInvoices").unwrap()
    }

    #[test]
    fn parses_bc_style_unquoted_literals() {
        let t = inv();
        let e = parse("lastModifiedDateTime gt 2024-01-01T00:00:00Z and (status eq 'Open' or number eq 'It''s')", t).unwrap();
        assert_eq!(lmd_lower_bound(&e, t), Some(1_704_067_200_000));
        parse("customerId eq a1b2c3d4-0000-4000-8000-000000000001", t).unwrap();
        parse(
            "invoiceDate ge 2024-01-01 and totalAmountIncludingTax gt 100.5",
            t,
        )
        .unwrap();
    }

    #[test]
    fn unknown_property_uses_bc_wording() {
        let lines = Schema::get().by_set("salesInvoiceLines").unwrap();
        let e = parse("lastModifiedDateTime gt 2024-01-01T00:00:00Z", lines).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Could not find a property named 'lastModifiedDateTime' on type 'Microsoft.NAV.salesInvoiceLine'."
        );
        assert!(matches!(
            parse("number eq", inv()),
            Err(FilterError::Syntax(..))
        ));
        assert!(matches!(
            parse("number eq 5", inv()),
            Err(FilterError::Types(..))
        ));
    }

    #[test]
    fn evaluates_and_or_not_and_functions() {
        let t = inv();
        let mut r = Record::blank(t);
        r.set(t, "number", Val::S("S-INV100001"));
        r.set(t, "status", Val::Enum("In_x0020_Review"));
        r.set(t, "totalAmountIncludingTax", Val::Dec(150.0));
        assert!(eval(
            &parse("startswith(number,'S-INV') and status eq 'In Review'", t).unwrap(),
            &r
        ));
        assert!(eval(&parse("status eq 'In_x0020_Review'", t).unwrap(), &r));
        assert!(!eval(
            &parse("not (totalAmountIncludingTax ge 150)", t).unwrap(),
            &r
        ));
        assert!(eval(
            &parse(
                "totalAmountIncludingTax lt 100 or contains(number,'inv1')",
                t
            )
            .unwrap(),
            &r
        ));
    }
}
