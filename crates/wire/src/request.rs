//! The parsed request, the error a request that could not be parsed becomes, the limits
//! every parser enforces, and the validation all request forms share (PROTOCOL §2.1).

use crate::code::Code;
use crate::xml_request::is_xml_char;

/// A request, whichever form it arrived in (query string, form body, XML, socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The TYPE, upper-cased (ASCII) as received, surrounding whitespace removed.
    pub request_type: String,
    /// The REQUESTID exactly as sent (always 1–18 decimal digits once parsed).
    pub request_id: String,
    /// Parameters other than TYPE and REQUESTID: names upper-cased, values as written.
    params: Vec<(String, String)>,
}

impl Request {
    /// Builds a request directly; names and the type are upper-cased as the parsers do.
    pub fn new<I, K, V>(request_type: &str, request_id: &str, params: I) -> Request
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Request {
            request_type: request_type.trim().to_ascii_uppercase(),
            request_id: request_id.to_owned(),
            params: params
                .into_iter()
                .map(|(k, v)| (k.into().to_ascii_uppercase(), v.into()))
                .collect(),
        }
    }

    /// The value of a parameter; the name is compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters other than TYPE and REQUESTID, in the order they were sent.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }
}

/// Why a request could not be parsed. It still gets a `<RESULT>`, so it carries whatever
/// TYPE and REQUESTID could be recovered (empty when none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WireError {
    pub code: Code,
    /// A short explanation in plain words, for `RESULTMSG` after the label.
    pub message: String,
    pub request_type: String,
    pub request_id: String,
}

impl WireError {
    /// An error with no TYPE or REQUESTID recovered yet.
    pub fn new(code: Code, message: impl Into<String>) -> WireError {
        WireError {
            code,
            message: message.into(),
            request_type: String::new(),
            request_id: String::new(),
        }
    }

    /// Attaches the TYPE and REQUESTID recovered from the request.
    pub fn with_ids(mut self, request_type: Option<&str>, request_id: Option<&str>) -> WireError {
        self.request_type = request_type.map(normalize_type).unwrap_or_default();
        self.request_id = request_id.unwrap_or_default().to_owned();
        self
    }

    pub(crate) fn malformed(message: impl Into<String>) -> WireError {
        WireError::new(Code::InvalidMessageFormat, message)
    }

    pub(crate) fn bad_shape(message: impl Into<String>) -> WireError {
        WireError::new(Code::InvalidMessageShape, message)
    }
}

/// Size limits a request must keep (PROTOCOL §2.1), each configurable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request in bytes: an XML document, a query string plus form body, or one
    /// socket frame.
    pub max_request_bytes: usize,
    /// Longest value, in characters, of any parameter other than USER1..USER15 and IDENT
    /// (MULTIEXPORT's list of RECORDIDs, bounded only by the request's size).
    pub max_value_chars: usize,
    /// Longest value, in characters, of USER1..USER15.
    pub max_user_field_chars: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request_bytes: 64 * 1024,
            max_value_chars: 1024,
            max_user_field_chars: 255,
        }
    }
}

impl Limits {
    /// The length limit for one parameter.
    pub fn max_chars_for(&self, name: &str) -> usize {
        if is_user_field(name) {
            self.max_user_field_chars
        } else if name.eq_ignore_ascii_case("IDENT") {
            self.max_request_bytes
        } else {
            self.max_value_chars
        }
    }
}

/// `USER1` … `USER15`, in any case.
fn is_user_field(name: &str) -> bool {
    let Some(prefix) = name.get(..4) else {
        return false;
    };
    let digits = &name[4..];
    prefix.eq_ignore_ascii_case("USER")
        && !digits.starts_with('0')
        && digits.parse::<u8>().is_ok_and(|n| (1..=15).contains(&n))
}

/// TYPE values are keywords: a pretty-printed `<TYPE>\n  TEST\n</TYPE>` means `TEST`.
pub(crate) fn normalize_type(raw: &str) -> String {
    raw.trim().to_ascii_uppercase()
}

/// Whether `s` is longer than `max` characters, without counting past `max`.
fn longer_than(s: &str, max: usize) -> bool {
    s.len() > max && s.chars().nth(max).is_some()
}

