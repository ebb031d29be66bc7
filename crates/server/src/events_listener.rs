//! The events port (PROTOCOL §7): every event the engine applies, as one `<EVENT>` document
//! followed by CR LF, to every connected client, in the engine's order. A client may send
//! EVENTFILTER requests (socket API framing) to narrow what it gets; each is answered with a
//! `<RESULT>` on the same connection.
//!
//! A client that stops reading never holds anything up: the engine sends into a bounded
//! broadcast channel and never waits. While this connection's writes are blocked, the
//! channel drops the oldest events for it; once it reads again it gets one SYSTEMALERT
//! saying how many it missed, then the events that follow.
//!
//! A client that closes its sending side may still be reading (a subscriber that sent its
//! EVENTFILTER and shut its side), so the end of its requests does not end the connection.
//! TCP cannot tell that from a client gone for good without writing to it: at the end of
//! the requests the server sends one notice, which a closed client's system answers with a
//! reset; the connection then ends at once, with no event needed to find out.

use std::collections::BTreeSet;
use std::sync::Arc;

use engine::{Event, EventData, EventKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::time::Instant;
use wire::{Code, Frame, Node, Request, Response, SocketFramer};

use crate::commands::{Ctx, Done, Params, device_id, respond};
use crate::render;

/// Serves connections until `stop`.
pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>, stop: watch::Receiver<bool>) {
    crate::socket::accept_until_stopped("events", listener, stop, |stream, stop| {
        connection(stream, ctx.clone(), stop)
    })
    .await
}

async fn connection(stream: TcpStream, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let _connected = crate::metrics::ClientGuard::new(&ctx.metrics.event_clients);
    // Subscribed before anything is read: the client gets every event from its connection on.
    let mut events = ctx.engine.subscribe().await;
    let (mut rd, mut wr) = stream.into_split();
    let mut framer = SocketFramer::new(ctx.limits.clone());
    let mut filter = Filter::default();
    let mut buf = vec![0u8; 16 * 1024];
    // Cleared when the client closes its sending side: it may still be reading events.
    let mut reading = true;
    // When an unfinished request is answered with code 16.
    let mut partial_deadline = Instant::now();
    loop {
        while let Some(frame) = framer.next_frame() {
            let doc = filter.request(frame).encode();
            if !send(&mut wr, doc, &mut stop).await {
                return;
            }
        }
        let partial = framer.has_partial();
        let was_reading = reading;
        let doc = tokio::select! {
            read = rd.read(&mut buf), if reading => match read {
                Ok(0) => {
                    reading = false;
                    framer.on_idle_timeout().map(|f| filter.request(f).encode())
                }
                Ok(n) => {
                    framer.push(&buf[..n]);
                    partial_deadline = Instant::now() + ctx.socket_partial_timeout;
                    None
                }
                Err(_) => return,
            },
            _ = tokio::time::sleep_until(partial_deadline), if reading && partial => {
                framer.on_idle_timeout().map(|f| filter.request(f).encode())
            },
            received = events.recv() => match received {
                Ok(event) if filter.admits(&event) => Some(event_document(&ctx, &event)),
                Ok(_) => None,
                Err(RecvError::Lagged(missed)) => {
                    ctx.metrics.events_missed.inc_by(missed);
                    Some(missed_document(&ctx, missed))
                }
                Err(RecvError::Closed) => return,
            },
            // The reset a closed client's system sends back for the notice.
            _ = wr.ready(Interest::ERROR), if !reading => return,
            _ = stop.wait_for(|s| *s) => return,
        };
        if let Some(doc) = doc
            && !send(&mut wr, doc, &mut stop).await
        {
            return;
        }
        if was_reading && !reading && !send(&mut wr, requests_ended_document(&ctx), &mut stop).await
        {
            return;
        }
    }
}

/// Writes one document and its CR LF; false when the connection is gone or the server stops.
async fn send(wr: &mut OwnedWriteHalf, mut doc: String, stop: &mut watch::Receiver<bool>) -> bool {
    doc.push_str("\r\n");
    tokio::select! {
        written = wr.write_all(doc.as_bytes()) => written.is_ok(),
        _ = stop.wait_for(|s| *s) => false,
    }
}

