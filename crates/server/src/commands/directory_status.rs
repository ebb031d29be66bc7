//! The directory's informational commands: STATIONLIST and TERMINOLOGY. They change nothing.

use engine::ApiError;
use wire::Node;

use super::{Ctx, Done};

/// STATIONLIST: COUNT + one `<STATIONS>` per station, by station name.
pub async fn station_list(ctx: &Ctx) -> Result<Done, ApiError> {
    let stations = ctx.engine.store().stations().await?;
    let mut body = vec![Node::field("COUNT", stations.len().to_string())];
    body.extend(stations.into_iter().map(|(name, device)| {
        Node::section(
            "STATIONS",
            vec![
                Node::field("STATIONNAME", name),
                Node::field("DEVICEID", device),
            ],
        )
    }));
    Ok(Done::ok(body))
}

/// The terms TERMINOLOGY reports and their default values (PROTOCOL §5).
pub fn default_terms() -> Vec<(String, String)> {
    let mut terms: Vec<(String, String)> = [
        ("AGENT", "Agent"),
        ("SUPERVISOR", "Supervisor"),
        ("GROUP", "Group"),
        ("CALL", "Call"),
        ("DEVICE", "Device"),
        ("STATION", "Station"),
        ("CUSTOMER", "Customer"),
    ]
    .into_iter()
    .map(|(t, v)| (t.to_string(), v.to_string()))
    .collect();
    terms.extend((1..=15).map(|i| (format!("USER{i}"), format!("User {i}"))));
    terms
}

/// TERMINOLOGY: COUNT + one `<TERMINOLOGY>` per term.
pub async fn terminology(ctx: &Ctx) -> Result<Done, ApiError> {
    let terms = &ctx.terms;
    let mut body = vec![Node::field("COUNT", terms.len().to_string())];
    body.extend(terms.iter().map(|(term, value)| {
        Node::section(
            "TERMINOLOGY",
            vec![
                Node::field("TERM", term.clone()),
                Node::field("VALUE", value.clone()),
            ],
        )
    }));
    Ok(Done::ok(body))
}
