//! GSM 06.10 full-rate speech encoder, written from the ETSI GSM 06.10 specification
//! (ETS 300 961), section 4.2 (the fixed-point encoder) and table 1.1 (the parameters).
//!
//! No maintained Rust crate implements GSM 06.10, and binding a system libgsm would make the
//! build depend on a system library, so the encoder is here. It follows the specification's
//! fixed-point arithmetic operation by operation (saturating `add`/`sub`, `mult`, `mult_r`,
//! `norm`, `div`), with one deliberate exception: the LTP lag search (4.2.11) sums its
//! cross-correlations in f32 the way libgsm does when built with `USE_FLOAT_MUL`, as Debian
//! builds it for sox (see [`ltp_parameters`]). The tests compare our files with sox's byte
//! for byte.
//!
//! [`Encoder::encode`] turns 160 samples (20 ms at 8 kHz) into one frame's 76 parameters;
//! [`pack_wav49`] packs two frames into the 65-byte block of Microsoft's GSM 6.10 WAV format
//! (format tag 0x31): the parameters of both frames, in table 1.1 order, as one
//! least-significant-bit-first bit stream (2 × 260 bits).

// Indexed loops keep the code next to the specification's formulas.
#![allow(clippy::needless_range_loop)]

/// Samples in one GSM frame (20 ms at 8 kHz).
pub const FRAME_SAMPLES: usize = 160;
/// Bytes of one WAV49 block, which holds two frames.
pub const BLOCK_BYTES: usize = 65;

/// The parameters of one encoded frame (GSM 06.10 table 1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// Log area ratios, 6, 6, 5, 5, 4, 4, 3, 3 bits.
    pub larc: [u8; 8],
    /// Per sub-frame: LTP lag (7 bits), LTP gain (2), RPE grid (2), block amplitude (6).
    pub nc: [u8; 4],
    pub bc: [u8; 4],
    pub mc: [u8; 4],
    pub xmaxc: [u8; 4],
    /// Per sub-frame: 13 RPE pulses of 3 bits.
    pub xmc: [[u8; 13]; 4],
}

// --- The specification's basic operations (section 4.2.0) -------------------------------

