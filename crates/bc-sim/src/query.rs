//! OData query options as BC accepts them on collection requests.

use percent_encoding::percent_decode_str;

/// One `$expand` item with its nested options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expand {
    /// Navigation property name.
    pub name: String,
    /// Nested options.
    pub opts: Options,
}

/// Parsed query options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// `$filter` text.
    pub filter: Option<String>,
    /// `$select` names.
    pub select: Option<Vec<String>>,
    /// `$expand` items.
    pub expand: Vec<Expand>,
    /// `$orderby`: (property, descending).
    pub orderby: Vec<(String, bool)>,
    /// `$top`.
    pub top: Option<usize>,
    /// `$skip`.
    pub skip: Option<usize>,
    /// `$skiptoken` (the key of the last entity of the previous page).
    pub skiptoken: Option<String>,
    /// `$count=true`.
    pub count: bool,
}

/// Decodes a query component; `+` means space (form encoding, as reqwest's
/// `.query()` sends it), a literal plus arrives as `%2B`.
pub fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a raw query string.
pub fn parse(raw: &str) -> Result<Options, String> {
    let mut o = Options::default();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        set(&mut o, &decode(k), &decode(v))?;
    }
    Ok(o)
}

fn set(o: &mut Options, k: &str, v: &str) -> Result<(), String> {
    let num = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("Invalid value '{v}' for query option '{k}'."))
    };
    match k {
        "$filter" => o.filter = Some(v.to_string()),
        "$select" => {
            o.select = Some(
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            )
        }
        "$expand" => o.expand = parse_expand(v)?,
        "$orderby" => {
            for part in v.split(',') {
                let mut w = part.split_whitespace();
                let name = w
                    .next()
                    .ok_or_else(|| "Syntax error in $orderby.".to_string())?;
                let desc = match w.next() {
                    None | Some("asc") => false,
                    Some("desc") => true,
                    Some(x) => return Err(format!("Syntax error at '{x}' in $orderby.")),
                };
                o.orderby.push((name.to_string(), desc));
            }
        }
        "$top" => o.top = Some(num(v)?),
        "$skip" => o.skip = Some(num(v)?),
        "$skiptoken" => o.skiptoken = Some(v.to_string()),
        "$count" => o.count = v == "true",
        k if k.starts_with('$') && !matches!(k, "$format" | "$schemaversion") => {
            return Err(format!("The query parameter '{k}' is not supported."));
        }
        _ => {}
    }
    Ok(())
}

fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut cur, mut quoted) = (0i32, String::new(), false);
    for c in s.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c2 if c2 == sep && depth == 0 && !quoted => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// Parses `$expand=a,b($select=x;$filter=...)`.
pub fn parse_expand(v: &str) -> Result<Vec<Expand>, String> {
    let mut out = Vec::new();
    for item in split_top(v, ',') {
        let item = item.trim();
        let (name, inner) = match item.find('(') {
            Some(i) if item.ends_with(')') => (&item[..i], &item[i + 1..item.len() - 1]),
            Some(_) => return Err(format!("Syntax error in $expand at '{item}'.")),
            None => (item, ""),
        };
        let mut opts = Options::default();
        for o in split_top(inner, ';') {
            let (k, val) = o
                .split_once('=')
                .ok_or_else(|| format!("Syntax error in $expand at '{o}'."))?;
            set(&mut opts, k.trim(), val)?;
        }
        out.push(Expand {
            name: name.trim().to_string(),
            opts,
        });
    }
    Ok(out)
}

/// The query string of a nextLink base: the original pairs without
/// `$skiptoken` and `aid` (BC appends `aid=FIN&$skiptoken=...`).
pub fn without_paging(raw: &str) -> String {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let k = decode(p.split('=').next().unwrap_or(""));
            k != "$skiptoken" && k != "aid"
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_expand_and_paging_options() {
        let o = parse("$expand=salesInvoiceLines($select=description,amountIncludingTax;$filter=quantity%20gt%201),pdfDocument&$top=5&$orderby=number%20desc").unwrap();
        assert_eq!(o.expand.len(), 2);
        assert_eq!(
            o.expand[0].opts.select.as_ref().unwrap(),
            &vec!["description".to_string(), "amountIncludingTax".into()]
        );
        assert_eq!(o.expand[0].opts.filter.as_deref(), Some("quantity gt 1"));
        assert_eq!(o.top, Some(5));
        assert_eq!(o.orderby, vec![("number".to_string(), true)]);
        assert_eq!(without_paging("$top=5&aid=FIN&$skiptoken=abc"), "$top=5");
    }
}
