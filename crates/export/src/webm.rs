//! WebM with Opus.
use std::io::{Read, Seek, Write};

use crate::{Error, Options, PcmReader};

pub fn encode<R: Read, W: Write + Seek>(
    _pcm: PcmReader<R>,
    _options: Options,
    _out: W,
) -> Result<(), Error> {
    Err(Error::Opus("not yet".into()))
}
