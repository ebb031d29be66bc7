//! `callvault export --server URL`: the export downloaded from a running server, asked for
//! as an integration asks for it: EXPORT with UNIQUEFIELD=RECORDID, or MULTIEXPORT, sent as
//! a form POST to `/webAPI.aspx` (so a password stays out of URLs and access logs).

use std::io::{self, Read, Write};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use indicatif::ProgressBar;
use ureq::http::{StatusCode, Uri, header};

use super::{ExportArgs, Output};

/// How long to wait for the connection to be accepted. The transfer itself has no time
/// limit: a long MULTIEXPORT is encoded while it is sent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Most of a `<RESULT>` document (or other answer that is not a file) that is read.
const MAX_RESULT_BYTES: u64 = 1 << 20;

/// Downloads the export `args` ask for from `url`, the server's `/webAPI.aspx` (as
/// [`webapi_url`] made it from `--server`).
pub fn download(
    url: &str,
    args: &ExportArgs,
    output: &mut Output,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let record_id = args.recordid.map(|id| id.to_string());
    let format = args.format.to_string();
    let mut form = vec![("REQUESTID", "1"), ("MEDIA_FORMAT", format.as_str())];
    match (&record_id, &args.ident) {
        (Some(id), _) => form.extend([
            ("TYPE", "EXPORT"),
            ("UNIQUEFIELD", "RECORDID"),
            ("UNIQUEID", id.as_str()),
        ]),
        (None, Some(idents)) => form.extend([("TYPE", "MULTIEXPORT"), ("IDENT", idents.as_str())]),
        (None, None) => unreachable!("clap requires --recordid or --ident"),
    }
    if let Some(password) = &args.password {
        form.extend([("ENCRYPT", "Y"), ("PASSWORD", password.as_str())]);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .build()
        .into();
    let response = agent
        .post(url)
        .send_form(form)
        .map_err(|e| anyhow!("no answer from the server at {url}: {e}"))?;

    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut body = response.into_body();
    if status != StatusCode::OK || content_type.starts_with("text/") {
        // A result document instead of the file: the server's code and message.
        let answer = body
            .with_config()
            .limit(MAX_RESULT_BYTES)
            .read_to_vec()
            .map_err(|e| anyhow!("the answer from {url} could not be read: {e}"))?;
        if let Some((code, message)) = wire::read_result_status(&answer) {
            bail!("the server answered code {code}: {message}");
        }
        let text = String::from_utf8_lossy(&answer);
        bail!(
            "the server answered HTTP {status} without a file: {}",
            text.lines().next().unwrap_or("").trim()
        );
    }

    // MULTIEXPORT's ZIP is streamed while it is written: no length is known.
    if let Some(len) = body.content_length() {
        super::show_total(bar, len);
    }
    // A body cut short (fewer bytes than its Content-Length, or chunks that never end) is
    // a read error here, so an incomplete download is never renamed into place.
    let mut reader = bar.wrap_read(body.into_reader());
    let unwritable = output.unwritable();
    let mut out = io::BufWriter::new(output.file());
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => bail!("the download from {url} stopped: {e}"),
        };
        out.write_all(&buf[..n]).context(unwritable.clone())?;
    }
    out.flush().context(unwritable)
}

/// `<server>/webAPI.aspx`. `server` is the WebAPI's base address, `http://host:port`,
/// perhaps with a path before `/webAPI.aspx` (as a reverse proxy may add); the full
/// address of `/webAPI.aspx` itself is taken as it is. `--server`'s value parser, so a
/// wrong address is a usage error.
pub fn webapi_url(server: &str) -> Result<String, String> {
    let wrong = "it must be the server's http:// address, like http://127.0.0.1:2012";
    let uri: Uri = server.parse().map_err(|_| wrong.to_string())?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() || uri.query().is_some() {
        return Err(wrong.to_string());
    }
    let base = server.trim_end_matches('/');
    if base.to_ascii_lowercase().ends_with("/webapi.aspx") {
        return Ok(base.to_string());
    }
    Ok(format!("{base}/webAPI.aspx"))
}

#[cfg(test)]
mod tests {
    use super::webapi_url;

    #[test]
    fn the_webapi_address() {
        for (server, url) in [
            ("http://127.0.0.1:2012", "http://127.0.0.1:2012/webAPI.aspx"),
            (
                "http://127.0.0.1:2012/",
                "http://127.0.0.1:2012/webAPI.aspx",
            ),
            (
                "http://rec.example/cv/",
                "http://rec.example/cv/webAPI.aspx",
            ),
            (
                "http://rec.example:2012/webapi.aspx",
                "http://rec.example:2012/webapi.aspx",
            ),
        ] {
            assert_eq!(webapi_url(server).unwrap(), url, "{server}");
        }
        for bad in [
            "127.0.0.1:2012",
            "https://127.0.0.1:2012",
            "ftp://127.0.0.1",
            "http://",
            "http://host/?type=export",
            "not a url",
            "",
        ] {
            let err = webapi_url(bad).unwrap_err();
            assert!(
                err.contains("it must be the server's http://"),
                "{bad}: {err}"
            );
        }
    }
}
