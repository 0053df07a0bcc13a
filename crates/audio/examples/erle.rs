//! Figures for the release note: how much echo the canceller removes (ERLE) second by second
//! for several echo-path delays, how it does in double talk and at the lower device rates,
//! how much noise RNNoise removes, and the CPU time per 20 ms frame.
//!
//! Everything is synthetic and seeded (see `siperb_audio::processing::synth`), so the
//! figures are the same on every run. Run in release mode:
//!
//! ```text
//! cargo run --release -p siperb-audio --example erle
//! ```

use std::time::Instant;

use siperb_audio::processing::synth::{self, EchoPath};
use siperb_audio::{AudioProcessor, ProcessingConfig};

const RATE: u32 = 48_000;
const FRAME_MS: usize = 20;
/// Microphone self-noise under the echo.
const MIC_NOISE_DBFS: f64 = -60.0;
/// ERLE the canceller must reach, and keep, to count as converged.
const CONVERGED_DB: f64 = 20.0;

fn main() {
    let echo_only = ProcessingConfig {
        echo_cancellation: true,
        noise_suppression: false,
        auto_gain: false,
    };
    let seconds = 30;

    println!("Echo return loss enhancement (ERLE) in dB, per second of a {seconds} s call.");
    println!("Far end: synthetic speech at -20 dBFS (active parts). Echo path: the delay, then a");
    println!(
        "12 ms response at -10 dB. Microphone noise {MIC_NOISE_DBFS} dBFS. Canceller only (no NS)."
    );
    println!("ERLE here = energy of the echo at the microphone / energy of the output; the");
    println!("microphone noise bounds it to about 35 dB.");
    println!();
    for delay_ms in [0, 40, 120, 250] {
        erle_run(RATE, delay_ms, 0, echo_only, seconds);
    }
    println!("With an echo-delay hint (set_echo_delay_hint) of 200 ms:");
    erle_run(RATE, 250, 200, echo_only, seconds);
    println!();
    println!(
        "With noise suppression on as well (the default settings). RNNoise also takes out the"
    );
    println!(
        "residual echo and the microphone noise, so this is the echo left in the call, not the"
    );
    println!("canceller's own figure:");
    erle_run(RATE, 40, 0, ProcessingConfig::default(), seconds);
    println!();
    println!("At the lower device rates (converted to 48 kHz and back), 40 ms delay:");
    for rate in [8000, 16_000, 32_000] {
        erle_run(rate, 40, 0, echo_only, seconds);
    }

    println!();
    double_talk();
    println!();
    noise_reduction();
    println!();
    latency();
    println!();
    cpu();
}

/// Feeds `seconds` of far end and its echo through a processor and prints ERLE per second.
fn erle_run(rate: u32, delay_ms: u32, hint_ms: u32, config: ProcessingConfig, seconds: usize) {
    let far = synth::speech_like(rate, seconds as f64, 1);
    let path = EchoPath::desk(rate, delay_ms);
    let echo = path.apply(&far);
    let noise = synth::white_noise(far.len(), MIC_NOISE_DBFS, 7);
    let mut out: Vec<f32> = echo.iter().zip(&noise).map(|(e, n)| e + n).collect();
    let mut p = AudioProcessor::new(config, rate).expect("processor");
    p.set_echo_delay_hint(hint_ms);
    let frame = rate as usize * FRAME_MS / 1000;
    for (f, m) in far.chunks_exact(frame).zip(out.chunks_exact_mut(frame)) {
        p.render(f).expect("render");
        p.capture(m).expect("capture");
    }
    let per_second: Vec<f64> = (0..seconds)
        .map(|s| {
            let r = s * rate as usize..(s + 1) * rate as usize;
            synth::ratio_db(synth::energy(&echo[r.clone()]), synth::energy(&out[r]))
        })
        .collect();
    let last = 5;
    let tail = (seconds - last) * rate as usize..;
    let steady = synth::ratio_db(
        synth::energy(&echo[tail.clone()]),
        synth::energy(&out[tail]),
    );
    let converged = per_second
        .iter()
        .rposition(|e| *e < CONVERGED_DB)
        .map_or(0, |i| i + 1);
    let reached = per_second.iter().position(|e| *e >= CONVERGED_DB);
    let stats = p.stats();
    let row: Vec<String> = per_second.iter().map(|e| format!("{e:5.1}")).collect();
    let at = |s: Option<usize>| s.map_or("never".to_string(), |s| format!("{s}-{} s", s + 1));
    println!(
        "{rate:>5} Hz, echo delay {delay_ms:>3} ms{}: last {last} s {steady:.1} dB; first >= \
         {CONVERGED_DB} dB in second {}, stays there from second {}; canceller's own figures \
         at the end: ERLE {} dB, delay {} ms",
        if config.noise_suppression {
            " (with NS)"
        } else {
            ""
        },
        at(reached),
        at((converged < seconds).then_some(converged)),
        opt(stats.echo_return_loss_enhancement_db),
        stats
            .echo_delay_ms
            .map_or("-".to_string(), |d| d.to_string()),
    );
    println!("    {}", row.join(" "));
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1}"))
}

