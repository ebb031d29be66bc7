//! Encodes a recording WAV file in an export format.
//! Usage: cargo run -p callvault-export --example encode -- FORMAT IN.wav OUT [stereo]

use std::fs::File;
use std::io::{BufReader, BufWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [format, input, output, rest @ ..] = args.as_slice() else {
        return Err("usage: encode FORMAT IN.wav OUT [stereo]".into());
    };
    let format: export::Format = format.parse()?;
    let options = export::Options {
        stereo: rest.iter().any(|a| a == "stereo"),
    };
    let input = BufReader::new(File::open(input)?);
    let output = BufWriter::new(File::create(output)?);
    export::encode(format, options, input, output)?;
    Ok(())
}
