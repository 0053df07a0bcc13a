//! Call quality: a MOS estimate from measured delay and loss, by the ITU-T G.107 E-model.
//!
//! The E-model rates a connection on the transmission rating scale R by subtracting impairments
//! from a best-case value:
//!
//! ```text
//! R = (Ro − Is) − Id(Ta) − Ie,eff + A
//! ```
//!
//! and maps R to an estimated mean opinion score (MOS, 1–4.5). This module evaluates it with
//! G.107's default values for everything a softphone cannot measure (loudness ratings, room
//! noise, echo loss, sidetone), and with the measured one-way delay, jitter-buffer delay, packet
//! loss and loss burstiness. It is a planning-grade estimate for a call-quality indicator, not a
//! perceptual measurement.
//!
//! # Narrowband and wideband on one scale
//!
//! G.711 is rated with the narrowband model (G.107), whose clean-channel value is R = 93.2.
//! G.722 and Opus are rated with the wideband model (G.107.1), whose scale extends to R = 129.
//! The wideband scale is an *extension* of the narrowband one: a narrowband G.711 connection sits
//! near R = 93 on both, and wideband codecs rate above it. So [`r_factor`] returns R on that
//! extended scale (0..=129) for every codec, and [`mos`] applies G.107's R→MOS mapping, under
//! which everything from R = 100 up is MOS 4.5.
//!
//! The other convention in use, dividing wideband R by 1.29 to squeeze 0..=129 into 0..=100, is
//! only consistent if narrowband results are divided too (clean G.711 would then read about
//! 3.7). Dividing only the wideband ones mixes the two scales and ranks a clean G.722 call
//! (129 − 13 = 116 → 89.9 → MOS 4.34) *below* a clean G.711 call (MOS 4.41), the opposite of
//! what listeners report, so it is not used here.
//!
//! # Delay impairment
//!
//! Id is computed with G.107's own formulas (§7.3: talker echo Idte, listener echo Idle and
//! absolute delay Idd) at their default parameters, taking the echo-path delay T and the absolute
//! delay Ta both equal to one-way delay + jitter buffer, and the listener-echo round trip Tr =
//! 2·Ta. The popular linear simplification of Cole and Rosenbluth (2001),
//! `Id ≈ 0.024·Ta + 0.11·(Ta − 177.3)·H(Ta − 177.3)`, is a fit to exactly these formulas and
//! agrees within about one R point up to 300 ms (a test checks this), but it keeps growing
//! linearly where G.107 levels off: at 500 ms it overstates Id by about 9 and at 800 ms by 37,
//! which is precisely the range where a quality indicator must still rank bad calls sensibly.
//! The full formulas cost a handful of floating-point operations per evaluation.

use crate::codec::CodecKind;

/// What [`r_factor`] and [`mos`] rate a call on. Out-of-range values are clamped, never trusted:
/// negative or NaN delays and loss count as 0, loss above 100 % as 100 %, a burst ratio below 1
/// or NaN as 1 (random loss).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityInput {
    /// The codec in use; it decides the narrowband or wideband model and the codec constants.
    pub codec: CodecKind,
    /// Mouth-to-ear delay outside the jitter buffer, in milliseconds: network one-way delay
    /// (e.g. RTCP round-trip time / 2) plus packetization and codec delay if known.
    pub one_way_delay_ms: f64,
    /// Packet loss as seen by the decoder, in percent (0..=100), late packets included.
    pub packet_loss_pct: f64,
    /// G.107's BurstR: 1.0 for random loss, above 1 for bursty loss (mean observed burst length
    /// divided by the burst length random loss at the same rate would give).
    pub burst_ratio: f64,
    /// Current jitter-buffer delay (with the audio queued for the speaker), in milliseconds;
    /// it adds to the one-way delay.
    pub jitter_buffer_ms: f64,
}

impl QualityInput {
    /// A clean call with `codec`: no delay, no loss.
    pub fn clean(codec: CodecKind) -> Self {
        Self {
            codec,
            one_way_delay_ms: 0.0,
            packet_loss_pct: 0.0,
            burst_ratio: 1.0,
            jitter_buffer_ms: 0.0,
        }
    }
}

// --- Rating scales -------------------------------------------------------------------------

