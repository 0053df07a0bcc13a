//! Deterministic checks of the processing on synthetic signals (no sound devices, no files).
//! The figures asserted are the ones `examples/erle.rs` measures, with margin.

use super::synth::{self, EchoPath};
use super::*;

const FRAME_MS: usize = 20;
const MIC_NOISE_DBFS: f64 = -60.0;

fn frame_len(rate: u32) -> usize {
    rate as usize * FRAME_MS / 1000
}

fn echo_only() -> ProcessingConfig {
    ProcessingConfig {
        echo_cancellation: true,
        noise_suppression: false,
        auto_gain: false,
    }
}

fn ns_only() -> ProcessingConfig {
    ProcessingConfig {
        echo_cancellation: false,
        noise_suppression: true,
        auto_gain: false,
    }
}

/// Plays `far` and records `mic` frame by frame, as the media thread does; returns the output.
fn run(p: &mut AudioProcessor, far: &[f32], mic: &[f32]) -> Vec<f32> {
    let frame = frame_len(p.rate());
    let mut out = mic.to_vec();
    for (f, m) in far.chunks_exact(frame).zip(out.chunks_exact_mut(frame)) {
        p.render(f).expect("render");
        p.capture(m).expect("capture");
    }
    out
}

struct EchoScene {
    far: Vec<f32>,
    echo: Vec<f32>,
    mic: Vec<f32>,
}

/// `seconds` of synthetic far-end speech, its echo through a desk-like path after
/// `delay_ms`, and the microphone: the echo plus a little noise.
fn echo_scene(rate: u32, seconds: f64, delay_ms: u32) -> EchoScene {
    let far = synth::speech_like(rate, seconds, 1);
    let echo = EchoPath::desk(rate, delay_ms).apply(&far);
    let noise = synth::white_noise(far.len(), MIC_NOISE_DBFS, 7);
    let mic = echo.iter().zip(&noise).map(|(e, n)| e + n).collect();
    EchoScene { far, echo, mic }
}

/// ERLE over the last five seconds: echo at the microphone over what is left of it.
fn erle_last_5s(rate: u32, echo: &[f32], out: &[f32]) -> f64 {
    let tail = echo.len() - 5 * rate as usize..;
    synth::ratio_db(
        synth::energy(&echo[tail.clone()]),
        synth::energy(&out[tail]),
    )
}

#[test]
fn echo_path_and_signals_are_what_the_figures_assume() {
    let path = EchoPath::desk(48_000, 40);
    assert_eq!(path.delay, 1920);
    assert!((path.gain_db() + 10.0).abs() < 0.2, "{}", path.gain_db());
    let a = synth::speech_like(48_000, 2.0, 1);
    assert_eq!(
        a,
        synth::speech_like(48_000, 2.0, 1),
        "seeded: the same every run"
    );
    assert_ne!(a, synth::speech_like(48_000, 2.0, 2));
    assert!(a.iter().all(|s| s.abs() <= 0.9));
    let rms = (synth::energy(&a) / a.len() as f64).sqrt();
    assert!((0.02..0.1).contains(&rms), "speech RMS {rms}");
}

/// The canceller on 10 s of far-end speech with its echo 40 ms later: measured 33.7 dB over
/// the last 5 s (the microphone noise at -60 dBFS bounds it near 35 dB).
#[test]
fn canceller_removes_a_40ms_echo() {
    let rate = 48_000;
    let s = echo_scene(rate, 10.0, 40);
    let mut p = AudioProcessor::new(echo_only(), rate).expect("processor");
    let out = run(&mut p, &s.far, &s.mic);
    let erle = erle_last_5s(rate, &s.echo, &out);
    assert!(erle > 25.0, "ERLE {erle:.1} dB");

    let stats = p.stats();
    assert_eq!(stats.render_frames, 500);
    assert_eq!(stats.capture_frames, 500);
    assert_eq!((stats.rejected_frames, stats.failed_blocks), (0, 0));
    assert!(stats.echo_return_loss_enhancement_db.is_some(), "{stats:?}");
    let delay = stats.echo_delay_ms.expect("a delay estimate");
    assert!((25..=55).contains(&delay), "estimated delay {delay} ms");
    assert_eq!(stats.voice_probability, None, "NS is off");
}

/// 120 ms is still within the extended filter's reach from the start (measured 34.4 dB).
#[test]
fn canceller_removes_a_120ms_echo() {
    let rate = 48_000;
    let s = echo_scene(rate, 10.0, 120);
    let mut p = AudioProcessor::new(echo_only(), rate).expect("processor");
    let out = run(&mut p, &s.far, &s.mic);
    let erle = erle_last_5s(rate, &s.echo, &out);
    assert!(erle > 25.0, "ERLE {erle:.1} dB");
}

