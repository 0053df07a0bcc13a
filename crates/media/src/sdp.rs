//! SDP offer/answer for one audio stream (RFC 3264, RFC 4566), plain RTP/AVP with G.711 and
//! RFC 4733 telephone-events. Issue 4 adds Opus, G.722, SRTP and ICE/DTLS on top.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::CodecKind;

/// RFC 3264 media direction, from our point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn attribute(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    pub fn from_attribute(a: &str) -> Option<Self> {
        Some(match a {
            "sendrecv" => Self::SendRecv,
            "sendonly" => Self::SendOnly,
            "recvonly" => Self::RecvOnly,
            "inactive" => Self::Inactive,
            _ => return None,
        })
    }

    /// What we answer to an offer with this direction (RFC 3264 §6.1); `local_hold` removes
    /// our receiving side.
    pub fn answer_to(self, local_hold: bool) -> Self {
        let base = match self {
            Self::SendRecv => Self::SendRecv,
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            Self::Inactive => Self::Inactive,
        };
        if local_hold {
            match base {
                Self::SendRecv | Self::SendOnly => Self::SendOnly,
                Self::RecvOnly | Self::Inactive => Self::Inactive,
            }
        } else {
            base
        }
    }

    /// Whether an offer with this direction means the far end holds us.
    pub fn remote_holds(offered: Self) -> bool {
        matches!(offered, Self::SendOnly | Self::Inactive)
    }

    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    #[error("the SDP is not valid: {0}")]
    Malformed(String),
    #[error("the SDP offers no audio stream")]
    NoAudio,
    #[error("no codec in common (offered: {offered})")]
    NoCommonCodec { offered: String },
    #[error("the {0} media profile is not supported")]
    UnsupportedProfile(String),
    #[error("secure media (SRTP): {0}")]
    Srtp(String),
}

/// What we learned from the far end's SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAudio {
    /// Where to send RTP (`None` when the port is 0: stream refused or held with 0.0.0.0).
    pub rtp: Option<SocketAddr>,
    /// The codec we use and its payload type.
    pub codec: CodecKind,
    pub payload_type: u8,
    /// RFC 4733 telephone-event payload type, if offered.
    pub dtmf_payload_type: Option<u8>,
    /// The clock rate of that telephone-event.
    pub dtmf_clock_rate: u32,
    /// The direction the far end declared.
    pub direction: Direction,
    pub ptime_ms: u32,
    /// The SRTP keys agreed (SDES), when the media is encrypted.
    pub srtp: Option<crate::srtp::SrtpKeys>,
    /// RTCP shares the RTP port (RFC 5761), both ends having said `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// Where the far end takes RTCP when it said so (`a=rtcp`, RFC 3605).
    pub rtcp: Option<SocketAddr>,
}

struct ParsedAudio {
    addr: Option<IpAddr>,
    port: u16,
    profile: String,
    formats: Vec<u8>,
    rtpmaps: Vec<(u8, String, u32)>,
    direction: Direction,
    ptime_ms: u32,
    /// `a=crypto` values of the audio stream.
    crypto: Vec<String>,
    rtcp_mux: bool,
    /// `a=rtcp`: port, and address when given.
    rtcp: Option<(u16, Option<IpAddr>)>,
}