/// Near-end talker over the echo after the canceller has converged: how much of each is left.
fn double_talk() {
    let seconds = 20usize;
    let n = seconds * RATE as usize;
    let far = synth::speech_like(RATE, seconds as f64, 1);
    let echo = EchoPath::desk(RATE, 40).apply(&far);
    // A different talker at the near end, in the second half only, at half the far end's
    // level: about 4 dB louder than the echo at the microphone.
    let mut near = synth::speech_like(RATE, seconds as f64, 2);
    near[..n / 2].iter_mut().for_each(|s| *s = 0.0);
    near.iter_mut().for_each(|s| *s *= 0.5);
    let noise = synth::white_noise(n, MIC_NOISE_DBFS, 7);
    println!(
        "Double talk after 10 s of far end alone (40 ms echo delay, near end ~4 dB over the echo):"
    );
    for (name, config) in [
        (
            "canceller",
            ProcessingConfig {
                noise_suppression: false,
                ..ProcessingConfig::default()
            },
        ),
        ("canceller + NS", ProcessingConfig::default()),
    ] {
        let mut out: Vec<f32> = (0..n).map(|i| echo[i] + near[i] + noise[i]).collect();
        let mut p = AudioProcessor::new(config, RATE).expect("processor");
        let frame = RATE as usize * FRAME_MS / 1000;
        for (f, m) in far.chunks_exact(frame).zip(out.chunks_exact_mut(frame)) {
            p.render(f).expect("render");
            p.capture(m).expect("capture");
        }
        // Compare the output with each input, aligned for the processing's own delay.
        let r = n / 2 + RATE as usize..n - RATE as usize;
        let lag = synth::best_lag(&out, &near, r.clone(), 2000);
        let o = &out[r.start + lag..r.end + lag];
        let (a, b) = (&near[r.clone()], &echo[r.clone()]);
        println!(
            "  {name:<15} correlation of the output with the near end {:.2}, with the echo {:.3}; \
             output energy {:+.1} dB of the near end's",
            synth::correlation(o, a),
            synth::correlation(o, b),
            synth::ratio_db(synth::energy(o), synth::energy(a)),
        );
        println!(
            "  {:<15} (at the microphone: {:.2} and {:.2}; near end {:+.1} dB over the echo)",
            "",
            synth::correlation(&(0..r.len()).map(|i| a[i] + b[i]).collect::<Vec<_>>(), a),
            synth::correlation(&(0..r.len()).map(|i| a[i] + b[i]).collect::<Vec<_>>(), b),
            synth::ratio_db(synth::energy(a), synth::energy(b)),
        );
    }
}

/// RNNoise on white noise at -40 dBFS with a tone that comes and goes, and on speech in the
/// same noise.
fn noise_reduction() {
    let seconds = 10usize;
    let n = seconds * RATE as usize;
    let noise = synth::white_noise(n, -40.0, 11);
    let tone = synth::tone(RATE, 440.0, 0.1, n);
    // The tone in the odd seconds.
    let tone_on = |i: usize| (i / RATE as usize) % 2 == 1;
    let input: Vec<f32> = (0..n)
        .map(|i| noise[i] + if tone_on(i) { tone[i] } else { 0.0 })
        .collect();
    let ns_only = ProcessingConfig {
        echo_cancellation: false,
        noise_suppression: true,
        auto_gain: false,
    };
    let out = run_capture(&input, ns_only);
    // Noise-only seconds after the first two, shifted by RNNoise's 10 ms.
    let lag = 480;
    let (mut e_in, mut e_out) = (0.0, 0.0);
    for s in (2..seconds).filter(|s| s % 2 == 0) {
        let r = s * RATE as usize + 2 * lag..(s + 1) * RATE as usize - lag;
        e_in += synth::energy(&input[r.clone()]);
        e_out += synth::energy(&out[r.start + lag..r.end + lag]);
    }
    println!(
        "Noise suppression: white noise at -40 dBFS reduced by {:.1} dB in the noise-only parts",
        synth::ratio_db(e_in, e_out)
    );
    let (mut t_in, mut t_out) = (0.0, 0.0);
    for s in (2..seconds).filter(|s| s % 2 == 1) {
        let r = s * RATE as usize + 2 * lag..(s + 1) * RATE as usize - lag;
        t_in += synth::energy(&input[r.clone()]);
        t_out += synth::energy(&out[r.start + lag..r.end + lag]);
    }
    println!(
        "  with a 440 Hz tone at -23 dBFS on top: {:.1} dB change while the tone plays",
        synth::ratio_db(t_out, t_in)
    );

    // Speech in the same noise: what is left of the noise in the pauses and of the speech.
    let speech = synth::speech_like(RATE, seconds as f64, 3);
    let noisy: Vec<f32> = speech.iter().zip(&noise).map(|(s, n)| s + n).collect();
    let out = run_capture(&noisy, ns_only);
    let (mut pause_in, mut pause_out, mut talk_in, mut talk_out) = (0.0, 0.0, 0.0, 0.0);
    let block = 480;
    for b in (2 * RATE as usize / block)..(n / block - 1) {
        let r = b * block..(b + 1) * block;
        let clean = synth::energy(&speech[r.clone()]);
        let shifted = r.start + lag..r.end + lag;
        // Pauses: the speech (and its neighbours) silent in this block.
        let quiet = (b.saturating_sub(2)..b + 3)
            .all(|k| synth::energy(&speech[k * block..(k + 1) * block]) == 0.0);
        if quiet {
            pause_in += synth::energy(&noisy[r]);
            pause_out += synth::energy(&out[shifted]);
        } else if clean > 1e-3 * block as f64 * 0.01 {
            talk_in += clean;
            talk_out += synth::energy(&out[shifted]);
        }
    }
    println!(
        "  speech in that noise: noise in the pauses reduced by {:.1} dB, speech energy kept \
         at {:.1} dB",
        synth::ratio_db(pause_in, pause_out),
        synth::ratio_db(talk_out, talk_in)
    );
}

