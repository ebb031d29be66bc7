//! From link-layer frame to UDP/TCP payload, with `etherparse`.
//!
//! IP fragments are not reassembled: SIP over UDP that needs fragmentation is rare (RFC 3261
//! §18.1.1 moves messages near the MTU to TCP) and RTP packets are far below it, so a
//! fragment is counted as dropped.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};

/// A pcap link-layer type number (the LINKTYPE_* registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in host byte order, then IP.
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IPv4 or IPv6, no link header.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL, in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture v1 (`tcpdump -i any`).
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    /// Linux "cooked" capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// The transport part of a decoded packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    Udp {
        payload: &'a [u8],
    },
    Tcp {
        seq: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: &'a [u8],
    },
}

/// A UDP datagram or TCP segment with its endpoints.
#[derive(Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub transport: Transport<'a>,
}

/// Why a frame gave no UDP/TCP payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Truncated or malformed headers, an IP fragment, or a link type we do not read.
    Broken,
    /// A well-formed frame that is simply not UDP or TCP over IP (ARP, ICMP, ...).
    NotUdpTcp,
}

/// Decodes one captured frame down to its UDP or TCP payload.
pub fn decode(linktype: LinkType, data: &[u8]) -> Result<Segment<'_>, Skip> {
    let sliced = match linktype {
        LinkType::ETHERNET => SlicedPacket::from_ethernet(data),
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => SlicedPacket::from_ip(data),
        LinkType::NULL | LinkType::LOOP => {
            // The address family values differ between systems; the IP version nibble
            // says the same thing reliably.
            SlicedPacket::from_ip(data.get(4..).ok_or(Skip::Broken)?)
        }
        LinkType::LINUX_SLL => {
            // 16-byte header; the protocol (an EtherType) is its last two bytes.
            let proto = data.get(14..16).ok_or(Skip::Broken)?;
            let payload = data.get(16..).ok_or(Skip::Broken)?;
            SlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([proto[0], proto[1]])),
                payload,
            )
        }
        LinkType::LINUX_SLL2 => {
            // 20-byte header; the protocol is its first two bytes.
            let proto = data.get(0..2).ok_or(Skip::Broken)?;
            let payload = data.get(20..).ok_or(Skip::Broken)?;
            SlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([proto[0], proto[1]])),
                payload,
            )
        }
        _ => return Err(Skip::Broken),
    }
    .map_err(|_| Skip::Broken)?;

    let (src_ip, dst_ip, fragmented): (IpAddr, IpAddr, bool) = match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => (
            v4.header().source_addr().into(),
            v4.header().destination_addr().into(),
            v4.payload().fragmented,
        ),
        Some(NetSlice::Ipv6(v6)) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
            v6.payload().fragmented,
        ),
        _ => return Err(Skip::NotUdpTcp),
    };
    if fragmented {
        return Err(Skip::Broken);
    }
    match sliced.transport {
        Some(TransportSlice::Udp(udp)) => Ok(Segment {
            src: SocketAddr::new(src_ip, udp.source_port()),
            dst: SocketAddr::new(dst_ip, udp.destination_port()),
            transport: Transport::Udp {
                payload: udp.payload(),
            },
        }),
        Some(TransportSlice::Tcp(tcp)) => Ok(Segment {
            src: SocketAddr::new(src_ip, tcp.source_port()),
            dst: SocketAddr::new(dst_ip, tcp.destination_port()),
            transport: Transport::Tcp {
                seq: tcp.sequence_number(),
                syn: tcp.syn(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                payload: tcp.payload(),
            },
        }),
        _ => Err(Skip::NotUdpTcp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp_v4_frame() -> Vec<u8> {
        let builder = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5060, 5062);
        let payload = b"hello";
        let mut out = Vec::new();
        let _ = builder.write(&mut out, payload);
        out
    }

    #[test]
    fn udp_over_ethernet() {
        let frame = udp_v4_frame();
        let seg = decode(LinkType::ETHERNET, &frame).expect("decodes");
        assert_eq!(seg.src, "10.0.0.1:5060".parse().expect("addr"));
        assert_eq!(seg.dst, "10.0.0.2:5062".parse().expect("addr"));
        assert_eq!(seg.transport, Transport::Udp { payload: b"hello" });
    }

    #[test]
    fn every_truncation_is_refused_without_panic() {
        let frame = udp_v4_frame();
        for n in 0..frame.len() {
            for lt in [
                LinkType::ETHERNET,
                LinkType::RAW,
                LinkType::NULL,
                LinkType::LINUX_SLL,
                LinkType::LINUX_SLL2,
                LinkType(9999),
            ] {
                let _ = decode(lt, &frame[..n]);
            }
        }
        assert!(decode(LinkType::ETHERNET, &frame[..30]).is_err());
    }
}
