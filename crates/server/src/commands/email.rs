//! EMAILEXPORT: a recording's export, attached to a message sent through the configured
//! SMTP server (both transports).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::ApiError;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use wire::{Code, Node, Request};

use super::export::find;
use super::{Ctx, Done, Media, Params, invalid};
use crate::config::{Smtp, SmtpTls};
use crate::packaging;

/// 20 once the SMTP server accepted the message; 38 with the reason when it did not (or no
/// SMTP server is configured, or the file is over `[smtp] max_attachment_bytes`).
pub async fn email_export(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    for name in ["UNIQUEFIELD", "UNIQUEID", "MEDIA_FORMAT", "EMAIL"] {
        p.required(name)?;
    }
    let email = p.required("EMAIL")?;
    let to: Mailbox = email
        .trim()
        .parse()
        .map_err(|_| invalid(format!("EMAIL {email:?} is not an e-mail address")))?;
    let media = find(ctx, &p, None).await?;
    let smtp = &ctx.smtp;
    if smtp.host.is_empty() {
        return Err(failed("no SMTP server is configured ([smtp] host)"));
    }
    let file_name = media.file_name();
    let (record_id, format) = (media.record_id, media.format);
    let data = attachment(media, smtp.max_attachment_bytes).await?;
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|e| failed(format!("[smtp] from is not an e-mail address: {e}")))?;
    let content_type = ContentType::parse(format.content_type())
        .map_err(|e| failed(format!("content type: {e}")))?;
    let message = Message::builder()
        .from(from)
        .to(to.clone())
        .subject(format!("Recording {record_id}"))
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(format!(
                    "Recording {record_id} is attached as {file_name} ({format}).\r\n"
                )))
                .singlepart(Attachment::new(file_name).body(data, content_type)),
        )
        .map_err(|e| failed(format!("the message could not be built: {e}")))?;
    transport(smtp)?
        .send(message)
        .await
        .map_err(|e| failed(format!("the SMTP server did not accept the message: {e}")))?;
    Ok(Done::ok(vec![
        Node::field("RECORDID", record_id.to_string()),
        Node::field("EMAIL", to.email.to_string()),
    ]))
}

fn failed(why: impl Into<String>) -> ApiError {
    ApiError::new(Code::DeliveryFailed, why)
}

fn transport(smtp: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, ApiError> {
    type T = AsyncSmtpTransport<Tokio1Executor>;
    let tls_error = |e: lettre::transport::smtp::Error| failed(format!("SMTP TLS setup: {e}"));
    let (builder, default_port) = match smtp.tls {
        SmtpTls::None => (T::builder_dangerous(&smtp.host), 25),
        SmtpTls::Starttls => (T::starttls_relay(&smtp.host).map_err(tls_error)?, 587),
        SmtpTls::Tls => (T::relay(&smtp.host).map_err(tls_error)?, 465),
    };
    let mut builder = builder
        .port(smtp.port.unwrap_or(default_port))
        .timeout(Some(Duration::from_secs(smtp.timeout_secs)));
    if !smtp.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            smtp.username.clone(),
            smtp.password.clone(),
        ));
    }
    Ok(builder.build())
}

/// The export's bytes, encoded on a blocking thread. 31 when the stored file is missing or
/// cannot be encoded (as EXPORT); 38 when it is larger than `max` bytes.
async fn attachment(media: Media, max: u64) -> Result<Vec<u8>, ApiError> {
    tokio::task::spawn_blocking(move || {
        let dir = media
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let not_found = |why: String| ApiError::new(Code::RecordingNotFound, why);
        let file = packaging::encoded(&media.path, media.format, media.options, &dir)
            .map_err(not_found)?;
        let len = file.metadata().map_err(|e| not_found(e.to_string()))?.len();
        if len > max {
            return Err(failed(format!(
                "the {} file is {len} bytes, over [smtp] max_attachment_bytes ({max})",
                media.format
            )));
        }
        let mut data = Vec::with_capacity(len as usize);
        std::io::BufReader::new(file)
            .read_to_end(&mut data)
            .map_err(|e| not_found(e.to_string()))?;
        Ok(data)
    })
    .await
    .map_err(|e| failed(format!("the export failed: {e}")))?
}
