//! The audio pipeline of a call, one 20 ms frame at a time, paced by the capture device:
//!
//! capture -> (mute) -> resample -> encode -> RTP, and
//! RTP -> jitter buffer -> decode -> resample -> playback,
//!
//! with the call's recording (stereo: local left, remote right) taken from both. Buffers are
//! made once per codec; nothing here touches a socket or a clock.

use siperb_audio::FrameResampler;
use siperb_audio::wav::WavWriter;

use crate::jitter::{JitterBuffer, Playout};
use crate::{AudioCodec, CodecKind};

/// Every frame is 20 ms (what we offer as ptime).
pub(crate) const FRAME_MS: u32 = 20;

/// The largest decoded packet (120 ms of Opus at 48 kHz).
const MAX_DECODED: usize = 5760;

/// The codec-side state: made again when the negotiated codec changes.
struct CodecPath {
    kind: CodecKind,
    encoder: Box<dyn AudioCodec>,
    decoder: Box<dyn AudioCodec>,
    /// Device rate -> codec rate, and back.
    up: FrameResampler,
    down: FrameResampler,
}

pub(crate) struct Pipeline {
    port_rate: u32,
    /// Samples per frame at the device's rate.
    frame: usize,
    codec: Option<CodecPath>,
    /// The codec that could not be made for this device rate, if any.
    unusable: Option<CodecKind>,
    /// One frame at the codec's rate, as floats and as 16-bit samples.
    codec_f32: Vec<f32>,
    codec_i16: Vec<i16>,
    /// Decoded audio not yet played (codec rate): packets need not be 20 ms long.
    fifo: Vec<i16>,
    decoded: Vec<i16>,
    /// One frame for the speaker (device rate), and the last one played for the recording.
    speaker: Vec<f32>,
    heard: Vec<f32>,
    /// The far end's audio has begun (before that the speaker is left alone).
    started: bool,
    /// Interleaved stereo samples of one frame for the recording.
    stereo: Vec<i16>,
    /// The loss the encoder protects against (percent), from the far end's reports.
    expected_loss: u8,
}

impl Pipeline {
    pub(crate) fn new(port_rate: u32) -> Self {
        let frame = (port_rate * FRAME_MS / 1000) as usize;
        Self {
            port_rate,
            frame,
            codec: None,
            unusable: None,
            codec_f32: Vec::new(),
            codec_i16: Vec::new(),
            fifo: Vec::with_capacity(MAX_DECODED * 2),
            decoded: vec![0; MAX_DECODED],
            speaker: vec![0.0; frame],
            heard: vec![0.0; frame],
            started: false,
            stereo: vec![0; frame * 2],
            expected_loss: 0,
        }
    }

    /// The far end reported `pct` % of our packets lost: the encoder's FEC follows (see
    /// [`crate::codec::fec_loss_target`]).
    pub(crate) fn loss_reported(&mut self, pct: f32) {
        self.expected_loss = crate::codec::fec_loss_target(self.expected_loss, pct);
        if let Some(path) = self.codec.as_mut() {
            path.encoder.set_expected_loss(self.expected_loss);
        }
    }

    /// Samples per frame at the device's rate.
    pub(crate) fn frame(&self) -> usize {
        self.frame
    }

    /// The codec path for `kind`, made when it changes; `None` if the codec cannot run.
    fn path(&mut self, kind: CodecKind) -> Option<&mut CodecPath> {
        // A codec that cannot run is tried once (not again every frame, with a warning each).
        if self.unusable == Some(kind) {
            return None;
        }
        if self.codec.as_ref().is_none_or(|c| c.kind != kind) {
            let rate = kind.sample_rate();
            let mut made = (|| {
                Some(CodecPath {
                    kind,
                    encoder: crate::codec::new_codec(kind).ok()?,
                    decoder: crate::codec::new_codec(kind).ok()?,
                    up: FrameResampler::new(self.port_rate, rate, FRAME_MS).ok()?,
                    down: FrameResampler::new(rate, self.port_rate, FRAME_MS).ok()?,
                })
            })();
            match made {
                Some(ref mut path) => path.encoder.set_expected_loss(self.expected_loss),
                None => {
                    tracing::warn!("cannot run {kind:?} at {} Hz", self.port_rate);
                    self.unusable = Some(kind);
                }
            }
            self.codec = made;
            let n = (rate * FRAME_MS / 1000) as usize;
            self.codec_f32 = vec![0.0; n];
            self.codec_i16 = vec![0; n];
            self.fifo.clear();
        }
        self.codec.as_mut()
    }

