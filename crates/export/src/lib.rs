//! callvault export: a finished recording encoded in the formats EXPORT offers.
//!
//! The input is a recording as the recorder finalizes it: a WAV file of 16-bit PCM at
//! 8 kHz, two channels (the device's side on channel 1, left). Mono WAV input is accepted
//! too. [`encode`] reads it in blocks and writes the chosen [`Format`], so memory does not
//! grow with the recording's length:
//!
//! - [`Format::Wav`]: the PCM copied into a fresh canonical WAV header;
//! - [`Format::GsmWav`]: GSM 06.10 full rate (our encoder, [`gsm`]) in WAV, format tag 0x31;
//! - [`Format::Mp3`]: MP3 by LAME, constant bit rate, with a LAME tag so players and
//!   decoders trim the encoder's delay;
//! - [`Format::Webm`]: Opus by libopus in a WebM file.
//!
//! Mono outputs mix the two channels as `(a + b) >> 1` (the arithmetic mean, rounded
//! towards minus infinity), which cannot clip.

pub mod gsm;
mod mp3;
mod pcm;
mod webm;

use std::fmt;
use std::io::{self, Read, Seek, Write};
use std::str::FromStr;

pub use pcm::{PcmReader, mix};

/// Everything that can go wrong while exporting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading or writing failed: {0}")]
    Io(#[from] io::Error),
    #[error("the recording is not a WAV file this exporter reads: {0}")]
    Input(String),
    #[error("the MP3 encoder failed: {0}")]
    Mp3(String),
    #[error("the Opus encoder failed: {0}")]
    Opus(String),
}

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Wav,
    GsmWav,
    Mp3,
    Webm,
}

/// A MEDIA_FORMAT token that names no format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MEDIA_FORMAT {0:?} is not one of MP3, WEBM, WEBMA, GSMWAV, WAV")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Parses a MEDIA_FORMAT token, ignoring case and surrounding blanks: `MP3`; `WEBM`,
    /// `WEBMA`; `GSMWAV`, `GSM`, `GSM_WAV`, `GSM WAV`; `WAV`.
    fn from_str(token: &str) -> Result<Self, Self::Err> {
        match token.trim().to_ascii_uppercase().as_str() {
            "WAV" => Ok(Format::Wav),
            "GSMWAV" | "GSM" | "GSM_WAV" | "GSM WAV" => Ok(Format::GsmWav),
            "MP3" => Ok(Format::Mp3),
            "WEBM" | "WEBMA" => Ok(Format::Webm),
            _ => Err(UnknownFormat(token.to_string())),
        }
    }
}

impl Format {
    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Wav | Format::GsmWav => "wav",
            Format::Mp3 => "mp3",
            Format::Webm => "webm",
        }
    }

    /// The HTTP Content-Type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Wav | Format::GsmWav => "audio/wav",
            Format::Mp3 => "audio/mpeg",
            Format::Webm => "audio/webm",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Wav => "WAV",
            Format::GsmWav => "GSMWAV",
            Format::Mp3 => "MP3",
            Format::Webm => "WEBM",
        })
    }
}

/// Choices that change an export's audio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// MP3 and WebM: keep both channels instead of mixing them to mono. WAV always keeps
    /// what the recording has; GSM is always mono.
    pub stereo: bool,
}

/// Encodes the WAV recording read from `input` as `format` into `out`.
///
/// Only MP3 seeks in `out` (once, at the end, to fill in the LAME tag at the start); the
/// other formats write strictly in order.
pub fn encode<R: Read, W: Write + Seek>(
    format: Format,
    options: Options,
    input: R,
    out: W,
) -> Result<(), Error> {
    let pcm = PcmReader::new(input)?;
    match format {
        Format::Wav => pcm::copy_wav(pcm, out),
        Format::GsmWav => pcm::gsm_wav(pcm, out),
        Format::Mp3 => mp3::encode(pcm, options, out),
        Format::Webm => webm::encode(pcm, options, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_media_format_token_parses() {
        for (token, format) in [
            ("MP3", Format::Mp3),
            ("mp3", Format::Mp3),
            ("WEBM", Format::Webm),
            ("webma", Format::Webm),
            ("GSMWAV", Format::GsmWav),
            ("gsm", Format::GsmWav),
            ("GSM_WAV", Format::GsmWav),
            ("gsm wav", Format::GsmWav),
            (" Wav ", Format::Wav),
        ] {
            assert_eq!(token.parse::<Format>(), Ok(format), "{token}");
        }
        assert!("OGG".parse::<Format>().is_err());
        assert!("GSM  WAV".parse::<Format>().is_err());
        assert_eq!(Format::Webm.extension(), "webm");
        assert_eq!(Format::Mp3.content_type(), "audio/mpeg");
        assert_eq!(Format::GsmWav.extension(), "wav");
    }
}