/// Narrowband rating of a connection with every G.107 parameter at its default value:
/// Ro 94.77 − Is 1.41 − Id(0) 0.15 = 93.2 (ITU-T G.107, the default-values table and the note
/// that these defaults give R = 93.2). Because it already contains the zero-delay Id, the delay
/// term below is the increase of Id over its zero-delay value.
const R_DEFAULT_NB: f64 = 93.2;
/// Wideband basic signal-to-noise ratio, the top of the extended scale (ITU-T G.107.1, Ro = 129).
const RO_WB: f64 = 129.0;
/// Advantage factor A: 0 for conventional wirebound/VoIP access (ITU-T G.107 §7.5, table of
/// provisional A values). A softphone user gets no "mobility bonus".
const ADVANTAGE: f64 = 0.0;
/// The 95 in the narrowband Ie,eff formula, the loss impairment that wipes out a clean channel
/// (ITU-T G.107 §7.4). The wideband model uses its Ro, 129, in the same place (G.107.1).
const LOSS_SCALE_NB: f64 = 95.0;

// --- G.107 default parameters used by the delay impairment Id (§7.3, default-values table) --

/// Ro at the default parameters, 15 − 1.5·(SLR + No) with SLR = 8 dB and the default noise floor
/// No = −61.18 dBm0p. It also equals Roe = −1.5·(No − RLR) with RLR = 2 dB, the talker-echo
/// reference in Idte.
const RO_NB: f64 = 94.77;
/// Talker echo loudness rating TELR, dB (default 65: a working echo canceller).
const TELR_DB: f64 = 65.0;
/// Weighted echo path loss WEPL, dB (default 110), for listener echo.
const WEPL_DB: f64 = 110.0;
/// mA, the delay in ms below which absolute delay does not impair (default 100, with sT = 1).
const MA_MS: f64 = 100.0;

/// Delays above this (one minute) are treated as this, keeping the arithmetic tame; the
/// result is MOS 1 long before.
const MAX_DELAY_MS: f64 = 60_000.0;
/// Burst ratios above this are treated as this; loss that bursty has long since driven R to 0.
const MAX_BURST_RATIO: f64 = 1_000.0;

/// Per-codec E-model constants.
#[derive(Debug, Clone, Copy)]
struct CodecModel {
    /// Rated on the wideband (G.107.1) scale.
    wideband: bool,
    /// Equipment impairment Ie (narrowband) or Ie,wb (wideband) without loss.
    ie: f64,
    /// Packet-loss robustness factor Bpl.
    bpl: f64,
}

fn codec_model(codec: CodecKind) -> CodecModel {
    match codec {
        // G.711 (64 kbit/s PCM): Ie = 0 (ITU-T G.113 Appendix I, equipment impairment table),
        // Bpl = 25.1 with the packet loss concealment of G.711 Appendix I under random loss
        // (G.113 Appendix I, packet-loss robustness table).
        CodecKind::Pcmu | CodecKind::Pcma => CodecModel {
            wideband: false,
            ie: 0.0,
            bpl: 25.1,
        },
        // G.722 at 64 kbit/s: Ie,wb = 13, the wideband planning value of G.113 (Amd. 1, wideband
        // equipment impairment factors) also quoted with G.107.1. Bpl = 15 is a planning estimate
        // for G.722 with its PLC (G.722 Appendix III/IV): the middle of the 10–20 range usually
        // quoted, not a normative value.
        CodecKind::G722 => CodecModel {
            wideband: true,
            ie: 13.0,
            bpl: 15.0,
        },
        // Opus (RFC 6716) is not in G.113. Ie,wb = 10 and Bpl = 20 are planning estimates for
        // Opus in wideband/fullband voice mode at typical VoIP rates with its PLC and in-band FEC:
        // slightly better than G.722 when clean and more robust to loss. Opus's fullband output
        // would belong on the G.107.2 fullband scale; rating it as wideband is conservative.
        CodecKind::Opus => CodecModel {
            wideband: true,
            ie: 10.0,
            bpl: 20.0,
        },
    }
}

/// A finite value in `lo..=hi`; NaN becomes `lo`.
fn clamp_input(value: f64, lo: f64, hi: f64) -> f64 {
    if value.is_nan() {
        lo
    } else {
        value.clamp(lo, hi)
    }
}

