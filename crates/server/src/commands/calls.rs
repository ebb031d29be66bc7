//! CALLSTART, CALLSTOP, CALLUPDATE (live and post-recording).

use engine::ApiError;
use wire::Request;

use super::{Ctx, Done, Params, invalid};
use crate::render;

pub async fn call_start(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let device = p.device(ctx).await?;
    let meta = p.meta(ctx).await?;
    let view = ctx
        .engine
        .call_start(&device, p.instance().unwrap_or(""), &meta)
        .await?;
    Ok(Done::ok(vec![render::call(ctx, &view)]))
}

pub async fn call_stop(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let device = p.device(ctx).await?;
    let view = ctx.engine.call_stop(&device, p.instance()).await?;
    Ok(Done::ok(vec![render::call(ctx, &view)]))
}

pub async fn call_update(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let mut meta = p.meta(ctx).await?;
    // RECORDID selects the post-recording form.
    if p.raw("RECORDID").is_some() {
        let id = p.required("RECORDID")?;
        let id: i64 = id
            .trim()
            .parse()
            .map_err(|_| invalid(format!("RECORDID must be a number, not {id:?}")))?;
        meta.locked = p.flag("LOCKED")?;
        let view = ctx.engine.update_recording(id, &meta).await?;
        return Ok(Done::ok(vec![render::call(ctx, &view)]));
    }
    let device = p.device(ctx).await?;
    let if_not_recording = p.flag("UPDATE_IF_NOT_RECORDING")?.unwrap_or(false);
    let view = ctx
        .engine
        .call_update(&device, p.instance(), &meta, if_not_recording)
        .await?;
    Ok(Done::ok(vec![render::call(ctx, &view)]))
}