/// The `<EVENT>` document: EVENTTYPE, EVENTID, EVENTTIME, DEVICEID, CALLINSTANCE, then what
/// the event carries (the CALL fields, a device's STATE, or an alert's MESSAGE).
fn event_document(ctx: &Ctx, event: &Event) -> String {
    let mut body = vec![
        Node::field("EVENTTYPE", event.kind.as_str()),
        Node::field("EVENTID", event.id.to_string()),
        Node::field("EVENTTIME", ctx.time(Some(event.at))),
        Node::field("DEVICEID", event.device_id.clone()),
        Node::field("CALLINSTANCE", event.call_instance.clone()),
    ];
    match &event.data {
        EventData::Call(view) => {
            if let Node::Section(_, fields) = render::call(ctx, view) {
                body.extend(fields.into_iter().filter(|n| {
                    !matches!(n, Node::Field(name, _) if name == "DEVICEID" || name == "CALLINSTANCE")
                }));
            }
        }
        EventData::DeviceState(state) => {
            body.push(Node::field("STATE", state.to_string()));
            body.push(Node::field("STATEDESC", render::state_desc(*state)));
        }
        EventData::Alert(message) => body.push(Node::field("MESSAGE", message.clone())),
    }
    wire::encode_document("EVENT", &body)
}

/// The SYSTEMALERT of a connection that fell behind: it says how many events this
/// connection lost.
fn missed_document(ctx: &Ctx, missed: u64) -> String {
    connection_alert(
        ctx,
        vec![
            Node::field("MISSED", missed.to_string()),
            Node::field(
                "MESSAGE",
                format!("{missed} events were dropped because this connection did not keep up"),
            ),
        ],
    )
}

/// The SYSTEMALERT sent when the client closes its sending side.
fn requests_ended_document(ctx: &Ctx) -> String {
    connection_alert(
        ctx,
        vec![Node::field(
            "MESSAGE",
            "this connection sends no more requests; events continue until it closes",
        )],
    )
}

/// A SYSTEMALERT about this connection only: not one of the server's numbered events
/// (EVENTID empty), sent whatever the filter; `fields` follow the usual first five.
fn connection_alert(ctx: &Ctx, fields: Vec<Node>) -> String {
    let mut body = vec![
        Node::field("EVENTTYPE", EventKind::SystemAlert.as_str()),
        Node::field("EVENTID", ""),
        Node::field("EVENTTIME", ctx.time(Some(engine::now_micros()))),
        Node::field("DEVICEID", ""),
        Node::field("CALLINSTANCE", ""),
    ];
    body.extend(fields);
    wire::encode_document("EVENT", &body)
}

/// A set of event types or of devices a connection selects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selection<T: Ord> {
    /// Everything; the first ADD narrows to what it names.
    Every,
    Only(BTreeSet<T>),
    AllBut(BTreeSet<T>),
}

impl<T: Ord> Selection<T> {
    fn add(&mut self, items: Vec<T>) {
        match self {
            Selection::Every => *self = Selection::Only(items.into_iter().collect()),
            Selection::Only(set) => set.extend(items),
            Selection::AllBut(set) => {
                for i in &items {
                    set.remove(i);
                }
            }
        }
    }

    fn remove(&mut self, items: Vec<T>) {
        match self {
            Selection::Every => *self = Selection::AllBut(items.into_iter().collect()),
            Selection::Only(set) => {
                for i in &items {
                    set.remove(i);
                }
            }
            Selection::AllBut(set) => set.extend(items),
        }
    }

    fn admits(&self, item: &T) -> bool {
        match self {
            Selection::Every => true,
            Selection::Only(set) => set.contains(item),
            Selection::AllBut(set) => !set.contains(item),
        }
    }
}

/// What one connection receives: by event type, and by device for events that name one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    types: Selection<EventKind>,
    devices: Selection<String>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            types: Selection::Every,
            devices: Selection::Every,
        }
    }
}

impl Filter {
    fn admits(&self, event: &Event) -> bool {
        self.types.admits(&event.kind)
            && (event.device_id.is_empty() || self.devices.admits(&event.device_id))
    }

    /// Answers one request on the events connection; only EVENTFILTER is served here.
    fn request(&mut self, frame: Frame) -> Response {
        match frame {
            Frame::Request(req) => {
                let result = self.apply(&req).map(|()| Done::ok(Vec::new()));
                respond(&req, result)
            }
            Frame::Error(e) => Response::from_error(e),
        }
    }

