//! Opus alone, offline: a WAV file (48 kHz mono) through encode and decode at given settings
//! (the calls' own unless told otherwise), with optional seeded packet loss (FEC from the next
//! packet, else PLC). Prints the time per 20 ms frame; writes the decoded audio. The media benchmark (`scripts/bench/media.py`) uses it
//! for the ceiling its phones are measured against.
//!
//! `cargo run --release -p siperb-media --example opus_offline -- IN.wav OUT.wav
//!  [--complexity N] [--bitrate B] [--audio] [--max-bandwidth nb|mb|wb|swb|fb] [--loss PCT]
//!  [--fec-loss PCT] [--seed N]`

use std::path::PathBuf;
use std::time::Instant;

use opus::{Application, Bandwidth, Bitrate, Channels};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input = PathBuf::from(args.next().ok_or("IN.wav")?);
    let output = PathBuf::from(args.next().ok_or("OUT.wav")?);
    // The call's own settings unless told otherwise.
    let ours = siperb_media::OpusSettings::default();
    let (mut complexity, mut bitrate, mut app, mut loss, mut fec_loss, mut seed) = (
        i32::from(ours.complexity),
        ours.max_average_bitrate as i32,
        Application::Voip,
        0.0f64,
        0,
        7u64,
    );
    let mut bandwidth = match ours.max_bandwidth {
        siperb_media::OpusBandwidth::Narrowband => Bandwidth::Narrowband,
        siperb_media::OpusBandwidth::Wideband => Bandwidth::Wideband,
        siperb_media::OpusBandwidth::Superwideband => Bandwidth::Superwideband,
        siperb_media::OpusBandwidth::Fullband => Bandwidth::Fullband,
    };
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--complexity" => complexity = val()?.parse()?,
            "--bitrate" => bitrate = val()?.parse()?,
            "--audio" => app = Application::Audio,
            "--loss" => loss = val()?.parse::<f64>()? / 100.0,
            "--fec-loss" => fec_loss = val()?.parse()?,
            "--seed" => seed = val()?.parse()?,
            "--max-bandwidth" => {
                bandwidth = match val()?.as_str() {
                    "nb" => Bandwidth::Narrowband,
                    "mb" => Bandwidth::Mediumband,
                    "wb" => Bandwidth::Wideband,
                    "swb" => Bandwidth::Superwideband,
                    "fb" => Bandwidth::Fullband,
                    other => return Err(format!("unknown bandwidth {other}").into()),
                }
            }
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let pcm = siperb_audio::wav::read(&input)?.resampled(48_000);
    let mut enc = opus::Encoder::new(48_000, Channels::Mono, app)?;
    enc.set_vbr(true)?;
    enc.set_bitrate(Bitrate::Bits(bitrate))?;
    enc.set_complexity(complexity)?;
    enc.set_inband_fec(true)?;
    enc.set_packet_loss_perc(fec_loss)?;
    enc.set_max_bandwidth(bandwidth)?;
    let mut dec = opus::Decoder::new(48_000, Channels::Mono)?;
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
            dec.decode(&packets[i], chunk, false)?;
        } else if i + 1 < packets.len() && !gone[i + 1] {
            dec.decode(&packets[i + 1], chunk, true)?;
        } else {
            dec.decode(&[], chunk, false)?;
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