fn run_capture(input: &[f32], config: ProcessingConfig) -> Vec<f32> {
    let mut out = input.to_vec();
    let mut p = AudioProcessor::new(config, RATE).expect("processor");
    let frame = RATE as usize * FRAME_MS / 1000;
    for m in out.chunks_exact_mut(frame) {
        p.capture(m).expect("capture");
    }
    out
}

/// How much later the microphone comes out than it went in, per setting and rate.
fn latency() {
    println!("Delay added to the microphone (near-end speech, silent far end):");
    let on = |e, n| ProcessingConfig {
        echo_cancellation: e,
        noise_suppression: n,
        auto_gain: false,
    };
    for rate in [48_000, 16_000, 8000] {
        let mut row = Vec::new();
        for (name, config) in [
            ("canceller", on(true, false)),
            ("NS", on(false, true)),
            ("both", on(true, true)),
        ] {
            let seconds = 4usize;
            let speech = synth::speech_like(rate, seconds as f64, 2);
            let mut out = speech.clone();
            let mut p = AudioProcessor::new(config, rate).expect("processor");
            let frame = rate as usize * FRAME_MS / 1000;
            let silence = vec![0.0f32; frame];
            for m in out.chunks_exact_mut(frame) {
                p.render(&silence).expect("render");
                p.capture(m).expect("capture");
            }
            let r = rate as usize..3 * rate as usize;
            let lag = synth::best_lag(&out, &speech, r, rate as usize / 20);
            row.push(format!(
                "{name} {:.1} ms",
                lag as f64 * 1000.0 / f64::from(rate)
            ));
        }
        println!("  {rate:>5} Hz: {}", row.join(", "));
    }
}

/// Time per 20 ms frame (render + capture), after a warm-up.
fn cpu() {
    println!("CPU per 20 ms frame (render + capture, one core, release build):");
    let on = |e, n, g| ProcessingConfig {
        echo_cancellation: e,
        noise_suppression: n,
        auto_gain: g,
    };
    for (name, rate, config) in [
        ("echo canceller", 48_000, on(true, false, false)),
        ("noise suppression", 48_000, on(false, true, false)),
        (
            "echo + noise (default)",
            48_000,
            ProcessingConfig::default(),
        ),
        ("echo + noise + gain", 48_000, on(true, true, true)),
        (
            "echo + noise (default)",
            16_000,
            ProcessingConfig::default(),
        ),
        ("echo + noise (default)", 8000, ProcessingConfig::default()),
    ] {
        let seconds = 30usize;
        let far = synth::speech_like(rate, seconds as f64, 1);
        let mut mic = EchoPath::desk(rate, 40).apply(&far);
        let mut p = AudioProcessor::new(config, rate).expect("processor");
        let frame = rate as usize * FRAME_MS / 1000;
        let frames = far.len() / frame;
        let warm = frames / 10;
        let mut start = Instant::now();
        for (i, (f, m)) in far
            .chunks_exact(frame)
            .zip(mic.chunks_exact_mut(frame))
            .enumerate()
        {
            if i == warm {
                start = Instant::now();
            }
            p.render(f).expect("render");
            p.capture(m).expect("capture");
        }
        let per_frame = start.elapsed().as_secs_f64() / (frames - warm) as f64;
        println!(
            "  {name:<24} {rate:>5} Hz: {:6.1} µs ({:.2}% of real time)",
            per_frame * 1e6,
            per_frame / (FRAME_MS as f64 / 1000.0) * 100.0
        );
    }
}