fn sat(x: i32) -> i16 {
    x.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

fn add(a: i16, b: i16) -> i16 {
    a.saturating_add(b)
}

fn sub(a: i16, b: i16) -> i16 {
    a.saturating_sub(b)
}

// `mult` and `mult_r` saturate the one product that overflows, -32768 × -32768, to 32767;
// `min` does that without a branch.
fn mult(a: i16, b: i16) -> i16 {
    ((a as i32 * b as i32) >> 15).min(i16::MAX as i32) as i16
}

fn mult_r(a: i16, b: i16) -> i16 {
    ((a as i32 * b as i32 + 16384) >> 15).min(i16::MAX as i32) as i16
}

fn abs(a: i16) -> i16 {
    a.saturating_abs()
}

/// Number of left shifts that normalize a (the spec's `norm`); 0 for 0 is never asked.
fn norm(a: i32) -> i16 {
    let a = if a < 0 {
        if a <= -1_073_741_824 {
            return 0;
        }
        !a
    } else {
        a
    };
    (a.leading_zeros() as i16) - 1
}

/// num / denum as a 15-bit fraction, 0 <= num <= denum (the spec's `div`).
fn div(num: i16, denum: i16) -> i16 {
    if num == 0 {
        return 0;
    }
    let mut l_num = num as i32;
    let l_denum = denum as i32;
    let mut d: i16 = 0;
    for _ in 0..15 {
        d <<= 1;
        l_num <<= 1;
        if l_num >= l_denum {
            l_num -= l_denum;
            d += 1;
        }
    }
    d
}

fn asr(a: i16, n: i16) -> i16 {
    if n >= 16 {
        -((a < 0) as i16)
    } else if n <= -16 {
        0
    } else if n < 0 {
        a.wrapping_shl((-n) as u32)
    } else {
        a >> n
    }
}

fn asl(a: i16, n: i16) -> i16 {
    if n >= 16 {
        0
    } else if n <= -16 {
        -((a < 0) as i16)
    } else if n < 0 {
        asr(a, -n)
    } else {
        a.wrapping_shl(n as u32)
    }
}

// --- Tables (section 5) ------------------------------------------------------------------

const DLB: [i16; 4] = [6554, 16384, 26214, 32767];
const QLB: [i16; 4] = [3277, 11469, 21299, 32767];
const NRFAC: [i16; 8] = [29128, 26215, 23832, 21846, 20165, 18725, 17476, 16384];
const FAC: [i16; 8] = [18431, 20479, 22527, 24575, 26623, 28671, 30719, 32767];
/// Weighting filter impulse response H(i), i = 0..10.
const H: [i32; 11] = [-134, -374, 0, 2054, 5741, 8192, 5741, 2054, 0, -374, -134];

/// The encoder's state, carried from frame to frame.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// Offset compensation and pre-emphasis memories (4.2.2, 4.2.3).
    z1: i16,
    l_z2: i32,
    mp: i16,
    /// Short-term analysis filter memory (4.2.10).
    u: [i16; 8],
    /// Decoded LARs of the previous frame and of this one (4.2.8); `j` is this frame's.
    larpp: [[i16; 8]; 2],
    j: usize,
    /// Reconstructed short-term residual: 120 past samples, then this frame's 160.
    dp0: [i16; 280],
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            z1: 0,
            l_z2: 0,
            mp: 0,
            u: [0; 8],
            larpp: [[0; 8]; 2],
            j: 0,
            dp0: [0; 280],
        }
    }
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes one frame of 160 16-bit samples.
    pub fn encode(&mut self, samples: &[i16; FRAME_SAMPLES]) -> Frame {
        let mut frame = Frame::default();
        let mut so = [0i16; FRAME_SAMPLES];
        self.preprocess(samples, &mut so);
        let lar = lpc_analysis(&mut so);
        for (c, l) in frame.larc.iter_mut().zip(lar.iter()) {
            *c = *l as u8;
        }
        self.short_term_analysis(&lar, &mut so);

        // e[0..5] and e[45..50] stay zero: the weighting filter reads 5 samples either side.
        let mut e = [0i16; 50];
        for k in 0..4 {
            let mut d = [0i16; 40];
            d.copy_from_slice(&so[k * 40..k * 40 + 40]);
            let base = 120 + k * 40;
            let dp = self.dp0[base - 120..base].try_into().expect("120 samples");
            let (nc, bc) = ltp_parameters(&d, dp);
            // Long-term analysis filtering (4.2.12): dpp and e.
            let mut dpp = [0i16; 40];
            for i in 0..40 {
                dpp[i] = mult_r(QLB[bc as usize], self.dp0[base + i - nc as usize]);
                e[5 + i] = sub(d[i], dpp[i]);
            }
            let (xmaxc, mc, xmc) = rpe_encoding(&mut e);
            for i in 0..40 {
                self.dp0[base + i] = add(e[5 + i], dpp[i]);
            }
            frame.nc[k] = nc as u8;
            frame.bc[k] = bc as u8;
            frame.mc[k] = mc as u8;
            frame.xmaxc[k] = xmaxc as u8;
            for (c, x) in frame.xmc[k].iter_mut().zip(xmc.iter()) {
                *c = *x as u8;
            }
        }
        self.dp0.copy_within(160..280, 0);
        frame
    }

    /// 4.2.1 to 4.2.3: downscaling, offset compensation, pre-emphasis.
    fn preprocess(&mut self, s: &[i16; FRAME_SAMPLES], so: &mut [i16; FRAME_SAMPLES]) {
        for (out, &sample) in so.iter_mut().zip(s.iter()) {
            let so_k = (sample >> 3) << 2;
            let s1 = so_k - self.z1;
            self.z1 = so_k;

            let mut l_s2 = (s1 as i32) << 15;
            let msp = (self.l_z2 >> 15) as i16;
            let lsp = (self.l_z2 - ((msp as i32) << 15)) as i16;
            l_s2 += mult_r(lsp, 32735) as i32;
            let l_temp = msp as i32 * 32735;
            self.l_z2 = l_temp.saturating_add(l_s2);

            let l_temp = self.l_z2.saturating_add(16384);
            let msp = mult_r(self.mp, -28180);
            self.mp = (l_temp >> 15) as i16;
            *out = add(self.mp, msp);
        }
    }

    /// 4.2.8 to 4.2.10: decoding the LARs, interpolating them, and filtering `s` in place
    /// into the short-term residual `d`.
    fn short_term_analysis(&mut self, larc: &[i16; 8], s: &mut [i16; FRAME_SAMPLES]) {
        let cur = self.j;
        self.j ^= 1;
        let prev = self.j;
        decode_lars(larc, &mut self.larpp[cur]);
        let (j, j1) = (self.larpp[cur], self.larpp[prev]);

        let mut larp = [0i16; 8];
        for i in 0..8 {
            larp[i] = add(j1[i] >> 2, j[i] >> 2);
            larp[i] = add(larp[i], j1[i] >> 1);
        }
        self.filter(larp, &mut s[0..13]);
        for i in 0..8 {
            larp[i] = add(j1[i] >> 1, j[i] >> 1);
        }
        self.filter(larp, &mut s[13..27]);
        for i in 0..8 {
            larp[i] = add(j1[i] >> 2, j[i] >> 2);
            larp[i] = add(larp[i], j[i] >> 1);
        }
        self.filter(larp, &mut s[27..40]);
        self.filter(j, &mut s[40..160]);
    }

    /// LARp → rp (4.2.9.2), then the lattice filter (4.2.10) over `s`.
    fn filter(&mut self, mut larp: [i16; 8], s: &mut [i16]) {
        for l in larp.iter_mut() {
            let temp = abs(*l);
            let r = if temp < 11059 {
                temp << 1
            } else if temp < 20070 {
                temp + 11059
            } else {
                add(temp >> 2, 26112)
            };
            *l = if *l < 0 { -r } else { r };
        }
        let rp = larp;
        // The filter memory u (4.2.10) is copied in and out so that it stays in registers
        // for the whole segment.
        let mut u = self.u;
        for sample in s.iter_mut() {
            let mut di = *sample;
            let mut sav = di;
            for i in 0..8 {
                let ui = u[i];
                u[i] = sav;
                sav = add(ui, mult_r(rp[i], di));
                di = add(di, mult_r(rp[i], ui));
            }
            *sample = di;
        }
        self.u = u;
    }
}

