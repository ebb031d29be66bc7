//! MP3 by LAME.
use std::io::{Read, Seek, Write};

use crate::{Error, Options, PcmReader};

pub fn encode<R: Read, W: Write + Seek>(
    _pcm: PcmReader<R>,
    _options: Options,
    _out: W,
) -> Result<(), Error> {
    Err(Error::Mp3("not yet".into()))
}
