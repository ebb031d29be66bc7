//! Our G.711 expansion must equal SoX's for every code, bit for bit.

mod common;

use capture::g711::{alaw_to_linear, ulaw_to_linear};

#[test]
fn ulaw_matches_sox_for_all_codes() {
    let table = common::sox_table("ulaw_to_s16le.raw");
    for code in 0..=255u8 {
        assert_eq!(
            ulaw_to_linear(code),
            table[usize::from(code)],
            "µ-law code {code:#04x}"
        );
    }
}

#[test]
fn alaw_matches_sox_for_all_codes() {
    let table = common::sox_table("alaw_to_s16le.raw");
    for code in 0..=255u8 {
        assert_eq!(
            alaw_to_linear(code),
            table[usize::from(code)],
            "A-law code {code:#04x}"
        );
    }
}
