//! RTP fixed header (RFC 3550 §5.1): version, padding, extension, CSRCs.

/// One RTP packet, borrowed from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Parses an RTP packet; `None` if it is not well-formed RTP version 2, or if it is RTCP
/// multiplexed on the RTP port (RFC 5761: packet types 200–204 read as PT 72–76 with the
/// marker bit).
pub fn parse(data: &[u8]) -> Option<RtpPacket<'_>> {
    let b0 = *data.first()?;
    let b1 = *data.get(1)?;
    if b0 >> 6 != 2 {
        return None;
    }
    if (200..=204).contains(&b1) {
        return None;
    }
    let padding = b0 & 0x20 != 0;
    let extension = b0 & 0x10 != 0;
    let csrc_count = usize::from(b0 & 0x0f);
    let seq = u16::from_be_bytes([*data.get(2)?, *data.get(3)?]);
    let timestamp = u32::from_be_bytes(data.get(4..8)?.try_into().ok()?);
    let ssrc = u32::from_be_bytes(data.get(8..12)?.try_into().ok()?);
    let mut offset = 12 + 4 * csrc_count;
    if extension {
        // 16-bit profile id, 16-bit length in 32-bit words, then the words.
        let words = data.get(offset + 2..offset + 4)?;
        let words = usize::from(u16::from_be_bytes([words[0], words[1]]));
        offset += 4 + 4 * words;
    }
    let mut end = data.len();
    if padding {
        // The last byte counts the padding bytes, itself included.
        let pad = usize::from(*data.last()?);
        if pad == 0 {
            return None;
        }
        end = end.checked_sub(pad)?;
    }
    if offset > end {
        return None;
    }
    Some(RtpPacket {
        marker: b1 & 0x80 != 0,
        payload_type: b1 & 0x7f,
        seq,
        timestamp,
        ssrc,
        payload: &data[offset..end],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_header() {
        let mut p = vec![0x80, 0x08, 0x01, 0x02, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
        p.extend_from_slice(&[1, 2, 3]);
        let r = parse(&p).expect("rtp");
        assert_eq!(r.payload_type, 8);
        assert_eq!(r.seq, 0x0102);
        assert_eq!(r.timestamp, 160);
        assert_eq!(r.ssrc, 0xdeadbeef);
        assert_eq!(r.payload, &[1, 2, 3]);
    }

    #[test]
    fn csrc_extension_and_padding() {
        // V=2, P=1, X=1, CC=1, M=1, PT=0
        let mut p = vec![0xB1, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[9, 9, 9, 9]); // CSRC
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 7, 7, 7, 7]); // extension, one word
        p.extend_from_slice(&[0xAA, 0xBB]); // payload
        p.extend_from_slice(&[0, 0, 3]); // padding of 3
        let r = parse(&p).expect("rtp");
        assert!(r.marker);
        assert_eq!(r.payload_type, 0);
        assert_eq!(r.payload, &[0xAA, 0xBB]);
    }

    #[test]
    fn rejects_bad_packets() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0x80, 0x08, 0, 1]), None);
        assert_eq!(parse(&[0x40; 20]), None); // version 1
        assert_eq!(parse(&[0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), None); // RTCP SR
        assert_eq!(parse(&[0xA0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 50]), None); // padding too long
        assert_eq!(parse(&[0x8F, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), None); // CSRCs missing
        assert_eq!(
            parse(&[0x90, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]),
            None
        );
    }
}
