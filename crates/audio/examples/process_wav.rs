//! Runs a microphone recording through the call's audio processing, as a call would (20 ms
//! frames, the far end's frame to the canceller first), to judge what it does to the near
//! end's voice (PESQ against the input, `scripts/bench`'s Python has it).
//!
//! ```text
//! cargo run --release -p siperb-audio --example process_wav -- MIC.wav FAR.wav|- OUT.wav [echo] [noise] [gain]
//! ```
//! `-` for FAR is silence. The switches named are on; none named: all three off.

use siperb_audio::wav::{self, Pcm};
use siperb_audio::{AudioProcessor, ProcessingConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mic, far, out, switches @ ..] = args.as_slice() else {
        return Err("usage: process_wav MIC.wav FAR.wav|- OUT.wav [echo] [noise] [gain]".into());
    };
    let mic = wav::read(std::path::Path::new(mic))?.resampled(48_000);
    let far = if far == "-" {
        Pcm {
            rate: 48_000,
            samples: vec![0; mic.samples.len()],
        }
    } else {
        wav::read(std::path::Path::new(far))?.resampled(48_000)
    };
    let config = ProcessingConfig {
        echo_cancellation: switches.iter().any(|s| s == "echo"),
        noise_suppression: switches.iter().any(|s| s == "noise"),
        auto_gain: switches.iter().any(|s| s == "gain"),
    };
    let mut p = AudioProcessor::new(config, 48_000)?;
    let frame = 960;
    let to_f32 = |s: &[i16]| {
        s.iter()
            .map(|&v| f32::from(v) / 32768.0)
            .collect::<Vec<f32>>()
    };
    let mut output = Vec::with_capacity(mic.samples.len());
    for (i, chunk) in mic.samples.chunks_exact(frame).enumerate() {
        let mut far_frame = to_f32(
            far.samples
                .get(i * frame..(i + 1) * frame)
                .unwrap_or(&[0; 960]),
        );
        far_frame.resize(frame, 0.0);
        p.render(&far_frame)?;
        let mut m = to_f32(chunk);
        p.capture(&mut m)?;
        output.extend(
            m.iter()
                .map(|v| (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16),
        );
    }
    wav::write(
        std::path::Path::new(out),
        &Pcm {
            rate: 48_000,
            samples: output,
        },
    )?;
    println!("{config:?}: {:?}", p.stats());
    Ok(())
}