/// G.107's delay impairment Id = Idte + Idle + Idd at default parameters, for a one-way delay of
/// `t` ms (T = Ta = t, Tr = 2t). See the module docs for why the full formulas are used.
fn id_g107(t: f64) -> f64 {
    // Talker echo (§7.3, Idte). TERV: the echo's rating, TELR corrected for delay (and, at very
    // short delays, for being masked by sidetone).
    let terv = TELR_DB - 40.0 * ((1.0 + t / 10.0) / (1.0 + t / 150.0)).log10()
        + 6.0 * (-0.3 * t * t).exp();
    let re = 80.0 + 2.5 * (terv - 14.0);
    let d = RO_NB - re;
    let idte = (d / 2.0 + (d * d / 4.0 + 100.0).sqrt() - 1.0) * (1.0 - (-t).exp());

    // Listener echo (§7.3, Idle), round trip Tr = 2T.
    let rle = 10.5 * (WEPL_DB + 7.0) * (2.0 * t + 1.0).powf(-0.25);
    let e = RO_NB - rle;
    let idle = e / 2.0 + (e * e / 4.0 + 169.0).sqrt();

    // Absolute delay (§7.3, Idd), zero up to mA.
    let idd = if t > MA_MS {
        let x = (t / MA_MS).log2();
        25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
            + 2.0)
    } else {
        0.0
    };
    idte + idle + idd
}

/// Delay impairment on top of what [`R_DEFAULT_NB`] already includes: Id(Ta) − Id(0), never
/// negative. (G.107's sidetone-masking term makes Id dip by up to 0.06 between 0 and 2 ms; the
/// floor keeps the rating monotonic in delay.)
fn delay_impairment(ta_ms: f64) -> f64 {
    (id_g107(ta_ms) - id_g107(0.0)).max(0.0)
}

/// The effective equipment impairment under loss (G.107 §7.4; G.107.1 for wideband with its Ro
/// in place of 95):
/// `Ie,eff = Ie + (scale − Ie) · Ppl / (Ppl / BurstR + Bpl)`, capped at `scale`.
fn ie_eff(model: CodecModel, loss_pct: f64, burst_ratio: f64) -> f64 {
    let scale = if model.wideband { RO_WB } else { LOSS_SCALE_NB };
    let ie = model.ie + (scale - model.ie) * loss_pct / (loss_pct / burst_ratio + model.bpl);
    ie.min(scale)
}

/// The transmission rating R of a call, on the extended scale 0..=129 (narrowband calls reach at
/// most 93.2, wideband ones 129 − Ie,wb; see the module docs). Never NaN.
pub fn r_factor(input: &QualityInput) -> f64 {
    let model = codec_model(input.codec);
    let delay = clamp_input(input.one_way_delay_ms, 0.0, MAX_DELAY_MS)
        + clamp_input(input.jitter_buffer_ms, 0.0, MAX_DELAY_MS);
    let loss = clamp_input(input.packet_loss_pct, 0.0, 100.0);
    let burst = clamp_input(input.burst_ratio, 1.0, MAX_BURST_RATIO);

    let top = if model.wideband { RO_WB } else { R_DEFAULT_NB };
    let r = top - delay_impairment(delay) - ie_eff(model, loss, burst) + ADVANTAGE;
    clamp_input(r, 0.0, RO_WB)
}

/// The estimated MOS (1.0..=4.5) of a call: [`r_factor`] through [`mos_from_r`].
pub fn mos(input: &QualityInput) -> f64 {
    mos_from_r(r_factor(input))
}