/// 250 ms is beyond it until the module re-aligns itself after 15 s; a 200 ms hint brings it
/// back within reach from the start (measured 34.5 dB, against ~4 dB without the hint).
#[test]
fn a_delay_hint_brings_a_250ms_echo_within_reach() {
    let rate = 48_000;
    let s = echo_scene(rate, 10.0, 250);
    let mut p = AudioProcessor::new(echo_only(), rate).expect("processor");
    p.set_echo_delay_hint(200);
    assert_eq!(p.echo_delay_hint(), 200);
    let out = run(&mut p, &s.far, &s.mic);
    let erle = erle_last_5s(rate, &s.echo, &out);
    assert!(erle > 25.0, "ERLE {erle:.1} dB");

    p.set_echo_delay_hint(10_000);
    assert_eq!(p.echo_delay_hint(), MAX_ECHO_DELAY_HINT_MS);
}

/// At 16 kHz the blocks go through 48 kHz and back (measured 30.2 dB).
#[test]
fn canceller_works_at_16khz() {
    let rate = 16_000;
    let s = echo_scene(rate, 10.0, 40);
    let mut p = AudioProcessor::new(echo_only(), rate).expect("processor");
    let out = run(&mut p, &s.far, &s.mic);
    let erle = erle_last_5s(rate, &s.echo, &out);
    assert!(erle > 22.0, "ERLE {erle:.1} dB");
}

/// Double talk: after 5 s of far end alone, a different talker at the near end, ~4 dB over
/// the echo. The output follows the near-end talker (measured: correlation 0.71, output
/// energy -6.1 dB of the near end's) and not the echo (correlation 0.002, against ~0.5 at
/// the microphone).
#[test]
fn near_end_speech_survives_double_talk() {
    let rate = 48_000;
    let seconds = 10.0;
    let s = echo_scene(rate, seconds, 40);
    let n = s.far.len();
    let mut near = synth::speech_like(rate, seconds, 2);
    near[..n / 2].iter_mut().for_each(|x| *x = 0.0);
    near.iter_mut().for_each(|x| *x *= 0.5);
    let mic: Vec<f32> = s.mic.iter().zip(&near).map(|(m, v)| m + v).collect();
    let mut p = AudioProcessor::new(echo_only(), rate).expect("processor");
    let out = run(&mut p, &s.far, &mic);

    let r = n / 2 + rate as usize / 2..n - rate as usize / 2;
    let second = r.start..r.start + rate as usize;
    let lag = synth::best_lag(&out, &near, second, 1000);
    assert!(
        lag < 960,
        "the canceller delays the microphone by {lag} samples"
    );
    let o = &out[r.start + lag..r.end + lag];
    let (v, e) = (&near[r.clone()], &s.echo[r.clone()]);
    let with_near = synth::correlation(o, v);
    let with_echo = synth::correlation(o, e);
    let kept = synth::ratio_db(synth::energy(o), synth::energy(v));
    assert!(
        with_near > 0.55,
        "correlation with the near end {with_near:.3}"
    );
    assert!(
        with_echo.abs() < 0.1,
        "correlation with the echo {with_echo:.3}"
    );
    assert!(kept > -10.0, "near end kept at {kept:.1} dB");
}

/// Everything off: the microphone comes out bit for bit, at the native rate and below it,
/// and again after switching off mid-call.
#[test]
fn everything_off_is_bit_exact() {
    for rate in [48_000, 8000] {
        let s = echo_scene(rate, 2.0, 40);
        let mut p = AudioProcessor::new(ProcessingConfig::OFF, rate).expect("processor");
        assert_eq!(run(&mut p, &s.far, &s.mic), s.mic, "{rate} Hz");

        let mut p = AudioProcessor::new(ProcessingConfig::default(), rate).expect("processor");
        let half = s.far.len() / 2;
        let _ = run(&mut p, &s.far[..half], &s.mic[..half]);
        p.set_config(ProcessingConfig::OFF);
        assert_eq!(
            run(&mut p, &s.far[half..], &s.mic[half..]),
            s.mic[half..],
            "{rate} Hz, switched off"
        );
    }
}

