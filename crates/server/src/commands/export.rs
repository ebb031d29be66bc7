//! EXPORT: a recording's media, found by one of its unique fields (WebAPI only).

use engine::ApiError;
use store::{RecordingRow, TextField};
use wire::{Code, Request};

use super::{Ctx, Media, Params, invalid};
use crate::packaging::{self, Outcome};

/// UNIQUEFIELD names, and the column each one searches.
fn unique_field(name: &str) -> Option<Option<TextField>> {
    let upper = name.trim().to_ascii_uppercase();
    Some(match upper.as_str() {
        "RECORDID" => None,
        "CALLID" => Some(TextField::CallId),
        "ANI" => Some(TextField::Ani),
        "DNIS" => Some(TextField::Dnis),
        _ => {
            let n: u8 = upper.strip_prefix("USER")?.parse().ok()?;
            if !(1..=15).contains(&n) {
                return None;
            }
            Some(TextField::User(n))
        }
    })
}

pub async fn export(ctx: &Ctx, req: &Request) -> Result<Media, ApiError> {
    let p = Params(req);
    let password = password(&p)?;
    find(ctx, &p, password).await
}

/// The recording UNIQUEFIELD and UNIQUEID name, to be sent as MEDIA_FORMAT (EXPORT and
/// EMAILEXPORT), zipped with `password` if there is one.
pub async fn find(ctx: &Ctx, p: &Params<'_>, password: Option<String>) -> Result<Media, ApiError> {
    let field_name = p.required("UNIQUEFIELD")?;
    let id = p.required("UNIQUEID")?;
    let format = p.required("MEDIA_FORMAT")?;
    let field = unique_field(field_name).ok_or_else(|| {
        invalid(format!(
            "UNIQUEFIELD must be RECORDID, CALLID, ANI, DNIS or USER1 to USER15, not {field_name:?}"
        ))
    })?;
    let format: ::export::Format = format.parse().map_err(|e: ::export::UnknownFormat| {
        ApiError::new(Code::MediaFormatInvalid, e.to_string())
    })?;
    let store = ctx.engine.store();
    let found = match field {
        None => {
            let rid: i64 = id
                .trim()
                .parse()
                .map_err(|_| invalid(format!("RECORDID must be a number, not {id:?}")))?;
            store.recording(rid).await?
        }
        Some(column) => store.latest_recording_where(column, id).await?,
    };
    let rec = found.ok_or_else(|| {
        ApiError::new(
            Code::RecordingNotFound,
            format!(
                "no recording has {} {id:?}",
                field_name.to_ascii_uppercase()
            ),
        )
    })?;
    media(ctx, rec, format, password)
}

/// PASSWORD when ENCRYPT is Y (missing or blank → 26); None otherwise (a PASSWORD without
/// ENCRYPT=Y is ignored).
pub fn password(p: &Params) -> Result<Option<String>, ApiError> {
    if p.flag("ENCRYPT")?.unwrap_or(false) {
        Ok(Some(p.required("PASSWORD")?.to_string()))
    } else {
        Ok(None)
    }
}

pub fn media(
    ctx: &Ctx,
    rec: RecordingRow,
    format: ::export::Format,
    password: Option<String>,
) -> Result<Media, ApiError> {
    let record_id = rec.record_id;
    let stored = Outcome::of(Some(rec), &ctx.recordings_dir, |t| ctx.time(Some(t)))
        .into_stored(record_id)
        .map_err(|why| ApiError::new(Code::RecordingNotFound, why))?;
    Ok(Media {
        record_id,
        path: stored.path,
        modified: packaging::zip_time(stored.start, ctx.tz),
        format,
        options: ctx.export_options,
        password,
    })
}