    /// Encodes one captured frame (already muted if the user muted) into `out`; the payload's
    /// length.
    pub(crate) fn encode(
        &mut self,
        kind: CodecKind,
        captured: &[f32],
        out: &mut [u8],
    ) -> Option<usize> {
        self.path(kind)?;
        let path = self.codec.as_mut()?;
        if path.up.process(captured, &mut self.codec_f32) != self.codec_f32.len() {
            return None;
        }
        for (o, s) in self.codec_i16.iter_mut().zip(&self.codec_f32) {
            *o = to_i16(*s);
        }
        path.encoder.encode(&self.codec_i16, out).ok()
    }

    /// One frame for the speaker from the jitter buffer (decoded, concealed, or silence once
    /// the far end's audio has begun); `None` before it begins.
    pub(crate) fn playout(
        &mut self,
        kind: CodecKind,
        jb: Option<&mut JitterBuffer>,
        now_us: u64,
    ) -> Option<&mut [f32]> {
        let need = (kind.sample_rate() * FRAME_MS / 1000) as usize;
        self.path(kind)?;
        let path = self.codec.as_mut()?;
        if let Some(jb) = jb {
            // Decode until a frame's worth is there (a packet may be shorter or longer).
            let per_packet = (u64::from(jb.samples_per_frame()) * u64::from(kind.sample_rate())
                / u64::from(kind.rtp_clock_rate()))
            .clamp(1, MAX_DECODED as u64) as usize;
            while self.fifo.len() < need {
                let n = match jb.pop(now_us) {
                    Playout::Frame { payload, .. } => {
                        path.decoder.decode(payload, &mut self.decoded).unwrap_or(0)
                    }
                    Playout::Conceal { fec } => path
                        .decoder
                        .conceal(fec, &mut self.decoded[..per_packet])
                        .unwrap_or(0),
                    Playout::Silence if self.started => {
                        self.decoded[..need].fill(0);
                        need
                    }
                    Playout::Silence => break,
                };
                if n == 0 {
                    break;
                }
                self.started = true;
                self.fifo.extend_from_slice(&self.decoded[..n]);
            }
        }
        if !self.started {
            return None;
        }
        if self.fifo.len() < need {
            // Nothing decodable came: a frame of silence keeps the speaker's time.
            self.fifo.resize(need, 0);
        }
        for (o, s) in self.codec_f32.iter_mut().zip(&self.fifo[..need]) {
            *o = f32::from(*s) / 32768.0;
        }
        self.fifo.drain(..need);
        if path.down.process(&self.codec_f32, &mut self.speaker) != self.frame {
            return None;
        }
        self.heard.copy_from_slice(&self.speaker);
        Some(&mut self.speaker)
    }

    /// Adds one frame to the recording: what we sent on the left, what we played on the right
    /// (silence where nothing was played this frame).
    pub(crate) fn record(
        &mut self,
        writer: &mut WavWriter,
        local: &[f32],
        played: bool,
    ) -> Result<(), siperb_audio::wav::WavError> {
        for (i, pair) in self.stereo.chunks_exact_mut(2).enumerate() {
            pair[0] = local.get(i).copied().map_or(0, to_i16);
            pair[1] = if played { to_i16(self.heard[i]) } else { 0 };
        }
        writer.write(&self.stereo)
    }
}

fn to_i16(s: f32) -> i16 {
    (s.clamp(-1.0, 1.0) * 32767.0).round() as i16
}
