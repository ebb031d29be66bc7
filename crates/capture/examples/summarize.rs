//! Prints what the tracker makes of a capture: dialog events and audio per side.
//! Usage: cargo run --example summarize -- FILE.pcap

use std::collections::BTreeMap;

use capture::{MediaEvent, Tracker, pcap_reading};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: summarize FILE")?;
    let reader = pcap_reading::open_file(path.as_ref())?;
    let mut tracker = Tracker::default();
    let mut first = None;
    let mut events = Vec::new();
    for packet in reader {
        let packet = packet?;
        first.get_or_insert(packet.ts);
        events.extend(tracker.packet(packet.ts, &packet.data, packet.linktype));
    }
    let last = tracker.last_packet_ts().unwrap_or(0);
    events.extend(tracker.finish(last));
    let t0 = first.unwrap_or(0);
    let secs = |t: i64| (t - t0) as f64 / 1e6;
    let mut audio: BTreeMap<(String, String), (usize, usize, f64, f64)> = BTreeMap::new();
    for e in &events {
        match e {
            MediaEvent::Audio {
                dialog,
                side,
                at,
                pcm,
            } => {
                let s = audio
                    .entry((dialog.clone(), format!("{side:?}")))
                    .or_insert((0, 0, f64::MAX, 0.0));
                s.0 += 1;
                s.1 += pcm.len();
                s.2 = s.2.min(secs(*at));
                s.3 = s.3.max(secs(*at) + pcm.len() as f64 / 8000.0);
            }
            MediaEvent::DialogStarted {
                dialog,
                at,
                from_user,
                to_user,
            } => {
                println!(
                    "{:9.6} started {dialog} from={from_user:?} to={to_user:?}",
                    secs(*at)
                )
            }
            MediaEvent::DialogAnswered { dialog, at } => {
                println!("{:9.6} answered {dialog}", secs(*at))
            }
            MediaEvent::DialogEnded { dialog, at, reason } => {
                println!("{:9.6} ended {dialog} ({reason})", secs(*at))
            }
            MediaEvent::UndecodableMedia {
                dialog,
                side,
                codec,
            } => {
                println!("          undecodable {dialog} {side:?} {codec}")
            }
        }
    }
    for ((d, s), (n, samples, from, to)) in audio {
        println!("audio {d} {s}: {n} packets, {samples} samples, {from:.3}..{to:.3} s");
    }
    println!("{:?}", tracker.stats().snapshot());
    Ok(())
}
