//! Prints what the tracker makes of a capture: dialog events, audio per side, and how far
//! each side's audio was placed from the capture time of the packet that carried it.
//! Usage: cargo run --example summarize -- FILE.pcap

use std::collections::BTreeMap;

use capture::{MediaEvent, Tracker, pcap_reading};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: summarize FILE")?;
    let reader = pcap_reading::open_file(path.as_ref())?;
    let mut tracker = Tracker::default();
    let mut first = None;
    let mut events = Vec::new();
    // Per dialog and side: placement error (`at` − capture time) of each packet, and
    // where the previous packet's samples ended.
    let mut placement: BTreeMap<(String, String), Placement> = BTreeMap::new();
    for packet in reader {
        let packet = packet?;
        first.get_or_insert(packet.ts);
        let new = tracker.packet(packet.ts, &packet.data, packet.linktype);
        for e in &new {
            if let MediaEvent::Audio {
                dialog,
                side,
                at,
                pcm,
            } = e
            {
                placement
                    .entry((dialog.clone(), format!("{side:?}")))
                    .or_default()
                    .add(*at - packet.ts, *at, pcm.len());
            }
        }
        events.extend(new);
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
    for ((d, s), p) in placement {
        println!(
            "placement {d} {s}: error from capture time {:.1}..{:.1} ms, {} of {} packets \
             beyond ±20 ms, {} overlapping the previous packet",
            p.min as f64 / 1e3,
            p.max as f64 / 1e3,
            p.beyond_20ms,
            p.packets,
            p.overlaps
        );
    }
    println!("{:?}", tracker.stats().snapshot());
    Ok(())
}

#[derive(Default)]
struct Placement {
    packets: usize,
    min: i64,
    max: i64,
    beyond_20ms: usize,
    overlaps: usize,
    end: Option<i64>,
}

impl Placement {
    fn add(&mut self, error: i64, at: i64, samples: usize) {
        if self.packets == 0 {
            (self.min, self.max) = (error, error);
        }
        self.packets += 1;
        self.min = self.min.min(error);
        self.max = self.max.max(error);
        if error.abs() > 20_000 {
            self.beyond_20ms += 1;
        }
        if self.end.is_some_and(|end| at < end) {
            self.overlaps += 1;
        }
        self.end = Some(at + samples as i64 * 125);
    }
}
