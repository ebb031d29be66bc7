//! The WebAPI's query-string and form-body request forms (PROTOCOL §1.1).

use std::collections::HashSet;

use percent_encoding::percent_decode;

use crate::request::{Limits, Request, WireError, is_xml_name, validate};

/// Parses a URL query string such as `type=callstart&requestid=7&deviceid=200`.
pub fn parse_query(query: &str, limits: &Limits) -> Result<Request, WireError> {
    parse_parts(&[query.as_bytes()], None, limits)
}

/// Parses a query string that carries only the parameters of a request whose TYPE the
/// address gives (the supervisor page's API), checked as [`parse_query`] checks one:
/// UTF-8, names, duplicates and limits. TYPE and REQUESTID have no place in it (17).
pub fn parse_query_as(
    request_type: &str,
    query: &str,
    limits: &Limits,
) -> Result<Request, WireError> {
    parse_parts(&[query.as_bytes()], Some(request_type), limits)
}

/// Parses a query string merged with an `application/x-www-form-urlencoded` body. A name
/// given in both is a duplicate, like a name given twice in one of them.
pub fn parse_form(query: &str, body: &[u8], limits: &Limits) -> Result<Request, WireError> {
    parse_parts(&[query.as_bytes(), body], None, limits)
}

/// `fixed`: the TYPE the address gives, when it is not one of the parameters.
fn parse_parts(
    parts: &[&[u8]],
    fixed: Option<&str>,
    limits: &Limits,
) -> Result<Request, WireError> {
    let size: usize = parts.iter().map(|p| p.len()).sum();
    if size > limits.max_request_bytes {
        return Err(WireError::malformed(format!(
            "the request is larger than {} bytes",
            limits.max_request_bytes
        )));
    }

    // Decode everything first, so an error can still echo TYPE and REQUESTID when those
    // two decoded fine.
    let mut pairs = Vec::new();
    let mut first_error = None;
    for part in parts {
        for segment in part.split(|b| *b == b'&').filter(|s| !s.is_empty()) {
            match decode_pair(segment) {
                Ok(pair) => pairs.push(pair),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    // TYPE and REQUESTID, for an error to echo (a fixed TYPE's request is number 1).
    let find = |wanted: &str| match fixed {
        Some(request_type) => Some(if wanted == "TYPE" { request_type } else { "1" }),
        None => pairs
            .iter()
            .find(|(n, _)| n == wanted)
            .map(|(_, v)| v.as_str()),
    };
    if let Some(e) = first_error {
        return Err(e.with_ids(find("TYPE"), find("REQUESTID")));
    }

    let mut seen = HashSet::new();
    for (name, _) in &pairs {
        if !seen.insert(name.as_str()) {
            return Err(WireError::bad_shape(format!("{name} is given twice"))
                .with_ids(find("TYPE"), find("REQUESTID")));
        }
    }

    let mut request_type = fixed.map(str::to_owned);
    let mut request_id = fixed.map(|_| "1".to_owned());
    let mut params = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        match name.as_str() {
            "TYPE" | "REQUESTID" if fixed.is_some() => {
                return Err(WireError::bad_shape(format!(
                    "{name} is not taken here: the address says what the request is"
                ))
                .with_ids(request_type.as_deref(), request_id.as_deref()));
            }
            "TYPE" => request_type = Some(value),
            "REQUESTID" => request_id = Some(value),
            _ => params.push((name, value)),
        }
    }
    validate(request_type, request_id, params, limits)
}

/// One `name=value` segment: `+` is a space, `%XX` a byte, and the bytes must be UTF-8.
/// A segment without `=` has an empty value.
fn decode_pair(segment: &[u8]) -> Result<(String, String), WireError> {
    let (raw_name, raw_value) = match segment.iter().position(|b| *b == b'=') {
        Some(eq) => (&segment[..eq], &segment[eq + 1..]),
        None => (segment, &[][..]),
    };
    let name = decode_component(raw_name)
        .ok_or_else(|| WireError::malformed("a parameter name is not valid UTF-8"))?
        .to_ascii_uppercase();
    if name.is_empty() {
        return Err(WireError::bad_shape("a parameter has no name"));
    }
    if !is_xml_name(&name) {
        return Err(WireError::bad_shape(format!(
            "{name:?} is not a valid parameter name"
        )));
    }
    let value = decode_component(raw_value)
        .ok_or_else(|| WireError::malformed(format!("the value of {name} is not valid UTF-8")))?;
    Ok((name, value))
}

fn decode_component(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&spaced).collect();
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn query_string_form() {
        let r = parse_query(
            "type=callstart&requestid=7&deviceid=200&ani=5550100",
            &limits(),
        )
        .unwrap();
        assert_eq!(r.request_type, "CALLSTART");
        assert_eq!(r.request_id, "7");
        assert_eq!(
            r.params(),
            &[
                ("DEVICEID".to_owned(), "200".to_owned()),
                ("ANI".to_owned(), "5550100".to_owned())
            ]
        );
    }

    #[test]
    fn names_and_type_are_case_insensitive_values_are_not() {
        let r = parse_query("TyPe=CallStop&RequestID=9&DeviceId=Ab", &limits()).unwrap();
        assert_eq!(r.request_type, "CALLSTOP");
        assert_eq!(r.get("deviceid"), Some("Ab"));
    }

    #[test]
    fn percent_and_plus_decoding() {
        let r = parse_query(
            "type=test&requestid=1&user1=a+b%2Bc%26d%3D&user2=%F0%9F%98%80&empty=&bare",
            &limits(),
        )
        .unwrap();
        assert_eq!(r.get("USER1"), Some("a b+c&d="));
        assert_eq!(r.get("USER2"), Some("😀"));
        assert_eq!(r.get("EMPTY"), Some(""));
        assert_eq!(r.get("BARE"), Some(""));
    }

    #[test]
    fn invalid_utf8_is_16_and_keeps_ids() {
        let e = parse_query("type=test&requestid=4&ani=%FF%FE", &limits()).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageFormat);
        assert_eq!(e.message, "the value of ANI is not valid UTF-8");
        assert_eq!(
            (e.request_type.as_str(), e.request_id.as_str()),
            ("TEST", "4")
        );
    }

    #[test]
    fn duplicates_are_17() {
        let e = parse_query("type=test&requestid=1&ani=1&ANI=2", &limits()).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageShape);
        assert_eq!(e.message, "ANI is given twice");
        assert_eq!(e.request_id, "1");
        let e = parse_query("type=test&type=test&requestid=1", &limits()).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageShape);
    }

    #[test]
    fn bad_names_are_17() {
        let e = parse_query("type=test&requestid=1&=x", &limits()).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageShape);
        let e = parse_query("type=test&requestid=1&a%3Cb=x", &limits()).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageShape);
    }

    #[test]
    fn form_body_is_merged_and_duplicates_across_are_17() {
        let r = parse_form(
            "type=callstart",
            b"requestid=7&deviceid=200&user1=hello+world",
            &limits(),
        )
        .unwrap();
        assert_eq!(r.request_type, "CALLSTART");
        assert_eq!(r.request_id, "7");
        assert_eq!(r.get("user1"), Some("hello world"));

        let e = parse_form("type=test&requestid=1", b"REQUESTID=2", &limits()).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageShape);
        assert_eq!(e.message, "REQUESTID is given twice");

        // An empty body with the parameters in the query string, as a real client sent.
        let r = parse_form("type=test&requestid=3", b"", &limits()).unwrap();
        assert_eq!(r.request_id, "3");
    }

    #[test]
    fn a_query_of_a_fixed_type_is_checked_the_same() {
        let r = parse_query_as("calllist", "agentname=Ada&maxrows=5", &limits()).unwrap();
        assert_eq!(
            (r.request_type.as_str(), r.request_id.as_str()),
            ("CALLLIST", "1")
        );
        assert_eq!(r.get("AGENTNAME"), Some("Ada"));
        for (query, code, message) in [
            (
                "ani=1&ANI=2",
                Code::InvalidMessageShape,
                "ANI is given twice",
            ),
            (
                "ani=%FF",
                Code::InvalidMessageFormat,
                "the value of ANI is not valid UTF-8",
            ),
            (
                "type=export",
                Code::InvalidMessageShape,
                "TYPE is not taken here: the address says what the request is",
            ),
        ] {
            let e = parse_query_as("CALLLIST", query, &limits()).unwrap_err();
            assert_eq!((e.code, e.message.as_str()), (code, message), "{query}");
            assert_eq!(e.request_type, "CALLLIST");
        }
    }

    #[test]
    fn missing_type_is_17() {
        let e = parse_query("requestid=5&deviceid=1", &limits()).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageShape);
        assert_eq!(e.message, "TYPE is missing");
        assert_eq!(e.request_id, "5");
        let e = parse_query("type=&requestid=5", &limits()).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageShape);
        assert_eq!(e.message, "TYPE is blank");
    }

    #[test]
    fn requestid_rules_are_14() {
        for (query, echoed) in [
            ("type=test", ""),
            ("type=test&requestid=", ""),
            ("type=test&requestid=+", " "),
            ("type=test&requestid=abc", "abc"),
            ("type=test&requestid=-1", "-1"),
            ("type=test&requestid=1.5", "1.5"),
            (
                "type=test&requestid=1234567890123456789",
                "1234567890123456789",
            ),
        ] {
            let e = parse_query(query, &limits()).unwrap_err();
            assert_eq!(e.code, Code::RequestIdInvalid, "{query}");
            assert_eq!(e.request_id, echoed, "{query}");
            assert_eq!(e.request_type, "TEST");
        }
        let r = parse_query("type=test&requestid=123456789012345678", &limits()).unwrap();
        assert_eq!(r.request_id, "123456789012345678");
        let r = parse_query("type=test&requestid=007", &limits()).unwrap();
        assert_eq!(r.request_id, "007");
    }

    #[test]
    fn value_lengths_are_26_in_characters() {
        let at_limit = "é".repeat(255);
        let q = format!("type=callstart&requestid=1&user1={at_limit}");
        assert!(parse_query(&q, &limits()).is_ok());

        let q = format!("type=callstart&requestid=1&user1={at_limit}x");
        let e = parse_query(&q, &limits()).unwrap_err();
        assert_eq!(e.code, Code::BlankRequiredValue);
        assert_eq!(e.message, "USER1 is longer than 255 characters");
        assert_eq!(e.request_id, "1");

        let q = format!("type=callstart&requestid=1&ani={}", "1".repeat(1024));
        assert!(parse_query(&q, &limits()).is_ok());
        let q = format!("type=callstart&requestid=1&ani={}", "1".repeat(1025));
        let e = parse_query(&q, &limits()).unwrap_err();
        assert_eq!(e.code, Code::BlankRequiredValue);
        assert_eq!(e.message, "ANI is longer than 1024 characters");
    }

    #[test]
    fn oversized_query_is_16() {
        let small = Limits {
            max_request_bytes: 30,
            ..Limits::default()
        };
        let e = parse_form("type=test&requestid=1", b"deviceid=200", &small).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageFormat);
        assert_eq!(e.message, "the request is larger than 30 bytes");
    }
}
