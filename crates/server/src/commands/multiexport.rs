//! MULTIEXPORT: several recordings, by RECORDID, in one streamed ZIP (WebAPI only).

use engine::ApiError;
use wire::{Code, Request};

use super::export::password;
use super::{Ctx, Params, invalid};
use crate::packaging::{Item, Multi, Outcome};

/// Checks the request and looks every IDENT up; the archive itself is written while it is
/// sent. Every error comes before the first byte: IDENT as [`wanted`] checks it,
/// MEDIA_FORMAT and ENCRYPT/PASSWORD as EXPORT checks them.
pub async fn multi_export(ctx: &Ctx, req: &Request) -> Result<(Multi, String), ApiError> {
    let p = Params(req);
    let idents = p.required("IDENT")?;
    let format = p.required("MEDIA_FORMAT")?;
    let format: ::export::Format = format.parse().map_err(|e: ::export::UnknownFormat| {
        ApiError::new(Code::MediaFormatInvalid, e.to_string())
    })?;
    let password = password(&p)?;
    let wanted = wanted(idents, ctx.multiexport_max)?;
    let store = ctx.engine.store();
    let mut items = Vec::with_capacity(wanted.len());
    for (ident, record_id) in wanted {
        let outcome = Outcome::of(
            store.recording(record_id).await?,
            &ctx.recordings_dir,
            |t| ctx.time(Some(t)),
        );
        items.push(Item {
            ident,
            record_id,
            outcome,
        });
    }
    Ok((
        Multi {
            items,
            format,
            options: ctx.export_options,
            password,
            temp_dir: ctx.recordings_dir.clone(),
            tz: ctx.tz,
        },
        "recordings.zip".to_string(),
    ))
}

/// The RECORDIDs of an IDENT list, each once, in the order given, with the IDENT as written
/// (trimmed). A value that is not a whole number → 17; none at all → 26; more than `max`
/// (`[export] multiexport_max`) → 26.
pub fn wanted(idents: &str, max: usize) -> Result<Vec<(String, i64)>, ApiError> {
    let mut wanted: Vec<(String, i64)> = Vec::new();
    for ident in idents.split(',').map(str::trim) {
        if ident.is_empty() {
            continue;
        }
        let record_id: i64 = ident
            .parse()
            .map_err(|_| invalid(format!("IDENT values must be RECORDIDs, not {ident:?}")))?;
        // A RECORDID given twice is exported once.
        if !wanted.iter().any(|(_, r)| *r == record_id) {
            wanted.push((ident.to_string(), record_id));
        }
    }
    if wanted.is_empty() {
        return Err(ApiError::new(
            Code::BlankRequiredValue,
            "IDENT names no RECORDID",
        ));
    }
    if wanted.len() > max {
        return Err(ApiError::new(
            Code::BlankRequiredValue,
            format!(
                "IDENT names {} recordings; at most {max} may be exported at once",
                wanted.len()
            ),
        ));
    }
    Ok(wanted)
}
