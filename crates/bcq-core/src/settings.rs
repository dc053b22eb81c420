//! Settings as data: each part of bcq (the core, each destination) lists
//! the settings it reads, and reads their values through [`SettingValues`],
//! so that the configuration layer (environment, `.env`, file, flags) and
//! its error messages are written once for all of them.

/// One setting: its key in the config file and its environment variable.
#[derive(Debug)]
pub struct Setting {
    /// `section.key` in the TOML file (and for `--set`).
    pub key: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// What it is, for help and errors.
    pub help: &'static str,
    /// Whether its value is a secret (never printed).
    pub secret: bool,
}

impl Setting {
    /// A setting that is not a secret.
    pub const fn new(key: &'static str, env: &'static str, help: &'static str) -> Setting {
        Setting {
            key,
            env,
            help,
            secret: false,
        }
    }

    /// A secret setting (never printed).
    pub const fn secret(key: &'static str, env: &'static str, help: &'static str) -> Setting {
        Setting {
            key,
            env,
            help,
            secret: true,
        }
    }
}

/// The merged values of the settings, as the configuration layer holds
/// them.
pub trait SettingValues {
    /// The value of `key`, when set (never empty).
    fn get(&self, key: &str) -> Option<&str>;
    /// How to name `key` in a message: its environment variable, its file
    /// key and file, or the flag that set it.
    fn describe(&self, key: &str) -> String;
    /// The message for `key` missing: what it is and where to set it.
    fn missing(&self, key: &str) -> String;
}

/// A required setting, or a problem naming it.
pub fn required(values: &dyn SettingValues, key: &str, problems: &mut Vec<String>) -> String {
    match values.get(key) {
        Some(v) => v.trim().to_string(),
        None => {
            problems.push(values.missing(key));
            String::new()
        }
    }
}

/// A boolean setting (`true/false`, `yes/no`, `1/0`, `on/off`), `default`
/// when unset, or a problem naming it.
pub fn flag(
    values: &dyn SettingValues,
    key: &str,
    default: bool,
    problems: &mut Vec<String>,
) -> bool {
    match values.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => default,
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
        Some(v) => {
            problems.push(format!(
                "{} is '{v}': expected true or false",
                values.describe(key)
            ));
            default
        }
    }
}

/// A whole number in `min..=max`, `default` when unset, or a problem naming
/// the setting: fractions are refused, not truncated.
pub fn whole(
    values: &dyn SettingValues,
    key: &str,
    default: u64,
    min: u64,
    max: u64,
    problems: &mut Vec<String>,
) -> u64 {
    let Some(raw) = values.get(key) else {
        return default;
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => n,
        _ => {
            problems.push(format!(
                "{} is '{}': expected a whole number from {min} to {max}",
                values.describe(key),
                raw.trim()
            ));
            default
        }
    }
}

/// A number (fractions allowed) in `min..=max`, `default` when unset, or a
/// problem naming the setting.
pub fn number(
    values: &dyn SettingValues,
    key: &str,
    default: f64,
    min: f64,
    max: f64,
    problems: &mut Vec<String>,
) -> f64 {
    let Some(raw) = values.get(key) else {
        return default;
    };
    match raw.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (min..=max).contains(&n) => n,
        _ => {
            problems.push(format!(
                "{} is '{}': expected a number from {min} to {max}",
                values.describe(key),
                raw.trim()
            ));
            default
        }
    }
}

/// A required resource id of the shape `valid` accepts (never a `/`,
/// which would change a request's URL), or a problem saying what is
/// `expected` (e.g. "an Amazon Q Business id is 36 letters, digits and
/// dashes").
pub fn id(
    values: &dyn SettingValues,
    key: &str,
    valid: fn(&str) -> bool,
    expected: &str,
    problems: &mut Vec<String>,
) -> String {
    let v = required(values, key, problems);
    if !v.is_empty() && !valid(&v) {
        problems.push(format!("{} is '{v}': {expected}", values.describe(key)));
    }
    v
}