/// RNNoise on white noise at -40 dBFS with a 440 Hz tone in every other second: the noise
/// alone drops by 25 dB (measured); the tone passes (it looks voiced) with its noise
/// (measured: -0.1 dB).
#[test]
fn noise_suppression_removes_steady_noise() {
    let rate = 48_000u32;
    let sec = rate as usize;
    let seconds = 6;
    let noise = synth::white_noise(seconds * sec, -40.0, 11);
    let tone = synth::tone(rate, 440.0, 0.1, seconds * sec);
    let tone_on = |i: usize| (i / sec) % 2 == 1;
    let input: Vec<f32> = (0..seconds * sec)
        .map(|i| noise[i] + if tone_on(i) { tone[i] } else { 0.0 })
        .collect();
    let silence = vec![0.0; input.len()];
    let mut p = AudioProcessor::new(ns_only(), rate).expect("processor");
    let out = run(&mut p, &silence, &input);

    // RNNoise delays by one 10 ms block; skip the edges of each second and the first two.
    let lag = 480;
    let energies = |on: bool| {
        (2..seconds)
            .filter(|s| (s % 2 == 1) == on)
            .fold((0.0, 0.0), |(a, b), s| {
                let r = s * sec + 2 * lag..(s + 1) * sec - lag;
                (
                    a + synth::energy(&input[r.clone()]),
                    b + synth::energy(&out[r.start + lag..r.end + lag]),
                )
            })
    };
    let (noise_in, noise_out) = energies(false);
    let reduction = synth::ratio_db(noise_in, noise_out);
    assert!(reduction >= 15.0, "noise reduced by {reduction:.1} dB");
    let (tone_in, tone_out) = energies(true);
    let change = synth::ratio_db(tone_out, tone_in);
    assert!(change > -3.0, "the tone changed by {change:.1} dB");
    assert!(p.stats().voice_probability.is_some());
}

/// Noise suppression runs at every supported rate, through 48 kHz (measured: 31 dB less
/// noise at 8 kHz).
#[test]
fn noise_suppression_works_at_8khz() {
    let rate = 8000u32;
    let input = synth::white_noise(3 * rate as usize, -40.0, 5);
    let silence = vec![0.0; input.len()];
    let mut p = AudioProcessor::new(ns_only(), rate).expect("processor");
    let out = run(&mut p, &silence, &input);
    let r = rate as usize..3 * rate as usize;
    let reduction = synth::ratio_db(synth::energy(&input[r.clone()]), synth::energy(&out[r]));
    assert!(reduction >= 15.0, "noise reduced by {reduction:.1} dB");
}

/// Frames that are not whole 10 ms blocks are refused, untouched, with a readable error.
#[test]
fn odd_frames_are_refused_without_panicking() {
    let mut p = AudioProcessor::new(ProcessingConfig::default(), 48_000).expect("processor");
    let mut seven = [0.25f32; 7];
    let err = p.capture(&mut seven).expect_err("7 samples");
    assert_eq!(
        err,
        ProcessingError::FrameLength {
            side: "microphone",
            len: 7,
            rate: 48_000,
            block: 480
        }
    );
    assert!(
        err.to_string()
            .contains("not a whole number of 10 ms blocks"),
        "{err}"
    );
    assert_eq!(seven, [0.25; 7]);
    assert!(p.render(&[0.0; 7]).is_err());
    assert!(p.capture(&mut []).is_err());
    assert!(p.render(&[]).is_err());
    assert!(p.capture(&mut vec![0.0; 481]).is_err());
    let stats = p.stats();
    assert_eq!(stats.rejected_frames, 5);
    assert_eq!((stats.render_frames, stats.capture_frames), (2, 3));

    // 10 and 30 ms are whole blocks.
    assert!(p.render(&[0.0; 480]).is_ok());
    assert!(p.capture(&mut [0.0; 480]).is_ok());
    assert!(p.render(&vec![0.0; 1440]).is_ok());
    assert!(p.capture(&mut vec![0.0; 1440]).is_ok());

    // At 8 kHz a block is 80 samples.
    let mut p = AudioProcessor::new(ProcessingConfig::default(), 8000).expect("processor");
    assert_eq!(p.block_len(), 80);
    assert!(p.capture(&mut [0.0; 160]).is_ok());
    assert!(p.capture(&mut [0.0; 100]).is_err());
}

/// NaN, infinities and samples beyond full scale come out finite and in range.
#[test]
fn non_finite_and_loud_samples_do_not_break_it() {
    for rate in [48_000, 16_000] {
        let frame = frame_len(rate);
        let mut p = AudioProcessor::new(ProcessingConfig::default(), rate).expect("processor");
        let mut odd: Vec<f32> = (0..frame)
            .map(|i| match i % 4 {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => -7.0,
                _ => 0.5,
            })
            .collect();
        for _ in 0..20 {
            p.render(&odd).expect("render");
            p.capture(&mut odd).expect("capture");
            assert!(
                odd.iter().all(|s| s.is_finite() && s.abs() <= 1.0),
                "{rate} Hz"
            );
        }
        // And it still works afterwards.
        let mut quiet = vec![0.01f32; frame];
        p.capture(&mut quiet).expect("capture");
        assert!(quiet.iter().all(|s| s.is_finite()));
    }
}

