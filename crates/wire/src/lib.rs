//! The wire format of the Uptivity-compatible API (PROTOCOL §1–§2): parsing requests in each
//! form the server accepts, cutting the socket stream into requests, encoding `<RESULT>`
//! documents, and reading the values the protocol defines. Pure: no I/O, no async.
//!
//! - [`parse_query`], [`parse_form`], [`parse_xml`]: one request each, as a [`Request`] or
//!   the [`WireError`] it is answered with.
//! - [`SocketFramer`]: the socket API's byte stream, cut into [`Frame`]s.
//! - [`Response`]: a result, encoded byte for byte as the vendor's server wrote it;
//!   [`read_result_status`] reads its code and message back, as a client does.
//! - [`values`]: flags, call direction and date-times.

mod code;
mod framing;
mod query;
mod request;
mod response;
pub mod values;
mod xml_request;

pub use code::Code;
pub use framing::{Frame, SocketFramer};
pub use query::{parse_form, parse_query, parse_query_as};
pub use request::{Limits, Request, WireError, check_value};
pub use response::{Node, Response, encode_document, read_result_status};
pub use xml_request::parse_xml;