/// An https URL (plain http only for loopback hosts: an emulator), or a
/// problem naming the setting.
pub fn check_url(values: &dyn SettingValues, key: &str, value: &str, problems: &mut Vec<String>) {
    match url::Url::parse(value) {
        Ok(u) if u.scheme() == "https" => {}
        Ok(u) if u.scheme() == "http" => {
            let loopback = match u.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                problems.push(format!(
                    "{} is '{value}': plain http is only allowed for loopback addresses (an emulator); use https",
                    values.describe(key)
                ));
            }
        }
        _ => problems.push(format!(
            "{} is '{value}', which is not an http(s) URL",
            values.describe(key)
        )),
    }
}

/// An optional URL setting, checked by [`check_url`].
pub fn optional_url(
    values: &dyn SettingValues,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let v = values.get(key)?.trim().to_string();
    check_url(values, key, &v, problems);
    Some(v)
}

/// An AWS region name (`us-east-1`), when set, or a problem naming the
/// setting (a `/` would change the endpoint's URL).
pub fn region(values: &dyn SettingValues, key: &str, problems: &mut Vec<String>) -> Option<String> {
    let valid = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let Some(v) = values.get(key) else {
        // The AWS chain reads the region from these (the first set wins):
        // a mistyped one is a configuration error too, not a failed call.
        let chain = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .into_iter()
            .find_map(|var| {
                Some((
                    var,
                    std::env::var(var).ok().filter(|v| !v.trim().is_empty())?,
                ))
            });
        if let Some((var, v)) = chain
            && !valid(v.trim())
        {
            problems.push(format!(
                "{var} is '{v}': expected an AWS region name such as us-east-1 (the AWS chain reads it as {} is not set)",
                values.describe(key)
            ));
        }
        return None;
    };
    let v = v.trim().to_string();
    if !valid(&v) {
        problems.push(format!(
            "{} is '{v}': expected an AWS region name such as us-east-1",
            values.describe(key)
        ));
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);
    impl SettingValues for Map {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).copied()
        }
        fn describe(&self, key: &str) -> String {
            format!("<{key}>")
        }
        fn missing(&self, key: &str) -> String {
            format!("<{key}> is not set")
        }
    }

    #[test]
    fn numbers_flags_and_ids_are_checked_and_named() {
        let m = Map(HashMap::from([
            ("a", "10.9"),
            ("b", "7"),
            ("c", "maybe"),
            ("d", "x/y"),
            ("e", "0.25"),
        ]));
        let mut p = Vec::new();
        assert_eq!(whole(&m, "a", 5, 1, 100, &mut p), 5);
        assert_eq!(p, ["<a> is '10.9': expected a whole number from 1 to 100"]);
        assert_eq!(whole(&m, "b", 5, 1, 100, &mut p), 7);
        assert_eq!(whole(&m, "zz", 5, 1, 100, &mut p), 5);
        assert!(!flag(&m, "c", false, &mut p) && p.len() == 2);
        let letters = |v: &str| v.chars().all(|c| c.is_ascii_alphanumeric());
        assert_eq!(id(&m, "d", letters, "letters only", &mut p), "x/y");
        assert_eq!(p[2], "<d> is 'x/y': letters only");
        assert_eq!(number(&m, "e", 1.0, 0.0, 1.0, &mut p), 0.25);
        required(&m, "missing", &mut p);
        assert_eq!(p.last().unwrap(), "<missing> is not set");
        check_url(&m, "u", "http://10.0.0.1/x", &mut p);
        assert!(
            p.last().unwrap().contains("only allowed for loopback"),
            "{p:?}"
        );
        let n = p.len();
        check_url(&m, "u", "http://127.0.0.1:9000", &mut p);
        check_url(&m, "u", "https://q.example.com", &mut p);
        assert_eq!(p.len(), n);
    }
}
