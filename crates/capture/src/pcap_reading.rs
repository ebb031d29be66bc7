//! Reading packets out of pcap and pcapng files with `pcap-file`.
//!
//! Classic pcap is read through `next_raw_packet` and the timestamp is built here, because
//! the crate's checked packet refuses records whose original length exceeds the snap
//! length — which is exactly what a capture taken with a short snaplen contains. pcapng
//! timestamps are scaled by the interface's `if_tsresol`/`if_tsoffset` here because the
//! crate hands back the raw tick count.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use pcap_file::TsResolution;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};

use crate::Micros;
use crate::error::CaptureError;
use crate::packet_decoding::LinkType;

/// One packet as stored in the capture.
#[derive(Clone, Debug)]
pub struct RawPacket {
    /// Capture time, microseconds since the Unix epoch.
    pub ts: Micros,
    pub linktype: LinkType,
    pub data: Vec<u8>,
}

/// A problem in the middle of a capture (after its header was read). The replay treats it
/// as the end of the file: a capture cut short while being written ends like this.
#[derive(Debug, thiserror::Error)]
#[error("capture damaged after {packets} packets: {source}")]
pub struct DamagedCapture {
    pub packets: u64,
    #[source]
    pub source: pcap_file::PcapError,
}

struct Interface {
    linktype: LinkType,
    /// if_tsresol as stored: high bit clear → 10^-n s, set → 2^-n s.
    tsresol: u8,
    /// if_tsoffset, seconds added to every timestamp.
    tsoffset: i64,
}

enum Format<R: Read> {
    Pcap {
        reader: PcapReader<R>,
        linktype: LinkType,
        nanos: bool,
    },
    PcapNg {
        reader: PcapNgReader<R>,
        interfaces: Vec<Interface>,
        last_ts: Micros,
    },
}

// The magic numbers that open a classic pcap file (µs and ns, both byte orders) and a
// pcapng section header block.
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x4d, 0x3c, 0xb2, 0xa1],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Opens a capture file and reads its header.
pub fn open_file(path: &Path) -> Result<PacketReader, CaptureError> {
    let io_err = |source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    open_reader(Box::new(file), path.to_path_buf())
}

/// The byte stream behind a reader: the sniffed magic number put back in front of the
/// rest of the source.
type Source = std::io::Chain<Cursor<[u8; 4]>, Box<dyn Read + Send>>;

/// Reads the packets of a pcap or pcapng stream (a file, or bytes in memory).
pub struct PacketReader {
    format: Format<Source>,
    packets: u64,
    done: bool,
}

/// Opens a capture from any byte source; `name` is used in error messages.
pub fn open_reader(
    mut source: Box<dyn Read + Send>,
    name: PathBuf,
) -> Result<PacketReader, CaptureError> {
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match source.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(CaptureError::Io { path: name, source }),
        }
    }
    if got < 4 {
        return Err(CaptureError::NotACapture {
            path: name,
            detail: format!("only {got} bytes long"),
        });
    }
    // Put the magic back in front so the pcap-file readers see the whole header.
    let stream = Cursor::new(magic).chain(source);
    let bad_header = |source| CaptureError::BadHeader {
        path: name.clone(),
        source,
    };
    let format = if PCAP_MAGICS.contains(&magic) {
        let reader = PcapReader::new(stream).map_err(bad_header)?;
        let header = reader.header();
        Format::Pcap {
            linktype: LinkType(u32::from(header.datalink)),
            nanos: header.ts_resolution == TsResolution::NanoSecond,
            reader,
        }
    } else if magic == PCAPNG_MAGIC {
        let reader = PcapNgReader::new(stream).map_err(bad_header)?;
        Format::PcapNg {
            reader,
            interfaces: Vec::new(),
            last_ts: 0,
        }
    } else {
        return Err(CaptureError::NotACapture {
            path: name,
            detail: format!("unknown magic number {magic:02x?}"),
        });
    };
    Ok(PacketReader {
        format,
        packets: 0,
        done: false,
    })
}

impl PacketReader {
    /// The next packet, `None` at the end, or the damage that ended the file early. After
    /// an error it returns `None`.
    pub fn next_packet(&mut self) -> Option<Result<RawPacket, DamagedCapture>> {
        if self.done {
            return None;
        }
        let result = match &mut self.format {
            Format::Pcap {
                reader,
                linktype,
                nanos,
            } => next_pcap(reader, *linktype, *nanos),
            Format::PcapNg {
                reader,
                interfaces,
                last_ts,
            } => next_pcapng(reader, interfaces, last_ts),
        };
        match result {
            None => {
                self.done = true;
                None
            }
            Some(Ok(p)) => {
                self.packets += 1;
                Some(Ok(p))
            }
            Some(Err(source)) => {
                self.done = true;
                Some(Err(DamagedCapture {
                    packets: self.packets,
                    source,
                }))
            }
        }
    }
}

impl Iterator for PacketReader {
    type Item = Result<RawPacket, DamagedCapture>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_packet()
    }
}

