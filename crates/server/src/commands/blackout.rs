//! BLACKOUTSTART and BLACKOUTSTOP: PCI blackouts, spans whose audio is never recorded.

use engine::ApiError;
use wire::{Code, Request};

use super::{Ctx, Done, Params};

/// The keys that may name the device; exactly one is given.
const KEYS: [&str; 4] = ["DEVICEID", "DEVICEALIAS", "CRM_USER", "SYS_USER"];

/// The device named by exactly one of [`KEYS`] (22 when more than one is given).
async fn device(ctx: &Ctx, p: &Params<'_>) -> Result<String, ApiError> {
    let given: Vec<&str> = KEYS.into_iter().filter(|k| p.get(k).is_some()).collect();
    match given.len() {
        0 => Err(ApiError::new(
            Code::BlankRequiredValue,
            format!("one of {} is required", KEYS.join(", ")),
        )),
        1 => p.device(ctx).await,
        _ => Err(ApiError::new(
            Code::KeysNotUnique,
            format!("give only one of {}", given.join(", ")),
        )),
    }
}

pub async fn blackout_start(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let device = device(ctx, &p).await?;
    ctx.engine.blackout_start(&device, p.instance()).await?;
    Ok(Done::ok(Vec::new()))
}

pub async fn blackout_stop(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let device = device(ctx, &p).await?;
    ctx.engine.blackout_stop(&device, p.instance()).await?;
    Ok(Done::ok(Vec::new()))
}