/// G.107 Annex B's mapping from R to MOS: 1 for R < 0, 4.5 for R > 100, else
/// `1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶`. The polynomial dips just below 1 for
/// 0 < R < 6.5; the result is clamped to 1.0..=4.5 (so it never decreases as R grows). NaN in,
/// 1.0 out.
pub fn mos_from_r(r: f64) -> f64 {
    if r.is_nan() || r <= 0.0 {
        return 1.0;
    }
    if r >= 100.0 {
        return 4.5;
    }
    let mos = 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6;
    mos.clamp(1.0, 4.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CodecKind; 4] = [
        CodecKind::Pcmu,
        CodecKind::Pcma,
        CodecKind::G722,
        CodecKind::Opus,
    ];

    fn with(codec: CodecKind, delay: f64, loss: f64, burst: f64, jitter: f64) -> QualityInput {
        QualityInput {
            codec,
            one_way_delay_ms: delay,
            packet_loss_pct: loss,
            burst_ratio: burst,
            jitter_buffer_ms: jitter,
        }
    }

    #[test]
    fn clean_g711_is_r_93_2() {
        for codec in [CodecKind::Pcmu, CodecKind::Pcma] {
            let clean = QualityInput::clean(codec);
            assert!((r_factor(&clean) - 93.2).abs() < 1e-9);
            let m = mos(&clean);
            assert!((m - 4.41).abs() < 0.01, "{m}");
        }
    }

    #[test]
    fn r_to_mos_reference_points() {
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(0.0), 1.0);
        assert_eq!(mos_from_r(3.0), 1.0); // the polynomial's dip below 1
        assert_eq!(mos_from_r(100.0), 4.5);
        assert_eq!(mos_from_r(129.0), 4.5);
        assert_eq!(mos_from_r(f64::NAN), 1.0);
        assert_eq!(mos_from_r(f64::INFINITY), 4.5);
        assert!((mos_from_r(50.0) - 2.575).abs() < 1e-9);
        assert!((mos_from_r(93.2) - 4.4093).abs() < 1e-3);
        let mut previous = 1.0;
        for i in 0..=1200 {
            let m = mos_from_r(f64::from(i) / 10.0);
            assert!((1.0..=4.5).contains(&m));
            assert!(m >= previous, "R {}", f64::from(i) / 10.0);
            previous = m;
        }
    }

    #[test]
    fn mos_falls_monotonically_with_loss() {
        for codec in ALL {
            for burst in [1.0, 2.5] {
                let mut previous_r = f64::INFINITY;
                let mut previous_mos = f64::INFINITY;
                for step in 0..=200 {
                    let input = with(codec, 40.0, f64::from(step) / 4.0, burst, 40.0);
                    let (r, m) = (r_factor(&input), mos(&input));
                    // Strictly falling until R bottoms out at 0.
                    assert!(
                        r < previous_r || (r == 0.0 && previous_r == 0.0),
                        "{codec:?} {}%",
                        input.packet_loss_pct
                    );
                    assert!(m <= previous_mos, "{codec:?} {}%", input.packet_loss_pct);
                    previous_r = r;
                    previous_mos = m;
                }
            }
        }
        // Below the saturation at 4.5 the MOS itself strictly falls.
        let g711 = |loss| mos(&with(CodecKind::Pcmu, 0.0, loss, 1.0, 0.0));
        assert!(g711(0.0) > g711(0.5) && g711(0.5) > g711(1.0) && g711(1.0) > g711(10.0));
    }

    #[test]
    fn mos_falls_monotonically_with_delay() {
        for codec in ALL {
            let mut previous_r = f64::INFINITY;
            let mut previous_mos = f64::INFINITY;
            for ms in 0..=2000 {
                let input = with(codec, f64::from(ms), 1.0, 1.0, 0.0);
                let (r, m) = (r_factor(&input), mos(&input));
                assert!(r <= previous_r, "{codec:?} {ms} ms");
                assert!(m <= previous_mos, "{codec:?} {ms} ms");
                previous_r = r;
                previous_mos = m;
            }
        }
        // Strictly, in steps that matter.
        let g711 = |ms| r_factor(&with(CodecKind::Pcma, ms, 0.0, 1.0, 0.0));
        let points = [10.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 1000.0];
        assert!(points.windows(2).all(|w| g711(w[0]) > g711(w[1])));
        assert!(mos(&with(CodecKind::Pcma, 400.0, 0.0, 1.0, 0.0)) < 4.0);
    }

    #[test]
    fn jitter_buffer_counts_as_delay() {
        for codec in ALL {
            let a = r_factor(&with(codec, 100.0, 2.0, 1.0, 60.0));
            let b = r_factor(&with(codec, 160.0, 2.0, 1.0, 0.0));
            assert!((a - b).abs() < 1e-9);
        }
    }

    #[test]
    fn five_percent_random_loss_on_g711() {
        // Ie,eff = 95 · 5 / (5 + 25.1) = 15.78, so R = 77.42 and MOS ≈ 3.92: "fair to good".
        let input = with(CodecKind::Pcmu, 0.0, 5.0, 1.0, 0.0);
        let r = r_factor(&input);
        assert!((r - 77.42).abs() < 0.01, "{r}");
        let m = mos(&input);
        assert!((3.85..=4.0).contains(&m), "{m}");
        assert!(mos(&QualityInput::clean(CodecKind::Pcmu)) - m > 0.4);
    }

    #[test]
    fn bursty_loss_is_worse_than_random() {
        for codec in ALL {
            for loss in [1.0, 3.0, 5.0, 10.0] {
                let random = r_factor(&with(codec, 50.0, loss, 1.0, 40.0));
                let bursty = r_factor(&with(codec, 50.0, loss, 2.0, 40.0));
                let very = r_factor(&with(codec, 50.0, loss, 4.0, 40.0));
                assert!(random > bursty && bursty > very, "{codec:?} {loss}%");
            }
        }
        // And on the MOS scale where it is not saturated.
        let m = |burst| mos(&with(CodecKind::Pcmu, 0.0, 5.0, burst, 0.0));
        assert!(m(1.0) > m(2.0));
    }

    #[test]
    fn wideband_codecs_rate_at_least_as_well_as_g711() {
        let g711 = QualityInput::clean(CodecKind::Pcmu);
        for codec in [CodecKind::G722, CodecKind::Opus] {
            let clean = QualityInput::clean(codec);
            assert!(r_factor(&clean) > r_factor(&g711), "{codec:?}");
            assert!(mos(&clean) >= mos(&g711), "{codec:?}");
            // Also under the same moderate network conditions.
            let net = with(codec, 80.0, 2.0, 1.0, 40.0);
            let g711_net = with(CodecKind::Pcmu, 80.0, 2.0, 1.0, 40.0);
            assert!(mos(&net) >= mos(&g711_net), "{codec:?}");
        }
        assert!((r_factor(&QualityInput::clean(CodecKind::G722)) - 116.0).abs() < 1e-9);
        assert!((r_factor(&QualityInput::clean(CodecKind::Opus)) - 119.0).abs() < 1e-9);
    }

    #[test]
    fn hopeless_and_malformed_inputs_stay_in_range() {
        let weird = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            -1e300,
            0.0,
            1e-300,
            50.0,
            150.0,
            1e6,
            f64::MAX,
        ];
        for codec in ALL {
            for &delay in &weird {
                for &loss in &weird {
                    for &burst in &weird {
                        for jitter in [f64::NAN, 0.0, 1e9] {
                            let input = with(codec, delay, loss, burst, jitter);
                            let r = r_factor(&input);
                            let m = mos(&input);
                            assert!(r.is_finite() && (0.0..=RO_WB).contains(&r), "{input:?}");
                            assert!((1.0..=4.5).contains(&m), "{input:?} -> {m}");
                        }
                    }
                }
            }
            // Total loss: G.107's loss formula, fitted for realistic loss rates, still leaves
            // R ≈ 15–17 at 100 %, i.e. MOS ≈ 1.1–1.2; loss above 100 % counts as 100 %.
            let total = mos(&with(codec, 0.0, 100.0, 1.0, 0.0));
            assert!(total < 1.25, "{codec:?} {total}");
            assert_eq!(mos(&with(codec, 0.0, 250.0, 1.0, 0.0)), total);
            // Bursty heavy loss or a minute of delay: the floor.
            assert_eq!(mos(&with(codec, 0.0, 40.0, 4.0, 0.0)), 1.0);
            assert_eq!(mos(&with(codec, 60_000.0, 30.0, 3.0, 500.0)), 1.0);
            // NaN and negative inputs are the clean call.
            let clean = mos(&QualityInput::clean(codec));
            assert_eq!(mos(&with(codec, f64::NAN, -3.0, f64::NAN, -1.0)), clean);
        }
    }

    #[test]
    fn delay_impairment_agrees_with_the_common_linear_fit() {
        // Cole & Rosenbluth's fit of G.107's Id at default parameters.
        let linear = |ta: f64| 0.024 * ta + if ta > 177.3 { 0.11 * (ta - 177.3) } else { 0.0 };
        for ms in 0..=300 {
            let ta = f64::from(ms);
            let d = delay_impairment(ta) - linear(ta);
            assert!(d.abs() < 1.5, "{ms} ms: {}", delay_impairment(ta));
        }
        assert_eq!(delay_impairment(0.0), 0.0);
        assert!((delay_impairment(150.0) - 3.67).abs() < 0.05);
        assert!((delay_impairment(300.0) - 20.54).abs() < 0.05);
        // G.107 levels off where the linear fit does not.
        assert!(delay_impairment(800.0) < linear(800.0) - 30.0);
    }
}