/// Whether `name` can be an XML element name. Query parameter names become element names,
/// so both transports accept the same names. Non-ASCII letters are allowed as XML allows.
pub(crate) fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii();
    start_ok(first) && chars.all(|c| start_ok(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

/// Checks one parameter's value as every request form does: 16 for a character XML 1.0
/// cannot carry, 26 beyond its length limit.
pub fn check_value(name: &str, value: &str, limits: &Limits) -> Result<(), WireError> {
    // A value a result could not carry back (XML 1.0 has no way to write these) would be
    // stored and then shown altered, so it is refused like any character XML refuses.
    if value.chars().any(|c| !is_xml_char(c)) {
        return Err(WireError::malformed(format!(
            "{name} contains a control character"
        )));
    }
    let max = limits.max_chars_for(name);
    if longer_than(value, max) {
        return Err(WireError::new(
            Code::BlankRequiredValue,
            format!("{name} is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// The checks every request form shares, applied once its shape is known to be right:
/// TYPE present (17), REQUESTID valid (14), and every value within its length (26).
pub(crate) fn validate(
    request_type: Option<String>,
    request_id: Option<String>,
    params: Vec<(String, String)>,
    limits: &Limits,
) -> Result<Request, WireError> {
    let ids = |e: WireError| e.with_ids(request_type.as_deref(), request_id.as_deref());
    let Some(raw_type) = request_type.as_deref() else {
        return Err(ids(WireError::bad_shape("TYPE is missing")));
    };
    if raw_type.trim().is_empty() {
        return Err(ids(WireError::bad_shape("TYPE is blank")));
    }
    let Some(id) = request_id.as_deref() else {
        return Err(ids(WireError::new(
            Code::RequestIdInvalid,
            "REQUESTID is missing",
        )));
    };
    if id.trim().is_empty() {
        return Err(ids(WireError::new(
            Code::RequestIdInvalid,
            "REQUESTID is blank",
        )));
    }
    if id.len() > 18 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ids(WireError::new(
            Code::RequestIdInvalid,
            "REQUESTID must be a number of 1 to 18 decimal digits",
        )));
    }
    if longer_than(raw_type, limits.max_value_chars) {
        return Err(ids(WireError::new(
            Code::BlankRequiredValue,
            format!("TYPE is longer than {} characters", limits.max_value_chars),
        )));
    }
    for (name, value) in &params {
        check_value(name, value, limits).map_err(ids)?;
    }
    Ok(Request {
        request_type: normalize_type(raw_type),
        request_id: id.to_owned(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_is_case_insensitive() {
        let r = Request::new("test", "1", [("deviceid", "200")]);
        assert_eq!(r.request_type, "TEST");
        assert_eq!(r.params(), &[("DEVICEID".to_owned(), "200".to_owned())]);
        assert_eq!(r.get("DeviceId"), Some("200"));
        assert_eq!(r.get("ANI"), None);
    }

    #[test]
    fn user_fields() {
        for ok in ["USER1", "user9", "User15"] {
            assert!(is_user_field(ok), "{ok}");
        }
        for not in [
            "USER", "USER0", "USER01", "USER16", "USERX", "USR1", "ÜSER1",
        ] {
            assert!(!is_user_field(not), "{not}");
        }
    }

    #[test]
    fn xml_names() {
        for ok in ["DEVICEID", "_", "SYS_USER", "a-b.c", "x:y", "é1"] {
            assert!(is_xml_name(ok), "{ok}");
        }
        for not in ["", "1A", "-a", "a b", "a<b", "a[]"] {
            assert!(!is_xml_name(not), "{not}");
        }
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["30\u{0}0", "a\u{1}", "\u{FFFF}"] {
            let err = validate(
                Some("CALLSTART".into()),
                Some("1".into()),
                vec![("DEVICEID".into(), bad.into())],
                &Limits::default(),
            )
            .unwrap_err();
            assert_eq!(err.code, Code::InvalidMessageFormat, "{bad:?}");
            assert!(err.message.contains("DEVICEID"), "{}", err.message);
        }
        assert!(
            validate(
                Some("CALLSTART".into()),
                Some("1".into()),
                vec![("USER1".into(), "tab\there\r\nnew line 😀".into())],
                &Limits::default(),
            )
            .is_ok()
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(!longer_than("ééé", 3));
        assert!(longer_than("éééé", 3));
        assert!(!longer_than("😀", 1));
    }
}