    /// EVENTFILTER: MODE ADD, REMOVE or ALL; EVENTTYPE and DEVICEID, each one value or a
    /// comma-separated list. Nothing changes unless the whole request is valid.
    fn apply(&mut self, req: &Request) -> Result<(), engine::ApiError> {
        if req.request_type != "EVENTFILTER" {
            return Err(engine::ApiError::new(
                Code::InvalidRequestType,
                "only EVENTFILTER is served on the events port",
            ));
        }
        let p = Params(req);
        let mode = p.required("MODE")?.trim().to_ascii_uppercase();
        if !["ADD", "REMOVE", "ALL"].contains(&mode.as_str()) {
            return Err(engine::ApiError::new(
                Code::ModeInvalid,
                format!("MODE must be ADD, REMOVE or ALL, not {mode:?}"),
            ));
        }
        let mut types = Vec::new();
        for t in list(p.get("EVENTTYPE")) {
            types.push(EventKind::parse(t).ok_or_else(|| {
                engine::ApiError::new(
                    Code::EventTypeInvalid,
                    format!("{t:?} is not an event type"),
                )
            })?);
        }
        let mut devices = Vec::new();
        for d in list(p.get("DEVICEID")) {
            devices.push(device_id(d)?.to_string());
        }
        match mode.as_str() {
            "ALL" => *self = Filter::default(),
            "ADD" | "REMOVE" if types.is_empty() && devices.is_empty() => {
                return Err(engine::ApiError::new(
                    Code::BlankRequiredValue,
                    format!("MODE {mode} needs EVENTTYPE or DEVICEID"),
                ));
            }
            "ADD" => {
                if !types.is_empty() {
                    self.types.add(types);
                }
                if !devices.is_empty() {
                    self.devices.add(devices);
                }
            }
            _ => {
                if !types.is_empty() {
                    self.types.remove(types);
                }
                if !devices.is_empty() {
                    self.devices.remove(devices);
                }
            }
        }
        Ok(())
    }
}

/// The items of a comma-separated value, trimmed, blanks left out.
fn list(value: Option<&str>) -> impl Iterator<Item = &str> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_req(params: &[(&str, &str)]) -> Frame {
        Frame::Request(Request::new("EVENTFILTER", "1", params.iter().copied()))
    }

    fn event(kind: EventKind, device: &str) -> Event {
        Event {
            id: 1,
            kind,
            at: 0,
            device_id: device.to_string(),
            call_instance: String::new(),
            data: EventData::DeviceState(0),
        }
    }

    #[test]
    fn add_narrows_then_widens_remove_and_all() {
        let mut f = Filter::default();
        assert!(f.admits(&event(EventKind::CallStop, "200")));
        let r = f.request(filter_req(&[("MODE", "add"), ("EVENTTYPE", "CALLSTART")]));
        assert_eq!(r.code, Code::Ok);
        assert!(f.admits(&event(EventKind::CallStart, "200")));
        assert!(!f.admits(&event(EventKind::CallStop, "200")));
        f.request(filter_req(&[
            ("MODE", "ADD"),
            ("EVENTTYPE", "callstop, DEVICESTATE"),
        ]));
        assert!(f.admits(&event(EventKind::CallStop, "200")));
        assert!(f.admits(&event(EventKind::DeviceState, "200")));
        f.request(filter_req(&[
            ("MODE", "REMOVE"),
            ("EVENTTYPE", "CALLSTART"),
        ]));
        assert!(!f.admits(&event(EventKind::CallStart, "200")));
        f.request(filter_req(&[("MODE", "ADD"), ("DEVICEID", "201")]));
        assert!(!f.admits(&event(EventKind::CallStop, "200")));
        assert!(f.admits(&event(EventKind::CallStop, "201")));
        // Events that name no device pass the device filter.
        assert!(f.admits(&event(EventKind::DeviceState, "")));
        f.request(filter_req(&[("MODE", "ALL")]));
        assert_eq!(f, Filter::default());
        f.request(filter_req(&[("MODE", "REMOVE"), ("DEVICEID", "200")]));
        assert!(!f.admits(&event(EventKind::CallStop, "200")));
        assert!(f.admits(&event(EventKind::CallStop, "201")));
    }

    #[test]
    fn refusals_change_nothing() {
        let mut f = Filter::default();
        let code = |f: &mut Filter, p: &[(&str, &str)]| f.request(filter_req(p)).code;
        assert_eq!(
            code(&mut f, &[("MODE", "SET"), ("EVENTTYPE", "NOPE")]),
            Code::ModeInvalid
        );
        assert_eq!(
            code(&mut f, &[("MODE", "ADD"), ("EVENTTYPE", "CALLSTART,NOPE")]),
            Code::EventTypeInvalid
        );
        assert_eq!(code(&mut f, &[("MODE", "ADD")]), Code::BlankRequiredValue);
        assert_eq!(
            code(&mut f, &[("EVENTTYPE", "CALLSTART")]),
            Code::BlankRequiredValue
        );
        assert_eq!(f, Filter::default());
        let other = f.request(Frame::Request(Request::new(
            "CALLSTART",
            "2",
            [("DEVICEID", "1")],
        )));
        assert_eq!(other.code, Code::InvalidRequestType);
    }
}
