//! SDES-SRTP: keys carried in SDP `a=crypto` lines (RFC 4568) and the SRTP/SRTCP protection they
//! key (RFC 3711, RFC 7714 for the AEAD suites). Sans-IO: nothing here touches a socket or a clock.
//!
//! * [`SrtpSuite`]: the four suites we speak, `AES_CM_128_HMAC_SHA1_80`, `AES_CM_128_HMAC_SHA1_32`,
//!   `AEAD_AES_128_GCM` and `AEAD_AES_256_GCM`, with their key and salt lengths.
//! * [`CryptoAttribute`]: one `a=crypto` value, parsed ([`CryptoAttribute::parse`]), formatted
//!   ([`CryptoAttribute::to_sdp_value`]) and generated with fresh keys ([`CryptoAttribute::random`],
//!   or [`CryptoAttribute::generate`] from caller-supplied bytes).
//! * Negotiation, as pure functions: [`make_offer_with`] / [`make_offer`] for our offer,
//!   [`answer_offer_with`] / [`answer_offer`] to answer theirs (RFC 4568 §6.1: same tag and suite,
//!   our own key), [`accept_answer`] to read the answer to ours, and [`SrtpMode`] for what an
//!   account asks for (off, offered, required). Each yields [`SrtpKeys`]: both sides' keys.
//! * [`SrtpContext`]: one direction of protection. Build an outbound one from our key and an
//!   inbound one from the peer's ([`SrtpKeys::outbound`], [`SrtpKeys::inbound`]).
//!
//! Keys never reach a log: [`KeySalt`] prints `<redacted>` under `Debug`, is zeroed when dropped,
//! and no error message carries key bytes or their base64. The SDP text itself does carry the key
//! (that is how SDES works), so anything that logs SIP bodies must pass them through
//! [`redact_crypto_lines`] first.
//!
//! The cryptography is `rtc-srtp` (webrtc-rs's sans-IO SRTP) with its `ring` provider. It
//! allocates one buffer per packet for its output, which [`SrtpContext`] then copies into the
//! caller's reusable `Vec`: fine on the media thread, not for an audio callback.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use rtc_shared::error::Error as CrateError;
use rtc_srtp::context::Context;
use rtc_srtp::crypto::providers::RingCrypto;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;
use zeroize::Zeroizing;

/// Replay window, in packets, of inbound contexts (RTP and RTCP alike). RFC 3711 §3.3.2 asks
/// for at least 64; it is also `rtc-srtp`'s default for remote contexts.
pub const REPLAY_WINDOW: usize = 64;

/// Our order of preference when answering: AES-CM-80 first because every SDES peer speaks it,
/// then the AEAD suites, and the short-tag `_32` last.
pub const DEFAULT_PREFERENCE: [SrtpSuite; 4] = [
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AeadAes128Gcm,
    SrtpSuite::AeadAes256Gcm,
    SrtpSuite::AesCm128HmacSha1_32,
];

/// Longest master key || master salt of any suite we know (AEAD_AES_256_GCM: 32 + 12).
const MAX_KEY_SALT_LEN: usize = 44;
/// Longest base64 key text we bother decoding: far above any suite's, small enough that decoding
/// never reallocates the (zeroizing) output buffer.
const MAX_KEY_BASE64_LEN: usize = 88;
/// Largest `2^n` lifetime we represent.
const MAX_LIFETIME_EXPONENT: u8 = 63;
/// Longest MKI, in bytes (RFC 4568 §9.1: `mki-length` is 1 to 128).
const MAX_MKI_LEN: u8 = 128;