/// 4.2.4 to 4.2.7: autocorrelation, reflection coefficients (Schur), LARs, and their
/// quantization. Returns LARc. Leaves `s` as the autocorrelation's scaling leaves it.
fn lpc_analysis(s: &mut [i16; FRAME_SAMPLES]) -> [i16; 8] {
    let acf = autocorrelation(s);
    let mut r = reflection_coefficients(&acf);
    // 4.2.6 transformation to log area ratios.
    for v in r.iter_mut() {
        let mut temp = abs(*v);
        if temp < 22118 {
            temp >>= 1;
        } else if temp < 31130 {
            temp -= 11059;
        } else {
            temp -= 26112;
            temp <<= 2;
        }
        *v = if *v < 0 { -temp } else { temp };
    }
    // 4.2.7 quantization and coding: (A, B, MAC, MIC) per coefficient.
    const Q: [(i16, i16, i16, i16); 8] = [
        (20480, 0, 31, -32),
        (20480, 0, 31, -32),
        (20480, 2048, 15, -16),
        (20480, -2560, 15, -16),
        (13964, 94, 7, -8),
        (15360, -1792, 7, -8),
        (8534, -341, 3, -4),
        (9036, -1144, 3, -4),
    ];
    for (v, &(a, b, mac, mic)) in r.iter_mut().zip(Q.iter()) {
        let mut temp = mult(a, *v);
        temp = add(temp, b);
        temp = add(temp, 256);
        temp >>= 9;
        *v = if temp > mac {
            mac - mic
        } else if temp < mic {
            0
        } else {
            temp - mic
        };
    }
    r
}

