//! Request parameters of the OAuth endpoints, from a query string or a form body.
//!
//! OAuth (RFC 6749 §3.1, §3.2) says a parameter must not appear twice and that empty values
//! count as absent. Generic serde extractors silently keep one of two duplicates, so the OAuth
//! endpoints read their parameters through [`Params`], which keeps every value and lets a
//! handler refuse a repeated one.

use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub struct Params {
    values: HashMap<String, Vec<String>>,
}

/// A parameter given more than once; carries its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated(pub String);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(input: &[u8]) -> Params {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in form_urlencoded::parse(input) {
            values
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
        Params { values }
    }

    /// The parameter's value; `None` when absent or empty, an error when repeated.
    pub fn get(&self, name: &str) -> Result<Option<&str>, Repeated> {
        match self.values.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok((!one.is_empty()).then_some(one.as_str())),
            Some(_) => Err(Repeated(name.to_string())),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Every (name, value) pair, for merging a body into another set.
    pub fn merge(&mut self, other: Params) {
        for (k, vs) in other.values {
            self.values.entry(k).or_default().extend(vs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_absent_and_duplicates_are_refused() {
        let p = Params::parse(b"a=1&b=&c=x%20y&d=1&d=2");
        assert_eq!(p.get("a"), Ok(Some("1")));
        assert_eq!(p.get("b"), Ok(None));
        assert_eq!(p.get("c"), Ok(Some("x y")));
        assert_eq!(p.get("d"), Err(Repeated("d".into())));
        assert_eq!(p.get("zz"), Ok(None));
    }
}
