//! The XML request form (PROTOCOL §2.1), used by the WebAPI's XML bodies and by every
//! socket frame.
//!
//! Shape: a root element (`REQUEST`, or one named after the type), whose child elements are
//! the parameters. A parameter holds text, or one level of list items whose texts are
//! joined with commas (`<DEVICEID><ID>200</ID><ID>201</ID></DEVICEID>` reads as `200,201`,
//! the same as the comma list the query-string form sends). Attributes are checked for
//! well-formedness and otherwise ignored.

use std::collections::HashSet;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::request::{Limits, Request, WireError, is_xml_name, normalize_type, validate};

/// Parses one XML request document.
pub fn parse_xml(doc: &[u8], limits: &Limits) -> Result<Request, WireError> {
    if doc.len() > limits.max_request_bytes {
        return Err(WireError::malformed(format!(
            "the request is larger than {} bytes",
            limits.max_request_bytes
        )));
    }
    let text = std::str::from_utf8(doc).map_err(|e| {
        WireError::malformed(format!(
            "the request is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    // XML 1.0 cannot carry these, and quick-xml does not look for them.
    if let Some(c) = text.chars().find(|c| !is_xml_char(*c)) {
        return Err(WireError::malformed(format!(
            "the request holds the character U+{:04X}, which XML does not allow",
            u32::from(c)
        )));
    }
    let mut walker = Walker::default();
    match walker.walk(text) {
        Ok(()) => walker.finish(limits),
        Err(message) => Err(WireError::malformed(message)
            .with_ids(walker.recovered_type(), walker.id_value.as_deref())),
    }
}

/// Characters XML 1.0 allows in a document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// A parameter element that is open.
#[derive(Default)]
struct OpenParam {
    name: String,
    text: String,
    items: Vec<String>,
    has_items: bool,
}

/// Walks the events of one document, collecting parameters. Syntax errors stop the walk
/// (code 16); shape errors are remembered and reported only if the whole document turns
/// out well-formed, so a broken document is always 16 whatever else is wrong with it.
#[derive(Default)]
struct Walker {
    depth: usize,
    root: Option<String>,
    root_closed: bool,
    type_value: Option<String>,
    id_value: Option<String>,
    params: Vec<(String, String)>,
    seen: HashSet<String>,
    param: Option<OpenParam>,
    item: Option<String>,
    shape_error: Option<String>,
}

impl Walker {
    fn walk(&mut self, text: &str) -> Result<(), String> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_comments = true;
        loop {
            let event = reader.read_event().map_err(|e| {
                format!(
                    "the request is not well-formed XML at byte {}: {e}",
                    reader.error_position()
                )
            })?;
            match event {
                Event::Start(e) => self.open(&e)?,
                Event::Empty(e) => {
                    self.open(&e)?;
                    self.close();
                }
                Event::End(_) => self.close(),
                Event::Text(t) => {
                    let content = t.xml10_content().map_err(|e| e.to_string())?;
                    self.text(&content)?;
                }
                Event::CData(t) => {
                    let content = t.xml10_content().map_err(|e| e.to_string())?;
                    self.text(&content)?;
                }
                Event::GeneralRef(r) => {
                    let c = resolve_reference(&r)?;
                    self.text(c.encode_utf8(&mut [0; 4]))?;
                }
                Event::Decl(d) => {
                    if self.root.is_some() {
                        return Err("an XML declaration appears after the root element".into());
                    }
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(|e| e.to_string())?;
                        if !enc.eq_ignore_ascii_case(b"utf-8") && !enc.eq_ignore_ascii_case(b"utf8")
                        {
                            return Err("only UTF-8 requests are accepted".into());
                        }
                    }
                }
                Event::DocType(_) => {
                    return Err("a DOCTYPE or entity declaration is not accepted".into());
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => {
                    return match (&self.root, self.depth) {
                        (None, _) => Err("the request holds no XML element".into()),
                        (Some(root), d) if d > 0 => Err(format!(
                            "the request ends before its <{root}> element is closed"
                        )),
                        _ => Ok(()),
                    };
                }
            }
        }
    }

    fn open(&mut self, e: &BytesStart<'_>) -> Result<(), String> {
        let raw = std::str::from_utf8(e.name().as_ref())
            .map_err(|_| "an element name is not valid UTF-8".to_owned())?
            .to_owned();
        if !is_xml_name(&raw) {
            return Err(format!("<{raw}> is not a valid element name"));
        }
        for attr in e.attributes() {
            attr.map_err(|err| format!("<{raw}> has a malformed attribute: {err}"))?;
        }
        let name = raw.to_ascii_uppercase();
        match self.depth {
            0 => {
                if self.root_closed {
                    return Err("the request holds more than one root element".into());
                }
                self.root = Some(name);
            }
            1 => {
                self.param = Some(OpenParam {
                    name,
                    ..OpenParam::default()
                });
            }
            2 => {
                if let Some(param) = &mut self.param {
                    param.has_items = true;
                }
                self.item = Some(String::new());
            }
            _ => {
                let outer = self.param.as_ref().map_or("", |p| p.name.as_str());
                self.shape(format!(
                    "{outer} holds elements nested deeper than one list level"
                ));
            }
        }
        self.depth += 1;
        Ok(())
    }

    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        match self.depth {
            0 => self.root_closed = true,
            1 => {
                if let Some(param) = self.param.take() {
                    self.finish_param(param);
                }
            }
            2 => {
                if let (Some(item), Some(param)) = (self.item.take(), &mut self.param) {
                    param.items.push(item);
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, s: &str) -> Result<(), String> {
        let blank = s.chars().all(|c| c.is_ascii_whitespace());
        match self.depth {
            0 if !blank => return Err("the request holds text outside its root element".into()),
            0 => {}
            1 if !blank => {
                let root = self.root.clone().unwrap_or_default();
                self.shape(format!(
                    "<{root}> holds text directly instead of parameters"
                ));
            }
            1 => {}
            2 => {
                if let Some(param) = &mut self.param {
                    param.text.push_str(s);
                }
            }
            3 => {
                if let Some(item) = &mut self.item {
                    item.push_str(s);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish_param(&mut self, param: OpenParam) {
        let OpenParam {
            name,
            text,
            items,
            has_items,
        } = param;
        let value = if has_items {
            if !text.chars().all(|c| c.is_ascii_whitespace()) {
                self.shape(format!("{name} mixes text and elements"));
            }
            if name == "TYPE" || name == "REQUESTID" {
                self.shape(format!("{name} must be a single value, not a list"));
            }
            items.join(",")
        } else {
            text
        };
        if !self.seen.insert(name.clone()) {
            self.shape(format!("{name} is given twice"));
            return;
        }
        match name.as_str() {
            "TYPE" => self.type_value = Some(value),
            "REQUESTID" => self.id_value = Some(value),
            _ => self.params.push((name, value)),
        }
    }

    fn shape(&mut self, message: String) {
        self.shape_error.get_or_insert(message);
    }

    /// The type as far as it is known: the root's name unless the root is `REQUEST`.
    fn recovered_type(&self) -> Option<&str> {
        match self.root.as_deref() {
            Some("REQUEST") | None => self.type_value.as_deref(),
            Some(root) => Some(root),
        }
    }

    fn finish(self, limits: &Limits) -> Result<Request, WireError> {
        if let Some(message) = &self.shape_error {
            return Err(WireError::bad_shape(message.clone())
                .with_ids(self.recovered_type(), self.id_value.as_deref()));
        }
        let request_type = match self.root.as_deref() {
            Some("REQUEST") | None => self.type_value,
            Some(root) => {
                if let Some(t) = &self.type_value
                    && normalize_type(t) != root
                {
                    return Err(WireError::bad_shape(format!(
                        "the request names two types: <{root}> and TYPE {}",
                        normalize_type(t)
                    ))
                    .with_ids(Some(root), self.id_value.as_deref()));
                }
                Some(root.to_owned())
            }
        };
        validate(request_type, self.id_value, self.params, limits)
    }
}

/// Resolves `&name;`: the five predefined entities and character references. Any other
/// entity would need a declaration, and declarations are refused.
pub(crate) fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<char, String> {
    let raw = String::from_utf8_lossy(r.as_ref()).into_owned();
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            _ => Err(format!("&{raw}; is not a valid character reference")),
        };
    }
    match raw.as_str() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(format!("&{raw}; is not a known entity")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;

    fn parse(doc: &str) -> Result<Request, WireError> {
        parse_xml(doc.as_bytes(), &Limits::default())
    }

    fn code_of(doc: &str) -> Code {
        match parse(doc) {
            Ok(r) => panic!("expected an error for {doc:?}, got {r:?}"),
            Err(e) => e.code,
        }
    }

    #[test]
    fn request_envelope() {
        let r = parse(
            "<REQUEST>\r\n<TYPE>CALLSTART</TYPE>\r\n<REQUESTID>7</REQUESTID>\r\n<DEVICEID>200</DEVICEID>\r\n</REQUEST>",
        )
        .unwrap();
        assert_eq!(r.request_type, "CALLSTART");
        assert_eq!(r.request_id, "7");
        assert_eq!(r.params(), &[("DEVICEID".to_owned(), "200".to_owned())]);
    }

    #[test]
    fn root_named_after_type_with_declaration_and_comments() {
        let r = parse(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\n<CallStart>\n\t<RequestId>8</RequestId>\n\t<deviceid>201</deviceid>\n</CallStart>\n",
        )
        .unwrap();
        assert_eq!(r.request_type, "CALLSTART");
        assert_eq!(r.request_id, "8");
        assert_eq!(r.get("DEVICEID"), Some("201"));
    }

    #[test]
    fn element_names_and_type_are_case_insensitive() {
        let r = parse("<request><type>test</type><requestid>1</requestid><Ani>x</Ani></request>")
            .unwrap();
        assert_eq!(r.request_type, "TEST");
        assert_eq!(r.params(), &[("ANI".to_owned(), "x".to_owned())]);
    }

    #[test]
    fn values_as_written_with_entities_and_cdata() {
        let r = parse(
            "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID>\
             <USER1>  a &amp; b &lt;c&gt; &#233;&#x1F600; &quot;&apos;</USER1>\
             <USER2><![CDATA[<raw> & ]]></USER2><USER3/><USER4></USER4><USER5>😀</USER5>\
             </REQUEST>",
        )
        .unwrap();
        assert_eq!(r.get("USER1"), Some("  a & b <c> é😀 \"'"));
        assert_eq!(r.get("USER2"), Some("<raw> & "));
        assert_eq!(r.get("USER3"), Some(""));
        assert_eq!(r.get("USER4"), Some(""));
        assert_eq!(r.get("USER5"), Some("😀"));
    }

    #[test]
    fn one_list_level_joins_with_commas() {
        let r = parse(
            "<REQUEST><TYPE>DEVICESTATUS</TYPE><REQUESTID>1</REQUESTID>\n\
             <DEVICEID>\n  <ID>200</ID>\n  <ID>201</ID>\n  <ID/>\n</DEVICEID></REQUEST>",
        )
        .unwrap();
        assert_eq!(r.get("DEVICEID"), Some("200,201,"));
    }

    #[test]
    fn not_well_formed_is_16() {
        for doc in [
            "",
            "   ",
            "hello",
            "<REQUEST><TYPE>TEST</TYPE>",
            "<REQUEST><TYPE>TEST</REQUEST>",
            "<REQUEST></REQUEST><REQUEST></REQUEST>",
            "junk<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID></REQUEST>",
            "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID></REQUEST>junk",
            "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A>&bogus;</A></REQUEST>",
            "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A>&#0;</A></REQUEST>",
            "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A>\u{1}</A></REQUEST>",
            "<REQUEST a=><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID></REQUEST>",
            "<1REQUEST></1REQUEST>",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><TEST><REQUESTID>1</REQUESTID></TEST>",
        ] {
            assert_eq!(code_of(doc), Code::InvalidMessageFormat, "{doc:?}");
        }
    }

    #[test]
    fn bad_utf8_is_16() {
        let e = parse_xml(
            b"<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A>\xff</A></REQUEST>",
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageFormat);
        assert!(e.message.contains("UTF-8"), "{}", e.message);
    }

    #[test]
    fn doctype_and_entity_declarations_are_16() {
        let e = parse(
            "<!DOCTYPE REQUEST [<!ENTITY x \"boom\">]><REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A>&x;</A></REQUEST>",
        )
        .unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageFormat);
        assert_eq!(e.message, "a DOCTYPE or entity declaration is not accepted");
        assert_eq!(
            code_of(
                "<!DOCTYPE REQUEST><REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID></REQUEST>"
            ),
            Code::InvalidMessageFormat
        );
    }

    #[test]
    fn wrong_shape_is_17() {
        for (doc, message) in [
            (
                "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><ANI>1</ANI><ani>2</ani></REQUEST>",
                "ANI is given twice",
            ),
            (
                "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A><B><C>1</C></B></A></REQUEST>",
                "A holds elements nested deeper than one list level",
            ),
            (
                "<CALLSTART><TYPE>CALLSTOP</TYPE><REQUESTID>1</REQUESTID></CALLSTART>",
                "the request names two types: <CALLSTART> and TYPE CALLSTOP",
            ),
            (
                "<REQUEST>TEST<REQUESTID>1</REQUESTID></REQUEST>",
                "<REQUEST> holds text directly instead of parameters",
            ),
            (
                "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A>x<B>1</B></A></REQUEST>",
                "A mixes text and elements",
            ),
            (
                "<REQUEST><TYPE><X>TEST</X></TYPE><REQUESTID>1</REQUESTID></REQUEST>",
                "TYPE must be a single value, not a list",
            ),
            (
                "<REQUEST><TYPE>TEST</TYPE><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID></REQUEST>",
                "TYPE is given twice",
            ),
        ] {
            let e = parse(doc).unwrap_err();
            assert_eq!(e.code, Code::InvalidMessageShape, "{doc}");
            assert_eq!(e.message, message, "{doc}");
            assert_eq!(e.request_id, "1", "{doc}");
        }
    }

    #[test]
    fn same_type_twice_is_accepted() {
        let r = parse("<TEST><TYPE>test</TYPE><REQUESTID>1</REQUESTID></TEST>").unwrap();
        assert_eq!(r.request_type, "TEST");
    }

    #[test]
    fn syntax_error_wins_over_shape_error() {
        let doc = "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A/><A/><B></REQUEST>";
        let e = parse(doc).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageFormat);
        assert_eq!(
            (e.request_type.as_str(), e.request_id.as_str()),
            ("TEST", "1")
        );
    }

    #[test]
    fn common_validation() {
        let e = parse("<REQUEST><REQUESTID>3</REQUESTID></REQUEST>").unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageShape);
        assert_eq!(e.message, "TYPE is missing");
        assert_eq!(e.request_id, "3");

        let e = parse("<REQUEST/>").unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageShape);

        let e = parse("<TEST/>").unwrap_err();
        assert_eq!(e.code, Code::RequestIdInvalid);
        assert_eq!(e.request_type, "TEST");

        let e = parse("<TEST><REQUESTID> 12</REQUESTID></TEST>").unwrap_err();
        assert_eq!(e.code, Code::RequestIdInvalid);
        assert_eq!(e.request_id, " 12");

        let doc = format!(
            "<CALLSTART><REQUESTID>1</REQUESTID><USER15>{}</USER15></CALLSTART>",
            "x".repeat(256)
        );
        let e = parse(&doc).unwrap_err();
        assert_eq!(e.code, Code::BlankRequiredValue);
        assert_eq!(e.message, "USER15 is longer than 255 characters");

        let doc = format!(
            "<CALLSTART><REQUESTID>1</REQUESTID><DNIS>{}</DNIS></CALLSTART>",
            "😀".repeat(1024)
        );
        assert!(parse(&doc).is_ok());
    }

    #[test]
    fn oversized_document_is_16() {
        let limits = Limits {
            max_request_bytes: 40,
            ..Limits::default()
        };
        let doc = "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID></REQUEST>";
        let e = parse_xml(doc.as_bytes(), &limits).unwrap_err();
        assert_eq!(e.code, Code::InvalidMessageFormat);
        assert_eq!(e.message, "the request is larger than 40 bytes");
    }

    #[test]
    fn leading_byte_order_mark_is_accepted() {
        let r = parse("\u{FEFF}<TEST><REQUESTID>1</REQUESTID></TEST>").unwrap();
        assert_eq!(r.request_type, "TEST");
    }

    #[test]
    fn line_ends_inside_values_are_normalized_as_xml_requires() {
        let r = parse("<TEST><REQUESTID>1</REQUESTID><USER1>a\r\nb</USER1></TEST>").unwrap();
        assert_eq!(r.get("USER1"), Some("a\nb"));
    }
}