#[test]
fn only_the_supported_rates_are_taken() {
    for rate in SUPPORTED_RATES {
        let p = AudioProcessor::new(ProcessingConfig::default(), rate).expect("processor");
        assert_eq!(p.block_len(), rate as usize / 100);
    }
    for rate in [0, 11_025, 22_050, 44_100, 96_000] {
        let err = AudioProcessor::new(ProcessingConfig::default(), rate).expect_err("rate");
        assert_eq!(err, ProcessingError::UnsupportedRate { rate });
        assert!(err.to_string().contains("48000 Hz"), "{err}");
    }
}

/// Features switch on and off mid-call without errors; the stats follow.
#[test]
fn features_switch_mid_call() {
    let rate = 48_000;
    let s = echo_scene(rate, 6.0, 40);
    let mut p = AudioProcessor::new(ProcessingConfig::OFF, rate).expect("processor");
    let sec = rate as usize;
    let configs = [
        ProcessingConfig::default(),
        echo_only(),
        ns_only(),
        ProcessingConfig {
            auto_gain: true,
            ..ProcessingConfig::default()
        },
        ProcessingConfig {
            echo_cancellation: false,
            noise_suppression: false,
            auto_gain: true,
        },
        ProcessingConfig::default(),
    ];
    for (i, config) in configs.into_iter().enumerate() {
        p.set_config(config);
        assert_eq!(p.config(), config);
        let r = i * sec..(i + 1) * sec;
        let out = run(&mut p, &s.far[r.clone()], &s.mic[r]);
        assert!(out.iter().all(|x| x.is_finite()));
        let stats = p.stats();
        assert_eq!(stats.failed_blocks, 0, "{config:?}");
        assert_eq!(
            stats.voice_probability.is_some(),
            config.noise_suppression,
            "{config:?}"
        );
        if !config.echo_cancellation {
            assert_eq!(stats.echo_return_loss_enhancement_db, None, "{config:?}");
        }
    }
}

#[test]
fn config_is_camel_case_json_with_defaults() {
    let default = ProcessingConfig::default();
    assert!(default.echo_cancellation && default.noise_suppression && !default.auto_gain);
    let json = serde_json::to_string(&default).expect("json");
    assert_eq!(
        json,
        r#"{"echoCancellation":true,"noiseSuppression":true,"autoGain":false}"#
    );
    let partial: ProcessingConfig = serde_json::from_str(r#"{"autoGain":true}"#).expect("partial");
    assert_eq!(
        partial,
        ProcessingConfig {
            auto_gain: true,
            ..default
        }
    );
    let stats = serde_json::to_value(ProcessingStats::default()).expect("json");
    assert!(
        stats.get("echoReturnLossEnhancementDb").is_some(),
        "{stats}"
    );
}

/// The crate shows the module's error code only in its message; it is read from there.
#[test]
fn library_error_codes_read_and_explained() {
    struct Fake(&'static str);
    impl std::fmt::Display for Fake {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    let code = echo::error_code(&Fake("ffi::AudioProcessing::Error code: -8"));
    assert_eq!(code, Some(-8));
    assert_eq!(echo::meaning(code), "a block of the wrong length");
    assert_eq!(echo::error_code(&Fake("something else")), None);
    assert_eq!(echo::meaning(None), "an error code it does not document");
    let e = ProcessingError::Library {
        action: "clean the microphone signal",
        code: -8,
        meaning: echo::meaning(Some(-8)),
    };
    assert_eq!(
        e.to_string(),
        "the echo canceller (WebRTC audio processing) could not clean the microphone \
         signal: a block of the wrong length (library error -8)"
    );
}

/// The gain control lifts a quiet talker (speech at about -40 dBFS) within a few seconds
/// (measured: by 11 dB; it adds at most 9 dB of compression gain on top of its level steps).
#[test]
fn auto_gain_lifts_a_quiet_talker() {
    let rate = 48_000u32;
    let speech: Vec<f32> = synth::speech_like(rate, 8.0, 4)
        .iter()
        .map(|s| s * 0.1)
        .collect();
    let silence = vec![0.0; speech.len()];
    let gain_only = ProcessingConfig {
        echo_cancellation: false,
        noise_suppression: false,
        auto_gain: true,
    };
    let mut p = AudioProcessor::new(gain_only, rate).expect("processor");
    let out = run(&mut p, &silence, &speech);
    let r = 4 * rate as usize..8 * rate as usize;
    let lift = synth::ratio_db(synth::energy(&out[r.clone()]), synth::energy(&speech[r]));
    assert!(lift > 6.0, "lifted by {lift:.1} dB");
    assert!(out.iter().all(|s| s.abs() <= 1.0));
}
