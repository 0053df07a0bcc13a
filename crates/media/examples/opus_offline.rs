//! Opus alone, offline: a WAV file (48 kHz mono) through encode and decode at given settings
//! (the calls' own unless told otherwise), with optional seeded packet loss (FEC from the next
//! packet, else PLC). Prints the time per 20 ms frame; writes the decoded audio. The media benchmark (`scripts/bench/media.py`) uses it
//! for the ceiling its phones are measured against.
//!
//! `cargo run --release -p siperb-media --example opus_offline -- IN.wav OUT.wav
//!  [--complexity N] [--idle-complexity N] [--bitrate B] [--max-bandwidth nb|wb|swb|fb]
//!  [--loss PCT] [--fec-loss PCT] [--seed N]`
//!
//! The encoder and decoder are the calls' own ([`siperb_media::codec::Opus`]), so the idle
//! level between words applies; `--complexity N` alone runs at N throughout.

use std::path::PathBuf;
use std::time::Instant;

use siperb_media::codec::Opus;
use siperb_media::{AudioCodec, OpusBandwidth, OpusSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input = PathBuf::from(args.next().ok_or("IN.wav")?);
    let output = PathBuf::from(args.next().ok_or("OUT.wav")?);
    // The call's own codec and settings unless told otherwise.
    let mut settings = OpusSettings::default();
    let (mut loss, mut seed) = (0.0f64, 7u64);
    let (mut complexity, mut idle) = (None, None);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--complexity" => complexity = Some(val()?.parse()?),
            "--idle-complexity" => idle = Some(val()?.parse()?),
            "--bitrate" => settings.max_average_bitrate = val()?.parse()?,
            "--loss" => loss = val()?.parse::<f64>()? / 100.0,
            "--fec-loss" => settings.expected_loss_pct = val()?.parse()?,
            "--seed" => seed = val()?.parse()?,
            "--max-bandwidth" => {
                settings.max_bandwidth = match val()?.as_str() {
                    "nb" => OpusBandwidth::Narrowband,
                    "wb" => OpusBandwidth::Wideband,
                    "swb" => OpusBandwidth::Superwideband,
                    "fb" => OpusBandwidth::Fullband,
                    other => return Err(format!("unknown bandwidth {other}").into()),
                }
            }
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    // `--complexity N` alone means N throughout (no idle level).
    settings.complexity = complexity.unwrap_or(settings.complexity);
    settings.idle_complexity = idle.or(complexity).unwrap_or(settings.idle_complexity);
    let pcm = siperb_audio::wav::read(&input)?.resampled(48_000);
    let mut enc = Opus::new(settings)?;
    let mut dec = Opus::new(OpusSettings::default())?;
    let frames: Vec<&[i16]> = pcm.samples.chunks_exact(960).collect();
    let mut packets = Vec::with_capacity(frames.len());
    let mut buf = [0u8; 1500];
    let t = Instant::now();
    for f in &frames {
        let n = enc.encode(f, &mut buf)?;
        packets.push(buf[..n].to_vec());
    }
    let enc_us = t.elapsed().as_secs_f64() * 1e6 / frames.len() as f64;
    let mut seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut lost = |_: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ((seed >> 11) as f64 / (1u64 << 53) as f64) < loss
    };
    let gone: Vec<bool> = (0..packets.len()).map(&mut lost).collect();
    let mut out = vec![0i16; frames.len() * 960];
    let t = Instant::now();
    for (i, chunk) in out.chunks_exact_mut(960).enumerate() {
        if !gone[i] {
            dec.decode(&packets[i], chunk)?;
        } else if i + 1 < packets.len() && !gone[i + 1] {
            dec.conceal(Some(&packets[i + 1]), chunk)?;
        } else {
            dec.conceal(None, chunk)?;
        }
    }
    let dec_us = t.elapsed().as_secs_f64() * 1e6 / frames.len() as f64;
    let bytes: usize = packets.iter().map(Vec::len).sum();
    let kbps = bytes as f64 * 8.0 / (frames.len() as f64 * 0.02) / 1000.0;
    siperb_audio::wav::write(
        &output,
        &siperb_audio::wav::Pcm {
            rate: 48_000,
            samples: out,
        },
    )?;
    println!(
        "{{\"encode_us\": {enc_us:.1}, \"decode_us\": {dec_us:.1}, \"kbps\": {kbps:.1}, \
         \"lost\": {}}}",
        gone.iter().filter(|g| **g).count()
    );
    Ok(())
}