fn parse(sdp: &str) -> Result<ParsedAudio, SdpError> {
    let mut session_addr = None;
    let mut session_direction = Direction::SendRecv;
    let mut audio: Option<ParsedAudio> = None;
    let mut in_other_media = false;
    let mut saw_version = false;
    for raw in sdp.lines() {
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let (kind, value) = line
            .split_once('=')
            .filter(|(k, _)| k.len() == 1)
            .ok_or_else(|| SdpError::Malformed(format!("line {line:?}")))?;
        match kind {
            "v" => saw_version = true,
            "c" => {
                let addr = parse_connection(value)?;
                match audio.as_mut() {
                    Some(a) if !in_other_media => a.addr = Some(addr),
                    None if !in_other_media => session_addr = Some(addr),
                    _ => {}
                }
            }
            "m" => {
                let mut parts = value.split_whitespace();
                let media = parts.next().unwrap_or_default();
                if media == "audio" && audio.is_none() {
                    let port = parts
                        .next()
                        .and_then(|p| p.split('/').next())
                        .and_then(|p| p.parse::<u16>().ok())
                        .ok_or_else(|| SdpError::Malformed(format!("m= line {value:?}")))?;
                    let profile = parts.next().unwrap_or_default().to_owned();
                    let formats = parts.filter_map(|f| f.parse::<u8>().ok()).collect();
                    audio = Some(ParsedAudio {
                        addr: None,
                        port,
                        profile,
                        formats,
                        rtpmaps: Vec::new(),
                        direction: session_direction,
                        ptime_ms: 20,
                        crypto: Vec::new(),
                        rtcp_mux: false,
                        rtcp: None,
                    });
                    in_other_media = false;
                } else {
                    in_other_media = true;
                }
            }
            "a" => {
                let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                if let Some(d) = Direction::from_attribute(name) {
                    match audio.as_mut() {
                        Some(a) if !in_other_media => a.direction = d,
                        None => session_direction = d,
                        _ => {}
                    }
                    continue;
                }
                let Some(a) = audio.as_mut().filter(|_| !in_other_media) else {
                    continue;
                };
                match name {
                    "rtpmap" => {
                        let mut p = arg.split_whitespace();
                        let pt = p.next().and_then(|v| v.parse::<u8>().ok());
                        let enc = p.next().unwrap_or_default();
                        let mut enc_parts = enc.split('/');
                        let name = enc_parts.next().unwrap_or_default().to_owned();
                        let rate = enc_parts.next().and_then(|r| r.parse().ok());
                        if let (Some(pt), Some(rate)) = (pt, rate) {
                            a.rtpmaps.push((pt, name, rate));
                        }
                    }
                    "crypto" => a.crypto.push(arg.trim().to_owned()),
                    "rtcp-mux" => a.rtcp_mux = true,
                    "rtcp" => {
                        let mut p = arg.split_whitespace();
                        if let Some(port) = p.next().and_then(|v| v.parse::<u16>().ok()) {
                            let addr = match (p.next(), p.next(), p.next()) {
                                (Some("IN"), Some(_), Some(addr)) => addr.parse().ok(),
                                _ => None,
                            };
                            a.rtcp = Some((port, addr));
                        }
                    }
                    "ptime" => {
                        if let Ok(p) = arg.trim().parse::<u32>()
                            && (10..=120).contains(&p)
                        {
                            a.ptime_ms = p;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !saw_version {
        return Err(SdpError::Malformed("no v= line".into()));
    }
    let mut audio = audio.ok_or(SdpError::NoAudio)?;
    if audio.addr.is_none() {
        audio.addr = session_addr;
    }
    Ok(audio)
}

fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let mut p = value.split_whitespace();
    let (net, _family, addr) = (p.next(), p.next(), p.next());
    if net != Some("IN") {
        return Err(SdpError::Malformed(format!("c= line {value:?}")));
    }
    addr.and_then(|a| a.split('/').next())
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| SdpError::Malformed(format!("c= address in {value:?}")))
}

/// Every codec we run, in our default order of preference (an account may reorder or drop).
pub const DEFAULT_CODECS: [CodecKind; 4] = [
    CodecKind::Opus,
    CodecKind::G722,
    CodecKind::Pcmu,
    CodecKind::Pcma,
];

/// The dynamic payload type we offer Opus on (any 96..=127 works; 111 is what most peers use).
const OPUS_PT: u8 = 111;

fn codec_of(pt: u8, rtpmaps: &[(u8, String, u32)], ours: &[CodecKind]) -> Option<CodecKind> {
    if let Some((_, name, rate)) = rtpmaps.iter().find(|(p, _, _)| *p == pt) {
        return ours
            .iter()
            .copied()
            .find(|c| c.encoding_name().eq_ignore_ascii_case(name) && c.rtp_clock_rate() == *rate);
    }
    ours.iter()
        .copied()
        .find(|c| c.static_payload_type() == Some(pt))
}

/// The telephone-event payload type at `rate` (RFC 4733 §7.1.1: it runs at the clock rate of
/// the audio codec it goes with).
fn dtmf_pt(formats: &[u8], rtpmaps: &[(u8, String, u32)], rate: u32) -> Option<u8> {
    rtpmaps
        .iter()
        .find(|(pt, name, r)| {
            formats.contains(pt) && name.eq_ignore_ascii_case("telephone-event") && *r == rate
        })
        .map(|(pt, _, _)| *pt)
}

fn remote_of(parsed: &ParsedAudio, codec: CodecKind, pt: u8) -> RemoteAudio {
    let dtmf = dtmf_pt(&parsed.formats, &parsed.rtpmaps, codec.rtp_clock_rate())
        .map(|pt| (pt, codec.rtp_clock_rate()))
        .or_else(|| dtmf_pt(&parsed.formats, &parsed.rtpmaps, 8000).map(|pt| (pt, 8000)));
    let rtp = match parsed.addr {
        Some(ip) if parsed.port != 0 && !ip.is_unspecified() => {
            Some(SocketAddr::new(ip, parsed.port))
        }
        _ => None,
    };
    RemoteAudio {
        rtp,
        codec,
        payload_type: pt,
        dtmf_payload_type: dtmf.map(|(pt, _)| pt),
        dtmf_clock_rate: dtmf.map_or(8000, |(_, rate)| rate),
        direction: parsed.direction,
        ptime_ms: parsed.ptime_ms,
        srtp: None,
        rtcp_mux: parsed.rtcp_mux,
        rtcp: parsed.rtcp.and_then(|(port, addr)| {
            let ip = addr.or(parsed.addr)?;
            (port != 0 && !ip.is_unspecified()).then_some(SocketAddr::new(ip, port))
        }),
    }
}

fn check_profile(profile: &str) -> Result<(), SdpError> {
    if matches!(profile, "RTP/AVP" | "RTP/AVPF" | "RTP/SAVP" | "RTP/SAVPF") {
        Ok(())
    } else {
        Err(SdpError::UnsupportedProfile(profile.to_owned()))
    }
}

/// Our side of the SDP: where we receive and which session version we are at.
#[derive(Debug, Clone)]
pub struct LocalAudio {
    pub rtp: SocketAddr,
    pub session_id: u64,
    pub version: u64,
    /// The codecs we offer and accept, best first.
    pub codecs: Vec<CodecKind>,
    /// Whether media is encrypted (SDES-SRTP): off, offered, or required.
    pub srtp: crate::srtp::SrtpMode,
    /// The keys of our last offer, to match the answer's.
    pub offered_crypto: Vec<crate::srtp::CryptoAttribute>,
}

/// The payload type we offer `codec` on.
fn offer_pt(codec: CodecKind) -> u8 {
    codec.static_payload_type().unwrap_or(OPUS_PT)
}

/// `a=rtpmap` (and `a=fmtp`) lines for `codec` on `pt`.
fn codec_attributes(codec: CodecKind, pt: u8) -> String {
    match codec {
        // RFC 7587: always signalled as two channels; we send mono, with in-band FEC, up to
        // the band our encoder sends (`sprop-maxcapturerate`); we play any band.
        CodecKind::Opus => {
            let ours = crate::OpusSettings::default();
            format!(
                "a=rtpmap:{pt} opus/48000/2\r\na=fmtp:{pt} minptime=10;useinbandfec=1;maxaveragebitrate={};stereo=0;sprop-stereo=0;sprop-maxcapturerate={}\r\n",
                ours.max_average_bitrate,
                ours.max_bandwidth.capture_rate()
            )
        }
        other => format!(
            "a=rtpmap:{pt} {}/{}\r\n",
            other.encoding_name(),
            other.rtp_clock_rate()
        ),
    }
}

impl LocalAudio {
    fn header(&mut self) -> String {
        let ip = self.rtp.ip();
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let text = format!(
            "v=0\r\no=- {} {} IN {family} {ip}\r\ns=Siperb\r\nc=IN {family} {ip}\r\nt=0 0\r\n",
            self.session_id, self.version
        );
        // Every SDP we send is a new version of our session (RFC 3264 §8).
        self.version += 1;
        text
    }

    /// An offer with our codecs in our order, telephone-event at 8 kHz (and at 48 kHz when
    /// Opus is offered, RFC 4733 §7.1.1), ptime 20.
    pub fn offer(&mut self, direction: Direction) -> String {
        let mut s = self.header();
        let mut formats = String::new();
        let mut attrs = String::new();
        for &codec in &self.codecs {
            let pt = offer_pt(codec);
            formats.push_str(&format!(" {pt}"));
            attrs.push_str(&codec_attributes(codec, pt));
        }
        if self.codecs.contains(&CodecKind::Opus) {
            formats.push_str(" 110");
            attrs.push_str("a=rtpmap:110 telephone-event/48000\r\na=fmtp:110 0-16\r\n");
        }
        formats.push_str(" 101");
        attrs.push_str("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n");
        self.offered_crypto.clear();
        if self.srtp.offers_keys() {
            match crate::srtp::make_offer(&crate::srtp::DEFAULT_PREFERENCE) {
                Ok(keys) => self.offered_crypto = keys,
                Err(e) => tracing::warn!("no SRTP keys for the offer: {e}"),
            }
        }
        for key in &self.offered_crypto {
            attrs.push_str(&format!("a=crypto:{}\r\n", key.to_sdp_value()));
        }
        s.push_str(&format!(
            "m=audio {} {}{formats}\r\n{attrs}a=rtcp-mux\r\na=ptime:20\r\na={}\r\n",
            self.rtp.port(),
            self.srtp.offer_profile(),
            direction.attribute()
        ));
        s
    }

    /// Reads the far end's answer to our last offer: its codec, and the SRTP keys when the
    /// media is encrypted (an error when this account requires SRTP and the answer has none).
    pub fn read_answer(&self, answer: &str) -> Result<RemoteAudio, SdpError> {
        let parsed = parse(answer)?;
        let mut remote = usable_audio(&parsed, &self.codecs)?;
        let answered: Vec<&str> = parsed.crypto.iter().map(String::as_str).collect();
        remote.srtp = self
            .srtp
            .accept_answer(&self.offered_crypto, &answered)
            .map_err(|e| SdpError::Srtp(e.to_string()))?;
        Ok(remote)
    }

    /// Our answer to `offer`: the first of the offerer's codecs we support, telephone-event if
    /// offered, and the RFC 3264 answer direction.
    pub fn answer(
        &mut self,
        offer: &str,
        local_hold: bool,
    ) -> Result<(String, RemoteAudio), SdpError> {
        let parsed = parse(offer)?;
        let mut remote = usable_audio(&parsed, &self.codecs)?;
        let offered: Vec<&str> = parsed.crypto.iter().map(String::as_str).collect();
        let savp = parsed.profile.contains("SAVP");
        remote.srtp = self
            .srtp
            .answer(savp, &offered, &crate::srtp::DEFAULT_PREFERENCE)
            .map_err(|e| SdpError::Srtp(e.to_string()))?;
        let (pt, codec) = (remote.payload_type, remote.codec);
        let direction = parsed.direction.answer_to(local_hold);
        let mut s = self.header();
        let mut formats = pt.to_string();
        let mut attrs = codec_attributes(codec, pt);
        if let Some(d) = remote.dtmf_payload_type {
            let rate = parsed
                .rtpmaps
                .iter()
                .find(|(p, _, _)| *p == d)
                .map_or(8000, |(_, _, r)| *r);
            formats.push_str(&format!(" {d}"));
            attrs.push_str(&format!(
                "a=rtpmap:{d} telephone-event/{rate}\r\na=fmtp:{d} 0-16\r\n"
            ));
        }
        // The answer keeps the offer's profile (RFC 4568 §5.1.1), with our own key.
        if let Some(keys) = &remote.srtp {
            attrs.push_str(&format!("a=crypto:{}\r\n", keys.local.to_sdp_value()));
        }
        // RTCP on the RTP port when the offerer asked for it (RFC 5761 §5.1.1).
        if remote.rtcp_mux {
            attrs.push_str("a=rtcp-mux\r\n");
        }
        let profile = if savp { "RTP/SAVP" } else { "RTP/AVP" };
        s.push_str(&format!(
            "m=audio {} {profile} {formats}\r\n{attrs}a=ptime:20\r\na={}\r\n",
            self.rtp.port(),
            direction.attribute()
        ));
        Ok((s, remote))
    }
}

/// The far end's audio with the first of its codecs we support (the offerer's preference
/// wins, RFC 3264 §6.1), or why there is none.
fn usable_audio(parsed: &ParsedAudio, ours: &[CodecKind]) -> Result<RemoteAudio, SdpError> {
    check_profile(&parsed.profile)?;
    let (pt, codec) = parsed
        .formats
        .iter()
        .find_map(|&pt| codec_of(pt, &parsed.rtpmaps, ours).map(|c| (pt, c)))
        .ok_or_else(|| SdpError::NoCommonCodec {
            offered: parsed
                .formats
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        })?;
    Ok(remote_of(parsed, codec, pt))
}

/// The direction an SDP declares for its audio stream (used on re-INVITE offers).
pub fn offered_direction(sdp: &str) -> Result<Direction, SdpError> {
    let parsed = parse(sdp)?;
    // RFC 3264 §8.4 (old style): c=0.0.0.0 means hold.
    if parsed.addr.is_some_and(|a| a.is_unspecified()) && parsed.direction == Direction::SendRecv {
        return Ok(Direction::SendOnly);
    }
    Ok(parsed.direction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtcp_mux_is_offered_and_answered_only_when_offered() {
        let mut us = local();
        assert!(us.offer(Direction::SendRecv).contains("a=rtcp-mux\r\n"));
        // baresip's offer has no rtcp-mux: neither has our answer.
        let (answer, remote) = us.answer(BARESIP_OFFER, false).expect("answer");
        assert!(!answer.contains("rtcp-mux"), "{answer}");
        assert!(!remote.rtcp_mux);
        let muxed = BARESIP_OFFER.replace("a=sendrecv", "a=rtcp-mux\r\na=rtcp:10001\r\na=sendrecv");
        let (answer, remote) = us.answer(&muxed, false).expect("answer");
        assert!(answer.contains("a=rtcp-mux\r\n"), "{answer}");
        assert!(remote.rtcp_mux);
        assert_eq!(remote.rtcp, Some("127.0.0.1:10001".parse().expect("addr")));
        let elsewhere =
            BARESIP_OFFER.replace("a=sendrecv", "a=rtcp:9000 IN IP4 10.0.0.9\r\na=sendrecv");
        let (_, remote) = us.answer(&elsewhere, false).expect("answer");
        assert_eq!(remote.rtcp, Some("10.0.0.9:9000".parse().expect("addr")));
    }

    const BARESIP_OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 10000 RTP/AVP 96 8 0 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n";

    fn local() -> LocalAudio {
        LocalAudio {
            rtp: "127.0.0.1:20000".parse().expect("addr"),
            session_id: 7,
            version: 1,
            codecs: vec![CodecKind::G722, CodecKind::Pcmu, CodecKind::Pcma],
            srtp: crate::srtp::SrtpMode::Off,
            offered_crypto: Vec::new(),
        }
    }

    fn with(codecs: &[CodecKind]) -> LocalAudio {
        LocalAudio {
            codecs: codecs.to_vec(),
            ..local()
        }
    }

    #[test]
    fn we_answer_with_the_offerers_first_codec_we_support() {
        let mut l = local();
        let (answer, remote) = l.answer(BARESIP_OFFER, false).expect("answer");
        assert_eq!(remote.codec, CodecKind::Pcma);
        assert_eq!(remote.payload_type, 8);
        assert_eq!(remote.dtmf_payload_type, Some(101));
        assert_eq!(remote.rtp, Some("127.0.0.1:10000".parse().expect("addr")));
        assert!(
            answer.contains("m=audio 20000 RTP/AVP 8 101\r\n"),
            "{answer}"
        );
        assert!(answer.contains("a=sendrecv"));
        // The answer is itself readable, and the version moves on.
        assert_eq!(
            with(&DEFAULT_CODECS)
                .read_answer(&answer)
                .expect("read")
                .codec,
            CodecKind::Pcma
        );
        assert!(l.offer(Direction::SendOnly).contains("o=- 7 2 IN IP4"));
    }

    #[test]
    fn hold_offers_get_rfc_3264_answers() {
        let held = BARESIP_OFFER.replace("a=sendrecv", "a=sendonly");
        let (answer, _) = local().answer(&held, false).expect("answer");
        assert!(answer.contains("a=recvonly"));
        assert_eq!(offered_direction(&held), Ok(Direction::SendOnly));
        let old_style = BARESIP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        assert_eq!(offered_direction(&old_style), Ok(Direction::SendOnly));
        let (answer, _) = local().answer(BARESIP_OFFER, true).expect("answer");
        assert!(answer.contains("a=sendonly"));
    }

    #[test]
    fn our_offer_lists_our_codecs_in_order_and_answers_pick_the_offerers_first() {
        let mut l = with(&DEFAULT_CODECS);
        let offer = l.offer(Direction::SendRecv);
        assert!(
            offer.contains("m=audio 20000 RTP/AVP 111 9 0 8 110 101\r\n"),
            "{offer}"
        );
        assert!(offer.contains("a=rtpmap:111 opus/48000/2\r\n"));
        assert!(offer.contains("useinbandfec=1"));
        assert!(offer.contains("a=rtpmap:9 G722/8000\r\n"));
        assert!(offer.contains("a=rtpmap:110 telephone-event/48000\r\n"));
        // A peer answering our offer with Opus: its telephone-event at 48 kHz goes with it.
        let answer = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 3000 RTP/AVP 111 110\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:110 telephone-event/48000\r\n";
        let r = with(&DEFAULT_CODECS).read_answer(answer).expect("read");
        assert_eq!((r.codec, r.payload_type), (CodecKind::Opus, 111));
        assert_eq!(r.dtmf_payload_type, Some(110));
        // Answering baresip's offer (opus 96 first): Opus on the offerer's payload type.
        let (answer, remote) = with(&DEFAULT_CODECS)
            .answer(BARESIP_OFFER, false)
            .expect("answer");
        assert_eq!((remote.codec, remote.payload_type), (CodecKind::Opus, 96));
        assert!(
            answer.contains("m=audio 20000 RTP/AVP 96 101\r\n"),
            "{answer}"
        );
        assert!(answer.contains("a=rtpmap:96 opus/48000/2\r\n"));
        // An account that wants only G.711 never takes Opus.
        let (_, remote) = with(&[CodecKind::Pcmu])
            .answer(BARESIP_OFFER, false)
            .expect("answer");
        assert_eq!(remote.codec, CodecKind::Pcmu);
        let pcmu_only = with(&[CodecKind::Pcmu]).offer(Direction::SendRecv);
        assert!(pcmu_only.contains("RTP/AVP 0 101\r\n"), "{pcmu_only}");
    }

    #[test]
    fn sdes_keys_are_offered_answered_and_required() {
        // We offer SRTP (required): RTP/SAVP with one crypto line per suite.
        let mut ours = local();
        ours.srtp = crate::srtp::SrtpMode::Required;
        let offer = ours.offer(Direction::SendRecv);
        assert!(offer.contains("m=audio 20000 RTP/SAVP "), "{offer}");
        assert_eq!(offer.matches("a=crypto:").count(), 4, "{offer}");
        // The far end (optional) answers with one of them and its own key.
        let mut theirs = local();
        theirs.srtp = crate::srtp::SrtpMode::Optional;
        let (answer, their_view) = theirs.answer(&offer, false).expect("answer");
        assert!(answer.contains("RTP/SAVP"), "{answer}");
        assert_eq!(
            answer.matches("a=crypto:1 AES_CM_128_HMAC_SHA1_80").count(),
            1,
            "{answer}"
        );
        let our_view = ours.read_answer(&answer).expect("read");
        let (a, b) = (our_view.srtp.expect("keys"), their_view.srtp.expect("keys"));
        assert_eq!(a.local, b.remote);
        assert_eq!(a.remote, b.local);
        assert_ne!(a.local.key_salt, a.remote.key_salt);
        // An answer without crypto to a required offer fails the call.
        let plain = answer
            .lines()
            .filter(|l| !l.starts_with("a=crypto"))
            .collect::<Vec<_>>()
            .join("\r\n")
            .replace("RTP/SAVP", "RTP/AVP");
        assert!(matches!(ours.read_answer(&plain), Err(SdpError::Srtp(_))));
        // An account with SRTP off ignores keys on an RTP/AVP offer and answers plain RTP.
        let optional_offer = {
            let mut o = local();
            o.srtp = crate::srtp::SrtpMode::Optional;
            o.offer(Direction::SendRecv)
        };
        assert!(optional_offer.contains("RTP/AVP ") && optional_offer.contains("a=crypto:"));
        let (answer, view) = local().answer(&optional_offer, false).expect("answer");
        assert!(
            view.srtp.is_none() && !answer.contains("a=crypto"),
            "{answer}"
        );
    }

    #[test]
    fn offers_we_cannot_serve_are_typed_errors() {
        let opus_only = BARESIP_OFFER.replace("RTP/AVP 96 8 0 101", "RTP/AVP 96");
        assert!(matches!(
            local().answer(&opus_only, false),
            Err(SdpError::NoCommonCodec { .. })
        ));
        // An RTP/SAVP offer to an account with SRTP off, or one without keys: refused (488).
        let srtp = BARESIP_OFFER.replace("RTP/AVP", "RTP/SAVP");
        assert!(matches!(
            local().answer(&srtp, false),
            Err(SdpError::Srtp(_))
        ));
        let mut required = local();
        required.srtp = crate::srtp::SrtpMode::Required;
        assert!(matches!(
            required.answer(BARESIP_OFFER, false),
            Err(SdpError::Srtp(_))
        ));
        let avpf = BARESIP_OFFER.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF");
        assert!(matches!(
            local().answer(&avpf, false),
            Err(SdpError::UnsupportedProfile(_))
        ));
        assert!(matches!(
            local().answer("v=0\r\n", false),
            Err(SdpError::NoAudio)
        ));
        assert!(matches!(
            local().answer("garbage", false),
            Err(SdpError::Malformed(_))
        ));
        for cut in 0..BARESIP_OFFER.len() {
            let _ = local().answer(&BARESIP_OFFER[..cut], false);
        }
    }

    #[test]
    fn static_payload_types_work_without_rtpmap() {
        let bare = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
        let r = with(&DEFAULT_CODECS).read_answer(bare).expect("read");
        assert_eq!(r.codec, CodecKind::Pcmu);
        assert_eq!(r.direction, Direction::SendRecv);
    }
}