fn autocorrelation(s: &mut [i16; FRAME_SAMPLES]) -> [i32; 9] {
    let smax = s.iter().map(|&v| abs(v)).max().unwrap_or(0);
    let scalauto = if smax == 0 {
        0
    } else {
        4 - norm((smax as i32) << 16)
    };
    if scalauto > 0 {
        let factor = 16384 >> (scalauto - 1);
        for v in s.iter_mut() {
            *v = mult_r(*v, factor);
        }
    }
    let mut acf = [0i32; 9];
    for (k, a) in acf.iter_mut().enumerate() {
        let mut sum = 0i32;
        for i in k..FRAME_SAMPLES {
            sum = sum.wrapping_add(s[i] as i32 * s[i - k] as i32);
        }
        *a = sum.wrapping_shl(1);
    }
    if scalauto > 0 {
        for v in s.iter_mut() {
            *v = v.wrapping_shl(scalauto as u32);
        }
    }
    acf
}

fn reflection_coefficients(l_acf: &[i32; 9]) -> [i16; 8] {
    let mut r = [0i16; 8];
    if l_acf[0] == 0 {
        return r;
    }
    let temp = norm(l_acf[0]);
    let mut acf = [0i16; 9];
    for (a, l) in acf.iter_mut().zip(l_acf.iter()) {
        *a = (l.wrapping_shl(temp as u32) >> 16) as i16;
    }
    let mut k = [0i16; 9];
    k[1..8].copy_from_slice(&acf[1..8]);
    let mut p = acf;
    for n in 1..=8 {
        let temp = abs(p[1]);
        if p[0] < temp {
            return r;
        }
        let mut rn = div(temp, p[0]);
        if p[1] > 0 {
            rn = -rn;
        }
        r[n - 1] = rn;
        if n == 8 {
            return r;
        }
        p[0] = add(p[0], mult_r(p[1], rn));
        for m in 1..=8 - n {
            p[m] = add(p[m + 1], mult_r(k[m], rn));
            k[m] = add(k[m], mult_r(p[m + 1], rn));
        }
    }
    r
}

/// 4.2.8: LARc → LARpp.
fn decode_lars(larc: &[i16; 8], larpp: &mut [i16; 8]) {
    // (B, MIC, INVA) per coefficient.
    const D: [(i16, i16, i16); 8] = [
        (0, -32, 13107),
        (0, -32, 13107),
        (2048, -16, 13107),
        (-2560, -16, 13107),
        (94, -8, 19223),
        (-1792, -8, 17476),
        (-341, -4, 31454),
        (-1144, -4, 29708),
    ];
    for ((out, &c), &(b, mic, inva)) in larpp.iter_mut().zip(larc.iter()).zip(D.iter()) {
        let mut temp1 = add(c, mic) << 10;
        temp1 = sub(temp1, b << 1);
        temp1 = mult_r(inva, temp1);
        *out = add(temp1, temp1);
    }
}