/// Base64 as RFC 4568 writes it (RFC 4648 alphabet, padded), read leniently about padding: some
/// peers drop the `=` of the AEAD suites' key text.
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Everything that can go wrong parsing, negotiating or applying SRTP. No variant carries key
/// material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// The attribute does not have the `<tag> <suite> <key-params>` shape.
    #[error("malformed a=crypto attribute: {0}")]
    Malformed(&'static str),
    /// The tag is not 1 to 9 decimal digits.
    #[error("a=crypto tag is not 1 to 9 decimal digits")]
    InvalidTag,
    /// A crypto suite we do not implement. Offers listing it are skipped, not failed.
    #[error("unsupported SRTP crypto suite {0:?}")]
    UnknownSuite(String),
    /// The key parameter does not use the `inline:` method (the only one RFC 4568 defines).
    #[error("a=crypto key parameter is not inline:")]
    NotInline,
    /// More than one key parameter (`;`-separated): only useful with MKIs, which we do not do.
    #[error("a=crypto with several keys is not supported")]
    MultipleKeys,
    /// The key text is not valid base64.
    #[error("a=crypto key is not valid base64")]
    InvalidBase64,
    /// The key material has the wrong length for the suite.
    #[error("{suite} needs {expected} bytes of master key and salt, got {actual}")]
    KeyLength {
        /// The suite whose lengths apply.
        suite: SrtpSuite,
        /// Master key length plus master salt length of the suite.
        expected: usize,
        /// What was supplied.
        actual: usize,
    },
    /// The key lifetime is neither `2^n` nor a decimal packet count.
    #[error("invalid a=crypto key lifetime")]
    InvalidLifetime,
    /// The MKI is not `value:length` with a length of 1 to 128 bytes that holds the value.
    #[error("invalid a=crypto MKI")]
    InvalidMki,
    /// A key with an MKI: the SRTP implementation cannot add or strip MKI fields.
    #[error("SRTP master key identifiers (MKI) are not supported")]
    MkiUnsupported,
    /// A session parameter that turns protection off (`UNENCRYPTED_SRTP`, `UNENCRYPTED_SRTCP`,
    /// `UNAUTHENTICATED_SRTP`): we never run media unprotected.
    #[error("a=crypto asks for unprotected media ({0}), which is refused")]
    Unprotected(&'static str),
    /// A non-zero key derivation rate (`KDR=`): the SRTP implementation derives keys once.
    #[error("a=crypto key derivation rate KDR={0} is not supported")]
    UnsupportedKdr(String),
    /// None of the offered crypto lines is one we accept.
    #[error("no acceptable SRTP crypto suite in the offer")]
    NoAcceptableSuite,
    /// The account requires SRTP and the peer did not agree to it.
    #[error("the account requires SRTP (SDES), but the peer offered or answered none")]
    Required,
    /// The peer offered RTP/SAVP and SRTP is switched off for this account.
    #[error("the peer requires SRTP, which is switched off for this account")]
    Disabled,
    /// The answer carries a number of `a=crypto` lines other than one.
    #[error("an SDES answer must carry exactly one a=crypto line, got {0}")]
    AnswerCryptoCount(usize),
    /// The answer's tag matches none of the lines we offered.
    #[error("the answer's a=crypto tag {0} is not one we offered")]
    UnknownAnswerTag(u32),
    /// The answer's suite differs from the one we offered under that tag.
    #[error("the answer's a=crypto tag {tag} uses {answered}, but we offered {offered}")]
    SuiteMismatch {
        /// The tag in question.
        tag: u32,
        /// The suite we offered under it.
        offered: SrtpSuite,
        /// The suite the answer named.
        answered: SrtpSuite,
    },
    /// The system random number generator failed.
    #[error("no system randomness for SRTP keys: {0}")]
    Randomness(String),
    /// Randomness supplied to [`CryptoAttribute::generate`] has the wrong length.
    #[error("{suite} key generation needs {expected} random bytes, got {actual}")]
    RandomLength {
        /// The suite being generated.
        suite: SrtpSuite,
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// A packet failed authentication: tampered, corrupted, or protected with another key.
    #[error("SRTP authentication failed")]
    AuthenticationFailed,
    /// A packet seen before (or too old for the replay window).
    #[error("replayed SRTP packet (ssrc {ssrc:#010x}, index {index})")]
    Replayed {
        /// The packet's SSRC.
        ssrc: u32,
        /// RTP sequence number or SRTCP index.
        index: u64,
    },
    /// Too short to be a protected packet of this suite.
    #[error("packet too short for SRTP/SRTCP")]
    TooShort,
    /// The RTP or RTCP header does not parse.
    #[error("malformed RTP/RTCP packet: {0}")]
    MalformedPacket(String),
    /// 2^48 SRTP packets under one key: the key must be replaced (RFC 3711 §9.2).
    #[error("SRTP key exhausted: too many packets protected with one key")]
    KeyExhausted,
    /// An SRTCP packet whose E flag says "not encrypted". We never agree to unencrypted SRTCP,
    /// and rtc-srtp would pass such a packet through without checking its tag, so it is refused
    /// before it gets there.
    #[error("unencrypted SRTCP packet refused")]
    UnencryptedSrtcp,
    /// Protecting with an inbound context or unprotecting with an outbound one.
    #[error("this SRTP context is {0:?} only")]
    WrongDirection(SrtpDirection),
    /// Any other failure inside the SRTP implementation.
    #[error("SRTP failure: {0}")]
    Crypto(String),
}

/// The SRTP crypto suites we negotiate (RFC 4568 §6.2, RFC 7714 §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// `AES_CM_128_HMAC_SHA1_80`: AES-128 counter mode, 80-bit HMAC-SHA1 tag.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: as above with a 32-bit tag on SRTP (SRTCP keeps 80 bits).
    AesCm128HmacSha1_32,
    /// `AEAD_AES_128_GCM`: AES-128 in GCM with a 16-byte tag.
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM`: AES-256 in GCM with a 16-byte tag.
    AeadAes256Gcm,
}

impl SrtpSuite {
    /// Every suite we implement.
    pub const ALL: [SrtpSuite; 4] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AeadAes256Gcm,
    ];

    /// The suite's name in SDP.
    pub const fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Looks a suite up by its SDP name (ASCII case-insensitive, as ABNF literals are).
    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        SrtpSuite::ALL
            .into_iter()
            .find(|suite| suite.name().eq_ignore_ascii_case(name))
    }

    /// Master key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80
            | SrtpSuite::AesCm128HmacSha1_32
            | SrtpSuite::AeadAes128Gcm => 16,
            SrtpSuite::AeadAes256Gcm => 32,
        }
    }

    /// Master salt length in bytes: 112 bits for AES-CM, 96 for GCM (RFC 7714 §12).
    pub const fn salt_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 | SrtpSuite::AesCm128HmacSha1_32 => 14,
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => 12,
        }
    }

    /// Length of the `inline:` key material: master key followed by master salt.
    pub const fn key_salt_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    /// Bytes SRTP adds to an RTP packet (the authentication tag).
    pub const fn rtp_overhead(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm128HmacSha1_32 => 4,
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => 16,
        }
    }

    /// Bytes SRTCP adds to an RTCP packet (E flag and index, plus the tag).
    pub const fn rtcp_overhead(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 | SrtpSuite::AesCm128HmacSha1_32 => 4 + 10,
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => 4 + 16,
        }
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            SrtpSuite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            SrtpSuite::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
        }
    }
}

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SrtpSuite {
    type Err = SrtpError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        SrtpSuite::from_name(name).ok_or_else(|| SrtpError::UnknownSuite(name.to_owned()))
    }
}

/// SRTP master key followed by master salt: the bytes behind `inline:`.
///
/// `Debug` prints `<redacted>`, there is no `Display`, equality does not stop at the first
/// differing byte, and the bytes are zeroed when the value is dropped.
#[derive(Clone)]
pub struct KeySalt(Zeroizing<Vec<u8>>);

impl PartialEq for KeySalt {
    fn eq(&self, other: &KeySalt) -> bool {
        self.same_bytes(&other.0)
    }
}

impl Eq for KeySalt {}

impl KeySalt {
    /// Copies key material in. Its length is checked against a suite wherever one applies.
    pub fn new(bytes: &[u8]) -> KeySalt {
        let mut buffer = Zeroizing::new(Vec::with_capacity(bytes.len()));
        buffer.extend_from_slice(bytes);
        KeySalt(buffer)
    }

    /// The raw bytes. Handle with care: never log them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Same length and same bytes, examining every byte whatever the first difference.
    fn same_bytes(&self, other: &[u8]) -> bool {
        self.0.len() == other.len()
            && self
                .0
                .iter()
                .zip(other)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl fmt::Debug for KeySalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Key lifetime of an `a=crypto` key (RFC 4568 §6.1): how many packets it may protect.
///
/// Parsed and written back, but not enforced: calls re-key on every new offer/answer anyway, and
/// a 2^20-packet lifetime lasts almost six hours of 20 ms audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLifetime {
    /// `2^n` packets, written `2^n`.
    PowerOfTwo(u8),
    /// A packet count written in decimal.
    Packets(u64),
}

impl KeyLifetime {
    /// The lifetime in packets.
    pub fn packets(self) -> u64 {
        match self {
            KeyLifetime::PowerOfTwo(exponent) => 1u64 << exponent,
            KeyLifetime::Packets(packets) => packets,
        }
    }

    fn parse(text: &str) -> Result<KeyLifetime, SrtpError> {
        if let Some(exponent) = text.strip_prefix("2^") {
            let exponent: u8 = parse_digits(exponent, 2).ok_or(SrtpError::InvalidLifetime)?;
            if exponent > MAX_LIFETIME_EXPONENT {
                return Err(SrtpError::InvalidLifetime);
            }
            Ok(KeyLifetime::PowerOfTwo(exponent))
        } else {
            parse_digits(text, 20)
                .map(KeyLifetime::Packets)
                .ok_or(SrtpError::InvalidLifetime)
        }
    }
}

impl fmt::Display for KeyLifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyLifetime::PowerOfTwo(exponent) => write!(f, "2^{exponent}"),
            KeyLifetime::Packets(packets) => write!(f, "{packets}"),
        }
    }
}

/// Master key identifier of an `a=crypto` key (RFC 4568 §6.1): `value:length`.
///
/// Parsed and written, but [`SrtpContext`] refuses keys that carry one, and negotiation skips
/// them: the SRTP implementation has no MKI support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    /// The identifier.
    pub value: u64,
    /// Its length on the wire, in bytes (1 to 128).
    pub length: u8,
}

impl Mki {
    fn parse(text: &str) -> Result<Mki, SrtpError> {
        let (value, length) = text.split_once(':').ok_or(SrtpError::InvalidMki)?;
        let value: u64 = parse_digits(value, 20).ok_or(SrtpError::InvalidMki)?;
        let length: u8 = parse_digits(length, 3).ok_or(SrtpError::InvalidMki)?;
        if length == 0 || length > MAX_MKI_LEN {
            return Err(SrtpError::InvalidMki);
        }
        if length < 8 && value >> (u32::from(length) * 8) != 0 {
            return Err(SrtpError::InvalidMki);
        }
        Ok(Mki { value, length })
    }
}

impl fmt::Display for Mki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.value, self.length)
    }
}

/// One SDES `a=crypto` attribute (RFC 4568 §9.1) with a single inline key.
///
/// `Debug` is safe to log (the key shows as `<redacted>`); [`CryptoAttribute::to_sdp_value`] is
/// not, it carries the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// Tag tying an answer to the offered line (1 to 9 digits).
    pub tag: u32,
    /// Crypto suite.
    pub suite: SrtpSuite,
    /// Master key || master salt, `suite.key_salt_len()` bytes.
    pub key_salt: KeySalt,
    /// Optional key lifetime.
    pub lifetime: Option<KeyLifetime>,
    /// Optional master key identifier.
    pub mki: Option<Mki>,
}

impl CryptoAttribute {
    /// Parses the value of an `a=crypto` line: what follows `a=crypto:` (a leading `a=crypto:`
    /// is also accepted), e.g.
    /// `1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32`.
    ///
    /// Session parameters are ignored, except those that switch protection off
    /// ([`SrtpError::Unprotected`]) and a non-zero `KDR` ([`SrtpError::UnsupportedKdr`]). An
    /// unknown suite is [`SrtpError::UnknownSuite`], so a caller can skip that line.
    pub fn parse(value: &str) -> Result<CryptoAttribute, SrtpError> {
        let value = value.trim();
        let value = value.strip_prefix("a=crypto:").unwrap_or(value);
        let mut fields = value.split_ascii_whitespace();
        let tag = fields.next().ok_or(SrtpError::Malformed("empty"))?;
        let tag: u32 = parse_digits(tag, 9).ok_or(SrtpError::InvalidTag)?;
        let suite = fields
            .next()
            .ok_or(SrtpError::Malformed("no crypto suite"))?
            .parse::<SrtpSuite>()?;
        let key_params = fields
            .next()
            .ok_or(SrtpError::Malformed("no key parameter"))?;
        for session_param in fields {
            check_session_param(session_param)?;
        }

        if key_params.contains(';') {
            return Err(SrtpError::MultipleKeys);
        }
        let (method, key_info) = key_params.split_once(':').ok_or(SrtpError::NotInline)?;
        if !method.eq_ignore_ascii_case("inline") {
            return Err(SrtpError::NotInline);
        }
        let mut parts = key_info.split('|');
        let key_text = parts.next().unwrap_or_default();
        let key_salt = decode_key(suite, key_text)?;
        let mut lifetime = None;
        let mut mki = None;
        for part in parts {
            // Grammar: key-salt ["|" lifetime] ["|" mki]; an MKI has a colon, a lifetime has not.
            if part.contains(':') {
                if mki.is_some() {
                    return Err(SrtpError::InvalidMki);
                }
                mki = Some(Mki::parse(part)?);
            } else {
                if lifetime.is_some() || mki.is_some() {
                    return Err(SrtpError::InvalidLifetime);
                }
                lifetime = Some(KeyLifetime::parse(part)?);
            }
        }
        Ok(CryptoAttribute {
            tag,
            suite,
            key_salt,
            lifetime,
            mki,
        })
    }

    /// The attribute value for SDP, without the `a=crypto:` prefix. It contains the key in
    /// base64: never log it (see [`redact_crypto_lines`]).
    pub fn to_sdp_value(&self) -> String {
        let key = Zeroizing::new(general_purpose::STANDARD.encode(self.key_salt.as_bytes()));
        let mut value = format!("{} {} inline:{}", self.tag, self.suite, key.as_str());
        if let Some(lifetime) = self.lifetime {
            value.push('|');
            value.push_str(&lifetime.to_string());
        }
        if let Some(mki) = self.mki {
            value.push('|');
            value.push_str(&mki.to_string());
        }
        value
    }

    /// An attribute keyed with `rng_bytes`, which must be exactly `suite.key_salt_len()` bytes
    /// from a cryptographically secure generator (deterministic bytes are for tests only).
    pub fn generate(
        tag: u32,
        suite: SrtpSuite,
        rng_bytes: &[u8],
    ) -> Result<CryptoAttribute, SrtpError> {
        if rng_bytes.len() != suite.key_salt_len() {
            return Err(SrtpError::RandomLength {
                suite,
                expected: suite.key_salt_len(),
                actual: rng_bytes.len(),
            });
        }
        check_tag(tag)?;
        Ok(CryptoAttribute {
            tag,
            suite,
            key_salt: KeySalt::new(rng_bytes),
            lifetime: None,
            mki: None,
        })
    }

    /// An attribute with a fresh key from `fill`, which must fill its argument with secure
    /// random bytes.
    pub fn generate_with<F>(
        tag: u32,
        suite: SrtpSuite,
        fill: &mut F,
    ) -> Result<CryptoAttribute, SrtpError>
    where
        F: FnMut(&mut [u8]) -> Result<(), SrtpError>,
    {
        let mut bytes = Zeroizing::new([0u8; MAX_KEY_SALT_LEN]);
        let bytes = &mut bytes[..suite.key_salt_len()];
        fill(bytes)?;
        CryptoAttribute::generate(tag, suite, bytes)
    }

    /// An attribute with a fresh key from the operating system's generator.
    pub fn random(tag: u32, suite: SrtpSuite) -> Result<CryptoAttribute, SrtpError> {
        CryptoAttribute::generate_with(tag, suite, &mut system_fill)
    }

    /// The master key part of [`CryptoAttribute::key_salt`].
    pub fn master_key(&self) -> &[u8] {
        let bytes = self.key_salt.as_bytes();
        &bytes[..self.suite.key_len().min(bytes.len())]
    }

    /// The master salt part of [`CryptoAttribute::key_salt`].
    pub fn master_salt(&self) -> &[u8] {
        let bytes = self.key_salt.as_bytes();
        &bytes[self.suite.key_len().min(bytes.len())..]
    }

    /// Whether we can run SRTP with this attribute (no MKI; lengths right).
    fn usable(&self) -> bool {
        self.mki.is_none() && self.key_salt.len() == self.suite.key_salt_len()
    }
}

/// Fills `bytes` from the operating system's secure generator.
pub fn system_fill(bytes: &mut [u8]) -> Result<(), SrtpError> {
    getrandom::fill(bytes).map_err(|error| SrtpError::Randomness(error.to_string()))
}

/// Replaces the key text after every `inline:` (any case) with `<redacted>`, for logging SDP or
/// whole SIP messages. Lifetimes and MKIs after the key stay.
pub fn redact_crypto_lines(text: &str) -> String {
    const NEEDLE: &str = "inline:";
    // ASCII lowercasing keeps every byte offset, so positions found in `lower` apply to `text`.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut position = 0;
    while let Some(found) = lower[position..].find(NEEDLE) {
        let key_start = position + found + NEEDLE.len();
        out.push_str(&text[position..key_start]);
        let key_len = text[key_start..]
            .find(|c: char| c == '|' || c == ';' || c.is_whitespace())
            .unwrap_or(text.len() - key_start);
        if key_len > 0 {
            out.push_str("<redacted>");
        }
        position = key_start + key_len;
    }
    out.push_str(&text[position..]);
    out
}

/// Digits only, at most `max_digits` of them, fitting `T`.
fn parse_digits<T: FromStr>(text: &str, max_digits: usize) -> Option<T> {
    if text.is_empty() || text.len() > max_digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn check_tag(tag: u32) -> Result<(), SrtpError> {
    if tag > 999_999_999 {
        Err(SrtpError::InvalidTag)
    } else {
        Ok(())
    }
}

fn check_session_param(param: &str) -> Result<(), SrtpError> {
    let (name, value) = param.split_once('=').unwrap_or((param, ""));
    for unprotected in [
        "UNENCRYPTED_SRTP",
        "UNENCRYPTED_SRTCP",
        "UNAUTHENTICATED_SRTP",
    ] {
        if name.eq_ignore_ascii_case(unprotected) {
            return Err(SrtpError::Unprotected(unprotected));
        }
    }
    if name.eq_ignore_ascii_case("KDR") && value != "0" {
        return Err(SrtpError::UnsupportedKdr(value.chars().take(8).collect()));
    }
    Ok(())
}

fn decode_key(suite: SrtpSuite, text: &str) -> Result<KeySalt, SrtpError> {
    if text.is_empty() {
        return Err(SrtpError::Malformed("no key after inline:"));
    }
    if text.len() > MAX_KEY_BASE64_LEN {
        return Err(SrtpError::KeyLength {
            suite,
            expected: suite.key_salt_len(),
            // What the text would decode to (base64 carries 3 bytes per 4 characters).
            actual: text.len() * 3 / 4,
        });
    }
    // Capacity above the decoder's estimate for MAX_KEY_BASE64_LEN characters, so the key bytes
    // are never left behind in a reallocated, unzeroed buffer.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_BASE64_LEN));
    KEY_BASE64
        .decode_vec(text, &mut bytes)
        .map_err(|_| SrtpError::InvalidBase64)?;
    if bytes.len() != suite.key_salt_len() {
        return Err(SrtpError::KeyLength {
            suite,
            expected: suite.key_salt_len(),
            actual: bytes.len(),
        });
    }
    Ok(KeySalt(bytes))
}

/// Both sides' keys for one negotiated SDES stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    /// Our attribute: the key we protect outbound packets with. When we answered, this is the
    /// `a=crypto` value for the answer ([`CryptoAttribute::to_sdp_value`]).
    pub local: CryptoAttribute,
    /// The peer's attribute: the key its packets arrive protected with.
    pub remote: CryptoAttribute,
}

impl SrtpKeys {
    /// The negotiated suite.
    pub fn suite(&self) -> SrtpSuite {
        self.local.suite
    }

    /// The negotiated tag.
    pub fn tag(&self) -> u32 {
        self.local.tag
    }

    /// A context protecting what we send.
    pub fn outbound(&self) -> Result<SrtpContext, SrtpError> {
        SrtpContext::outbound(&self.local)
    }

    /// A context unprotecting what we receive.
    pub fn inbound(&self) -> Result<SrtpContext, SrtpError> {
        SrtpContext::inbound(&self.remote)
    }
}

/// Our offer: one `a=crypto` attribute per suite, in the given order, tagged 1, 2, 3…, each with
/// its own fresh key from `fill`. Keep the result to read the answer with [`accept_answer`].
pub fn make_offer_with<F>(
    suites: &[SrtpSuite],
    fill: &mut F,
) -> Result<Vec<CryptoAttribute>, SrtpError>
where
    F: FnMut(&mut [u8]) -> Result<(), SrtpError>,
{
    (1u32..)
        .zip(suites)
        .map(|(tag, &suite)| CryptoAttribute::generate_with(tag, suite, fill))
        .collect()
}

/// [`make_offer_with`] with keys from the operating system's generator.
pub fn make_offer(suites: &[SrtpSuite]) -> Result<Vec<CryptoAttribute>, SrtpError> {
    make_offer_with(suites, &mut system_fill)
}

/// Answers an offer (RFC 4568 §6.1): `offered` are the offer's `a=crypto` values for one media
/// stream. Lines that do not parse, use an unknown suite, carry an MKI or ask for unprotected
/// media are skipped; of the rest, the first line whose suite comes earliest in `preference` is
/// chosen. Our answer keeps its tag and suite and gets a fresh key from `fill`.
pub fn answer_offer_with<F>(
    offered: &[&str],
    preference: &[SrtpSuite],
    fill: &mut F,
) -> Result<SrtpKeys, SrtpError>
where
    F: FnMut(&mut [u8]) -> Result<(), SrtpError>,
{
    let acceptable: Vec<CryptoAttribute> = offered
        .iter()
        .filter_map(|value| CryptoAttribute::parse(value).ok())
        .filter(CryptoAttribute::usable)
        .collect();
    let remote = preference
        .iter()
        .find_map(|&suite| acceptable.iter().find(|attribute| attribute.suite == suite))
        .ok_or(SrtpError::NoAcceptableSuite)?;
    let local = CryptoAttribute::generate_with(remote.tag, remote.suite, fill)?;
    Ok(SrtpKeys {
        local,
        remote: remote.clone(),
    })
}

/// [`answer_offer_with`] with our key from the operating system's generator.
pub fn answer_offer(offered: &[&str], preference: &[SrtpSuite]) -> Result<SrtpKeys, SrtpError> {
    answer_offer_with(offered, preference, &mut system_fill)
}

/// Reads the answer to our offer: `answer` is its single `a=crypto` value, whose tag must be one
/// of `offered` and whose suite must be the one offered under that tag.
pub fn accept_answer(offered: &[CryptoAttribute], answer: &str) -> Result<SrtpKeys, SrtpError> {
    let remote = CryptoAttribute::parse(answer)?;
    let local = offered
        .iter()
        .find(|attribute| attribute.tag == remote.tag)
        .ok_or(SrtpError::UnknownAnswerTag(remote.tag))?;
    if local.suite != remote.suite {
        return Err(SrtpError::SuiteMismatch {
            tag: remote.tag,
            offered: local.suite,
            answered: remote.suite,
        });
    }
    if remote.mki.is_some() {
        return Err(SrtpError::MkiUnsupported);
    }
    Ok(SrtpKeys {
        local: local.clone(),
        remote,
    })
}

/// What an account asks of media encryption with SDES.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type,
)]
#[serde(rename_all = "lowercase")]
pub enum SrtpMode {
    /// Plain RTP only: no `a=crypto` in offers, and RTP/SAVP offers are refused.
    #[default]
    Off,
    /// Offer SRTP keys on an RTP/AVP stream (best-effort SDES) and use SRTP whenever the peer
    /// agrees; fall back to plain RTP when it does not.
    Optional,
    /// Offer RTP/SAVP and fail the call when the peer does not do SRTP.
    Required,
}

impl SrtpMode {
    /// The transport of our offer's `m=` line.
    pub const fn offer_profile(self) -> &'static str {
        match self {
            SrtpMode::Required => "RTP/SAVP",
            SrtpMode::Off | SrtpMode::Optional => "RTP/AVP",
        }
    }

    /// Whether our offers carry `a=crypto` lines.
    pub const fn offers_keys(self) -> bool {
        !matches!(self, SrtpMode::Off)
    }

    /// Answers an offer under this mode. `offer_is_savp` is whether its `m=` line says
    /// RTP/SAVP. `Ok(None)` means plain RTP; an error means the call must be refused (488), and
    /// its message says why.
    pub fn answer_with<F>(
        self,
        offer_is_savp: bool,
        offered: &[&str],
        preference: &[SrtpSuite],
        fill: &mut F,
    ) -> Result<Option<SrtpKeys>, SrtpError>
    where
        F: FnMut(&mut [u8]) -> Result<(), SrtpError>,
    {
        match (self, offer_is_savp) {
            (SrtpMode::Off, true) => Err(SrtpError::Disabled),
            (SrtpMode::Off, false) => Ok(None),
            (SrtpMode::Optional, false) => match answer_offer_with(offered, preference, fill) {
                Ok(keys) => Ok(Some(keys)),
                Err(SrtpError::NoAcceptableSuite) => Ok(None),
                Err(error) => Err(error),
            },
            (SrtpMode::Optional, true) => answer_offer_with(offered, preference, fill).map(Some),
            (SrtpMode::Required, _) => match answer_offer_with(offered, preference, fill) {
                Ok(keys) => Ok(Some(keys)),
                Err(SrtpError::NoAcceptableSuite) if offered.is_empty() => Err(SrtpError::Required),
                Err(error) => Err(error),
            },
        }
    }

    /// [`SrtpMode::answer_with`] with our key from the operating system's generator.
    pub fn answer(
        self,
        offer_is_savp: bool,
        offered: &[&str],
        preference: &[SrtpSuite],
    ) -> Result<Option<SrtpKeys>, SrtpError> {
        self.answer_with(offer_is_savp, offered, preference, &mut system_fill)
    }

    /// Reads the answer to our offer under this mode: `answered` are the answer's `a=crypto`
    /// values for the stream (zero or one). `Ok(None)` means plain RTP.
    pub fn accept_answer(
        self,
        offered: &[CryptoAttribute],
        answered: &[&str],
    ) -> Result<Option<SrtpKeys>, SrtpError> {
        match (self, answered) {
            (SrtpMode::Off, _) => Ok(None),
            (SrtpMode::Optional, []) => Ok(None),
            (SrtpMode::Required, []) => Err(SrtpError::Required),
            (_, [answer]) => accept_answer(offered, answer).map(Some),
            (_, several) => Err(SrtpError::AnswerCryptoCount(several.len())),
        }
    }
}

/// Which way an [`SrtpContext`] works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpDirection {
    /// Protects what we send, with our key.
    Outbound,
    /// Unprotects what we receive, with the peer's key, behind a replay window.
    Inbound,
}

/// SRTP and SRTCP state for one direction of one stream (all SSRCs in it).
///
/// Each call allocates inside `rtc-srtp`: its API returns a fresh `BytesMut` per packet (and
/// parsing a header with CSRCs or extensions allocates too; the first packet of a new SSRC sets
/// up its state). The result is then copied into the caller's `out`, which is cleared first and
/// keeps its capacity, so reuse one `Vec` per stream. Fine on the media thread; do not call from
/// an audio callback.
pub struct SrtpContext {
    inner: Context,
    suite: SrtpSuite,
    direction: SrtpDirection,
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("direction", &self.direction)
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// A context for `direction` keyed with `key_salt` (master key || master salt of `suite`).
    /// Inbound contexts reject replays within a [`REPLAY_WINDOW`]-packet window.
    pub fn new(
        direction: SrtpDirection,
        suite: SrtpSuite,
        key_salt: &KeySalt,
    ) -> Result<SrtpContext, SrtpError> {
        if key_salt.len() != suite.key_salt_len() {
            return Err(SrtpError::KeyLength {
                suite,
                expected: suite.key_salt_len(),
                actual: key_salt.len(),
            });
        }
        let (master_key, master_salt) = key_salt.as_bytes().split_at(suite.key_len());
        let (rtp_options, rtcp_options) = match direction {
            // Replay detection is for receiving; `None` is rtc-srtp's "no detector".
            SrtpDirection::Outbound => (None, None),
            SrtpDirection::Inbound => (
                Some(srtp_replay_protection(REPLAY_WINDOW)),
                Some(srtcp_replay_protection(REPLAY_WINDOW)),
            ),
        };
        let inner = Context::new(
            master_key,
            master_salt,
            suite.profile(),
            rtp_options,
            rtcp_options,
            &RingCrypto,
        )
        .map_err(map_error)?;
        Ok(SrtpContext {
            inner,
            suite,
            direction,
        })
    }

    /// An outbound context with our key. Refuses attributes with an MKI.
    pub fn outbound(local: &CryptoAttribute) -> Result<SrtpContext, SrtpError> {
        SrtpContext::from_attribute(SrtpDirection::Outbound, local)
    }

    /// An inbound context with the peer's key. Refuses attributes with an MKI.
    pub fn inbound(remote: &CryptoAttribute) -> Result<SrtpContext, SrtpError> {
        SrtpContext::from_attribute(SrtpDirection::Inbound, remote)
    }

    fn from_attribute(
        direction: SrtpDirection,
        attribute: &CryptoAttribute,
    ) -> Result<SrtpContext, SrtpError> {
        if attribute.mki.is_some() {
            return Err(SrtpError::MkiUnsupported);
        }
        SrtpContext::new(direction, attribute.suite, &attribute.key_salt)
    }

    /// The suite in use.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Which way this context works.
    pub fn direction(&self) -> SrtpDirection {
        self.direction
    }

    /// Protects one RTP packet (header and payload) into `out`, which grows by
    /// [`SrtpSuite::rtp_overhead`] bytes over `packet`.
    pub fn protect_rtp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        self.expect(SrtpDirection::Outbound)?;
        let protected = self.inner.encrypt_rtp(packet).map_err(map_error)?;
        copy_out(&protected, out);
        Ok(())
    }

    /// Checks and decrypts one SRTP packet into `out`. Authentication failures, replays and
    /// malformed packets are errors; `out` is then left empty.
    pub fn unprotect_rtp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        out.clear();
        self.expect(SrtpDirection::Inbound)?;
        let plain = self.inner.decrypt_rtp(packet).map_err(map_error)?;
        copy_out(&plain, out);
        Ok(())
    }

    /// Protects one (possibly compound) RTCP packet into `out`, which grows by
    /// [`SrtpSuite::rtcp_overhead`] bytes. The whole packet is encrypted.
    pub fn protect_rtcp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        self.expect(SrtpDirection::Outbound)?;
        let protected = self.inner.encrypt_rtcp(packet).map_err(map_error)?;
        copy_out(&protected, out);
        Ok(())
    }

    /// Checks and decrypts one SRTCP packet into `out`, as [`SrtpContext::unprotect_rtp`].
    pub fn unprotect_rtcp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        out.clear();
        self.expect(SrtpDirection::Inbound)?;
        // The E flag heads the 4-byte word carrying the SRTCP index: before the HMAC tag with
        // AES-CM, last with GCM (RFC 7714 §17). rtc-srtp returns AES-CM packets with the flag
        // clear unauthenticated, which would let anyone inject RTCP, so check it here.
        let (rtcp_tag, aead_tag) = match self.suite {
            SrtpSuite::AesCm128HmacSha1_80 | SrtpSuite::AesCm128HmacSha1_32 => (10, 0),
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => (0, 16),
        };
        if packet.len() < 8 + aead_tag + 4 + rtcp_tag {
            return Err(SrtpError::TooShort);
        }
        if packet[packet.len() - rtcp_tag - 4] & 0x80 == 0 {
            return Err(SrtpError::UnencryptedSrtcp);
        }
        let plain = self.inner.decrypt_rtcp(packet).map_err(map_error)?;
        copy_out(&plain, out);
        Ok(())
    }

    fn expect(&self, direction: SrtpDirection) -> Result<(), SrtpError> {
        if self.direction == direction {
            Ok(())
        } else {
            Err(SrtpError::WrongDirection(self.direction))
        }
    }
}

fn copy_out(bytes: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(bytes);
}

/// rtc-srtp's errors in our terms. Its messages carry no key material either.
fn map_error(error: CrateError) -> SrtpError {
    match error {
        CrateError::ErrFailedToVerifyAuthTag
        | CrateError::RtpFailedToVerifyAuthTag
        | CrateError::RtcpFailedToVerifyAuthTag => SrtpError::AuthenticationFailed,
        CrateError::SrtpSsrcDuplicated(ssrc, sequence) => SrtpError::Replayed {
            ssrc,
            index: u64::from(sequence),
        },
        CrateError::SrtcpSsrcDuplicated(ssrc, index) => SrtpError::Replayed {
            ssrc,
            index: index as u64,
        },
        CrateError::ErrTooShortRtp
        | CrateError::ErrTooShortRtcp
        | CrateError::SrtpTooSmall(..)
        | CrateError::SrtcpTooSmall(..)
        | CrateError::RtcpInvalidLengthAuthTag(..) => SrtpError::TooShort,
        CrateError::ErrExceededMaxPackets => SrtpError::KeyExhausted,
        CrateError::Crypto(message) | CrateError::Other(message) => SrtpError::Crypto(message),
        other => SrtpError::MalformedPacket(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
