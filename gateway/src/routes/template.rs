//! `google.api.http` path templates: parsing and matching.
//!
//! Supported: literal segments, `{field}` and `{field=*}` variables (one
//! segment each), and a trailing `:verb` (`/v1/orders/{order_id}:cancel`).
//! Multi-segment `**` variables are refused when the table is built, so a
//! proto using them fails at start-up, not at request time.

use std::fmt;

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A variable bound to a field path such as `order_id`.
    Variable(String),
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    segments: Vec<Segment>,
    verb: Option<String>,
    source: String,
}

impl PathTemplate {
    /// Parses `template`, for example `/v1/accounts/{account_id}:deposit`.
    pub(crate) fn parse(template: &str) -> Result<Self, String> {
        let rest = template
            .strip_prefix('/')
            .ok_or_else(|| format!("template {template:?} must start with '/'"))?;
        // The verb is after the last ':' that is outside braces.
        let (path, verb) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('}') => (&rest[..i], Some(rest[i + 1..].to_owned())),
            _ => (rest, None),
        };
        let segments = path
            .split('/')
            .map(|seg| {
                if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                    if pattern != "*" {
                        return Err(format!(
                            "template {template:?}: only single-segment variables are supported"
                        ));
                    }
                    if field.is_empty()
                        || !field
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
                    {
                        return Err(format!("template {template:?}: bad variable {field:?}"));
                    }
                    Ok(Segment::Variable(field.to_owned()))
                } else if seg.is_empty() || seg.contains(['{', '}', '*']) {
                    Err(format!("template {template:?}: bad segment {seg:?}"))
                } else {
                    Ok(Segment::Literal(seg.to_owned()))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            segments,
            verb,
            source: template.to_owned(),
        })
    }

    /// The variables' field paths, in order.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Variable(field) => Some(field.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Matches a request path; returns the variables' (field, value) pairs,
    /// percent-decoded.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let rest = path.strip_prefix('/')?;
        let (rest, verb) = match &self.verb {
            Some(_) => {
                let (rest, verb) = rest.rsplit_once(':')?;
                (rest, Some(verb))
            }
            None => (rest, None),
        };
        if verb != self.verb.as_deref() {
            return None;
        }
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut bound = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(lit) if lit == part => {}
                Segment::Literal(_) => return None,
                Segment::Variable(field) => {
                    let value = percent_encoding::percent_decode_str(part)
                        .decode_utf8()
                        .ok()?;
                    if value.is_empty() || value.contains('/') {
                        return None;
                    }
                    bound.push((field.clone(), value.into_owned()));
                }
            }
        }
        Some(bound)
    }

    /// The template in OpenAPI form: `/v1/accounts/{account_id}:deposit`.
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_variables_and_verbs() {
        let t = PathTemplate::parse("/v1/accounts/{account_id}:deposit").expect("valid");
        assert_eq!(
            t.matches("/v1/accounts/acc%201:deposit"),
            Some(vec![("account_id".to_owned(), "acc 1".to_owned())])
        );
        assert_eq!(t.matches("/v1/accounts/acc1"), None);
        assert_eq!(t.matches("/v1/accounts/acc1:freeze"), None);
        assert_eq!(t.matches("/v1/accounts/:deposit"), None);
        let plain = PathTemplate::parse("/v1/accounts/{account_id}").expect("valid");
        assert_eq!(plain.matches("/v1/accounts/a/b"), None);
        assert_eq!(
            plain.matches("/v1/accounts/a%2Fb"),
            None,
            "no smuggled slashes"
        );
        assert!(plain.matches("/v1/accounts/abc").is_some());
        assert_eq!(plain.variables().collect::<Vec<_>>(), ["account_id"]);
    }

    #[test]
    fn refuses_unsupported_templates() {
        for bad in ["v1/x", "/v1/{name=**}", "/v1/{}", "/v1//x", "/v1/{a b}"] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