/// 4.2.11: LTP lag Nc (40..=120) and gain code bc for sub-frame `d`, given the 120 past
/// reconstructed residual samples `dp` (dp[119] is the newest).
fn ltp_parameters(d: &[i16; 40], dp: &[i16; 120]) -> (i16, i16) {
    let dmax = d.iter().map(|&v| abs(v)).max().unwrap_or(0);
    let temp = if dmax == 0 {
        0
    } else {
        norm((dmax as i32) << 16)
    };
    let scal = if temp > 6 { 0 } else { 6 - temp };
    let mut wt = [0i16; 40];
    for (w, &v) in wt.iter_mut().zip(d.iter()) {
        *w = v >> scal;
    }

    // The cross-correlations are summed in f32, in order, as libgsm does when built with
    // USE_FLOAT_MUL (Debian's build, which sox uses). Each product is exact (|wt| < 2^9,
    // |dp| <= 2^15), but the sums round once past 2^24, so for loud signals two lags can
    // compare differently than in the specification's exact integer sums. Any lag is a
    // valid encoding; this choice keeps our files byte-identical with sox's.
    //
    // All 81 sums are built at once, k by k, so that each is still summed in the order
    // k = 0..40 while neighbouring lags go through the processor's vector lanes together.
    // `past[m]` is dp[120 - m], so the 81 terms wt[k] * dp[120 + k - lambda] for
    // lambda = 40..=120 are the contiguous past[40 - k..121 - k].
    let mut past = [0f32; 121];
    for (p, &v) in past[1..].iter_mut().zip(dp.iter().rev()) {
        *p = v as f32;
    }
    let mut sums = [0f32; 81];
    for k in 0..40 {
        let w = wt[k] as f32;
        for (sum, &p) in sums.iter_mut().zip(&past[40 - k..121 - k]) {
            *sum += w * p;
        }
    }
    let mut l_max = 0f32;
    let mut nc = 40i16;
    for (lambda, &l_result) in (40..=120).zip(sums.iter()) {
        if l_result > l_max {
            nc = lambda;
            l_max = l_result;
        }
    }
    let mut l_max = l_max as i32;
    l_max = l_max.wrapping_shl(1);
    l_max >>= 6 - scal;

    let mut l_power = 0i32;
    for &v in &dp[120 - nc as usize..160 - nc as usize] {
        let t = (v >> 3) as i32;
        l_power = l_power.wrapping_add(t * t);
    }
    l_power = l_power.wrapping_shl(1);

    if l_max <= 0 {
        return (nc, 0);
    }
    if l_max >= l_power {
        return (nc, 3);
    }
    let temp = norm(l_power);
    let r = (l_max.wrapping_shl(temp as u32) >> 16) as i16;
    let s = (l_power.wrapping_shl(temp as u32) >> 16) as i16;
    let mut bc = 0;
    while bc <= 2 {
        if r <= mult(s, DLB[bc as usize]) {
            break;
        }
        bc += 1;
    }
    (nc, bc)
}

/// 4.2.13 to 4.2.17 on e[5..45] (e[0..5] and e[45..50] are zero): weighting filter, grid
/// selection, APCM quantization; then e[5..45] is replaced by the decoded RPE sequence.
/// Returns (xmaxc, Mc, xMc).
fn rpe_encoding(e: &mut [i16; 50]) -> (i16, i16, [i16; 13]) {
    // Weighting filter.
    let mut x = [0i16; 40];
    for (k, out) in x.iter_mut().enumerate() {
        let mut l_result: i32 = 4096;
        for (i, &h) in H.iter().enumerate() {
            l_result += e[k + i] as i32 * h;
        }
        *out = sat(l_result >> 13);
    }

    // Grid selection.
    let energy = |m: usize| -> i32 {
        let mut l = 0i32;
        for i in 0..13 {
            let t = (x[m + 3 * i] >> 2) as i32;
            l += t * t;
        }
        l << 1
    };
    let mut mc = 0usize;
    let mut em = energy(0);
    for m in 1..4 {
        let l = energy(m);
        if l > em {
            mc = m;
            em = l;
        }
    }
    let mut xm = [0i16; 13];
    for (i, v) in xm.iter_mut().enumerate() {
        *v = x[mc + 3 * i];
    }

    // APCM quantization.
    let xmax = xm.iter().map(|&v| abs(v)).max().unwrap_or(0);
    let mut exp: i16 = 0;
    let mut temp = xmax >> 9;
    let mut itest = false;
    for _ in 0..6 {
        itest |= temp <= 0;
        temp >>= 1;
        if !itest {
            exp += 1;
        }
    }
    let xmaxc = add(xmax >> (exp + 5), exp << 3);
    let (exp, mant) = xmaxc_to_exp_mant(xmaxc);
    let temp1 = 6 - exp;
    let temp2 = NRFAC[mant as usize];
    let mut xmc = [0i16; 13];
    for (c, &v) in xmc.iter_mut().zip(xm.iter()) {
        let t = v.wrapping_shl(temp1 as u32);
        let t = mult(t, temp2) >> 12;
        *c = t + 4;
    }

    // APCM inverse quantization and grid positioning.
    let temp1 = FAC[mant as usize];
    let temp2 = sub(6, exp);
    let temp3 = asl(1, sub(temp2, 1));
    for v in e[5..45].iter_mut() {
        *v = 0;
    }
    for (i, &c) in xmc.iter().enumerate() {
        let t = ((c << 1) - 7) << 12;
        let t = mult_r(temp1, t);
        let t = add(t, temp3);
        e[5 + mc + 3 * i] = asr(t, temp2);
    }
    (xmaxc, mc as i16, xmc)
}