fn next_pcap<R: Read>(
    reader: &mut PcapReader<R>,
    linktype: LinkType,
    nanos: bool,
) -> Option<Result<RawPacket, pcap_file::PcapError>> {
    let raw = match reader.next_raw_packet()? {
        Ok(raw) => raw,
        Err(e) => return Some(Err(e)),
    };
    let frac = i64::from(raw.ts_frac);
    let ts = i64::from(raw.ts_sec) * 1_000_000 + if nanos { frac / 1000 } else { frac };
    Some(Ok(RawPacket {
        ts,
        linktype,
        data: raw.data.into_owned(),
    }))
}

fn next_pcapng<R: Read>(
    reader: &mut PcapNgReader<R>,
    interfaces: &mut Vec<Interface>,
    last_ts: &mut Micros,
) -> Option<Result<RawPacket, pcap_file::PcapError>> {
    loop {
        let block = match reader.next_block()? {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        match block {
            // A new section starts its own list of interfaces.
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => {
                let mut iface = Interface {
                    linktype: LinkType(u32::from(idb.linktype)),
                    tsresol: 6,
                    tsoffset: 0,
                };
                for opt in &idb.options {
                    match opt {
                        InterfaceDescriptionOption::IfTsResol(r) => iface.tsresol = *r,
                        InterfaceDescriptionOption::IfTsOffset(o) => {
                            iface.tsoffset = i64::try_from(*o).unwrap_or(0)
                        }
                        _ => {}
                    }
                }
                interfaces.push(iface);
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = usize::try_from(epb.interface_id)
                    .ok()
                    .and_then(|i| interfaces.get(i))
                else {
                    // A packet of an undeclared interface has no link type: skip it.
                    continue;
                };
                // pcap-file stores the raw 64-bit tick count as if it were nanoseconds.
                let ticks = epb.timestamp.as_nanos();
                let ts = ticks_to_micros(ticks, iface.tsresol, iface.tsoffset);
                *last_ts = ts;
                return Some(Ok(RawPacket {
                    ts,
                    linktype: iface.linktype,
                    data: epb.data.into_owned(),
                }));
            }
            Block::Packet(pb) => {
                let Some(iface) = interfaces.get(usize::from(pb.interface_id)) else {
                    continue;
                };
                let ts = ticks_to_micros(u128::from(pb.timestamp), iface.tsresol, iface.tsoffset);
                *last_ts = ts;
                return Some(Ok(RawPacket {
                    ts,
                    linktype: iface.linktype,
                    data: pb.data.into_owned(),
                }));
            }
            Block::SimplePacket(spb) => {
                // Simple packets carry no timestamp: they belong to interface 0 and are
                // placed at the time of the packet before them.
                let Some(iface) = interfaces.first() else {
                    continue;
                };
                return Some(Ok(RawPacket {
                    ts: *last_ts,
                    linktype: iface.linktype,
                    data: spb.data.into_owned(),
                }));
            }
            _ => {}
        }
    }
}

fn ticks_to_micros(ticks: u128, tsresol: u8, tsoffset: i64) -> Micros {
    let exp = u32::from(tsresol & 0x7f);
    let micros: u128 = if tsresol & 0x80 == 0 {
        // 10^-exp seconds per tick.
        if exp >= 6 {
            10u128.checked_pow(exp - 6).map_or(0, |div| ticks / div)
        } else {
            ticks.saturating_mul(10u128.pow(6 - exp))
        }
    } else {
        // 2^-exp seconds per tick.
        match 1u128.checked_shl(exp) {
            Some(div) => ticks.saturating_mul(1_000_000) / div,
            None => 0,
        }
    };
    i64::try_from(micros)
        .unwrap_or(i64::MAX)
        .saturating_add(tsoffset.saturating_mul(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_resolutions() {
        assert_eq!(ticks_to_micros(1_500_000, 6, 0), 1_500_000);
        assert_eq!(ticks_to_micros(1_500_000_000, 9, 0), 1_500_000);
        assert_eq!(ticks_to_micros(15, 1, 2), 3_500_000);
        assert_eq!(ticks_to_micros(1024, 0x80 | 10, 0), 1_000_000);
        assert_eq!(ticks_to_micros(u128::MAX, 0x80 | 127, 0), 1);
        assert_eq!(ticks_to_micros(5, 127, 0), 0);
    }

    #[test]
    fn short_and_foreign_files_are_refused() {
        let r = open_reader(Box::new(Cursor::new(vec![1u8, 2])), "x".into());
        assert!(matches!(r, Err(CaptureError::NotACapture { .. })));
        let r = open_reader(Box::new(Cursor::new(b"hello world".to_vec())), "x".into());
        assert!(matches!(r, Err(CaptureError::NotACapture { .. })));
        let r = open_reader(
            Box::new(Cursor::new(vec![0xd4, 0xc3, 0xb2, 0xa1, 0, 0])),
            "x".into(),
        );
        assert!(matches!(r, Err(CaptureError::BadHeader { .. })));
    }
}
