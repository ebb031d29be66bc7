//! RECORDSTART and RECORDSTOP: partial recordings.

use engine::ApiError;
use wire::{Code, Request};

use super::{Ctx, Done, Params};
use crate::render;

pub async fn record_start(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let device = p.device(ctx).await?;
    let meta = p.meta(ctx).await?;
    let agent_initiated = p.flag("AGENTINITIATED")?.unwrap_or(false);
    let view = ctx
        .engine
        .record_start(&device, p.instance(), &meta, agent_initiated)
        .await?;
    Ok(Done {
        code: Code::RecordingStarted,
        body: vec![render::call(ctx, &view)],
    })
}

pub async fn record_stop(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let device = p.device(ctx).await?;
    let view = ctx.engine.record_stop(&device, p.instance()).await?;
    Ok(Done {
        code: Code::RecordingStopped,
        body: vec![render::call(ctx, &view)],
    })
}