/// 4.2.15: the exponent and mantissa of a coded block amplitude.
fn xmaxc_to_exp_mant(xmaxc: i16) -> (i16, i16) {
    let mut exp = 0;
    if xmaxc > 15 {
        exp = (xmaxc >> 3) - 1;
    }
    let mut mant = xmaxc - (exp << 3);
    if mant == 0 {
        return (-4, 7);
    }
    while mant <= 7 {
        mant = (mant << 1) | 1;
        exp -= 1;
    }
    (exp, mant - 8)
}

/// Writes bits least significant first: they gather in `pending` and leave it a byte at a
/// time.
struct BitWriter<'a> {
    out: &'a mut [u8; BLOCK_BYTES],
    at: usize,
    pending: u32,
    pending_bits: u32,
}

impl BitWriter<'_> {
    fn put(&mut self, value: u8, bits: u32) {
        self.pending |= (value as u32 & ((1 << bits) - 1)) << self.pending_bits;
        self.pending_bits += bits;
        while self.pending_bits >= 8 {
            self.out[self.at] = self.pending as u8;
            self.at += 1;
            self.pending >>= 8;
            self.pending_bits -= 8;
        }
    }

    fn frame(&mut self, f: &Frame) {
        const LAR_BITS: [u32; 8] = [6, 6, 5, 5, 4, 4, 3, 3];
        for (&v, &bits) in f.larc.iter().zip(LAR_BITS.iter()) {
            self.put(v, bits);
        }
        for k in 0..4 {
            self.put(f.nc[k], 7);
            self.put(f.bc[k], 2);
            self.put(f.mc[k], 2);
            self.put(f.xmaxc[k], 6);
            for &x in f.xmc[k].iter() {
                self.put(x, 3);
            }
        }
    }
}

/// Packs two frames into one WAV49 (Microsoft GSM 6.10) block.
pub fn pack_wav49(first: &Frame, second: &Frame) -> [u8; BLOCK_BYTES] {
    let mut out = [0u8; BLOCK_BYTES];
    let mut w = BitWriter {
        out: &mut out,
        at: 0,
        pending: 0,
        pending_bits: 0,
    };
    // 2 × 260 bits: exactly the 65 bytes, nothing left pending.
    w.frame(first);
    w.frame(second);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_counts_the_shifts_that_normalize() {
        assert_eq!(norm(0x4000_0000), 0);
        assert_eq!(norm(1), 30);
        assert_eq!(norm(0), 31);
        assert_eq!(norm(-1), 31);
        assert_eq!(norm(i32::MIN), 0);
        assert_eq!(norm(32767 << 16), 0);
        assert_eq!(norm(1 << 16), 14);
    }

    #[test]
    fn mult_saturates_only_minus_one_squared() {
        assert_eq!(mult(i16::MIN, i16::MIN), i16::MAX);
        assert_eq!(mult_r(i16::MIN, i16::MIN), i16::MAX);
        assert_eq!(mult(i16::MIN, i16::MAX), -32767);
        assert_eq!(mult_r(i16::MIN, i16::MAX), -32767);
        assert_eq!(mult(-3, 16384), -2);
        assert_eq!(mult_r(-3, 16384), -1);
        assert_eq!(mult_r(16384, 16384), 8192);
    }

    #[test]
    fn div_is_a_15_bit_fraction() {
        assert_eq!(div(1, 2), 16384);
        assert_eq!(div(1, 1), 32767);
        assert_eq!(div(0, 5), 0);
    }

    #[test]
    fn silence_encodes_to_the_known_silent_frame() {
        let mut enc = Encoder::new();
        let f = enc.encode(&[0; FRAME_SAMPLES]);
        assert_eq!(f.nc, [40; 4]);
        assert_eq!(f.xmaxc, [0; 4]);
    }
}
