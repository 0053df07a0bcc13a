//! HTTP Digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760), sans-IO.
//!
//! Why ours: rsipstack 0.7 only knows the token `SHA256`, while RFC 8760 servers send
//! `algorithm=SHA-256`; it also cannot tell a stale nonce from a wrong password. Here the
//! challenge is parsed leniently (both spellings), the response is computed for MD5, SHA-256 and
//! SHA-512-256 (and their `-sess` forms) with `qop=auth`, and the password is only ever used to
//! compute HA1.

use md5::{Digest as _, Md5};
use sha2::{Sha256, Sha512_256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
    Sha512_256,
}

impl Algorithm {
    fn hash(self, data: &str) -> String {
        match self {
            Self::Md5 => hex(&Md5::digest(data.as_bytes())),
            Self::Sha256 => hex(&Sha256::digest(data.as_bytes())),
            Self::Sha512_256 => hex(&Sha512_256::digest(data.as_bytes())),
        }
    }

    fn token(self, sess: bool) -> &'static str {
        match (self, sess) {
            (Self::Md5, false) => "MD5",
            (Self::Md5, true) => "MD5-sess",
            (Self::Sha256, false) => "SHA-256",
            (Self::Sha256, true) => "SHA-256-sess",
            (Self::Sha512_256, false) => "SHA-512-256",
            (Self::Sha512_256, true) => "SHA-512-256-sess",
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate: Digest ...` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    pub sess: bool,
    /// The server offered `qop=auth` (we never use `auth-int`).
    pub qop_auth: bool,
    /// The nonce expired but the credentials were right (RFC 7616 §3.3): retry at once.
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    #[error("the server asked for {0} authentication, which is not Digest")]
    NotDigest(String),
    #[error("the challenge has no {0}")]
    Missing(&'static str),
    #[error("the server asked for the unsupported digest algorithm {0}")]
    Algorithm(String),
    #[error("the server offers only qop values we do not support ({0})")]
    Qop(String),
}

impl Challenge {
    /// Parses the header value; unknown parameters are ignored.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let value = value.trim();
        let (scheme, params) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest(scheme.to_owned()));
        }
        let (mut realm, mut nonce, mut opaque, mut algorithm, mut qop, mut stale) =
            (None, None, None, None, None, false);
        for (k, v) in params_of(params) {
            match k.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "opaque" => opaque = Some(v),
                "algorithm" => algorithm = Some(v),
                "qop" => qop = Some(v),
                "stale" => stale = v.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        let algo_text = algorithm.unwrap_or_else(|| "MD5".to_owned());
        let upper = algo_text.to_ascii_uppercase();
        let (base, sess) = match upper.strip_suffix("-SESS") {
            Some(b) => (b.to_owned(), true),
            None => (upper.clone(), false),
        };
        let algorithm = match base.as_str() {
            "MD5" => Algorithm::Md5,
            // RFC 8760 spells it SHA-256; some servers (and rsipstack) use SHA256.
            "SHA-256" | "SHA256" => Algorithm::Sha256,
            "SHA-512-256" | "SHA512-256" => Algorithm::Sha512_256,
            _ => return Err(DigestError::Algorithm(algo_text)),
        };
        let qop_auth = match &qop {
            None => false,
            Some(q) if q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")) => true,
            Some(q) => return Err(DigestError::Qop(q.clone())),
        };
        Ok(Self {
            realm: realm.ok_or(DigestError::Missing("realm"))?,
            nonce: nonce.ok_or(DigestError::Missing("nonce"))?,
            opaque,
            algorithm,
            sess,
            qop_auth,
            stale,
        })
    }

    /// The `Authorization` / `Proxy-Authorization` header value for one request.
    /// `cnonce` must be fresh and unpredictable for each new nonce; `nc` counts its uses.
    pub fn authorize(
        &self,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let h = |s: &str| self.algorithm.hash(s);
        let mut ha1 = h(&format!("{user}:{}:{password}", self.realm));
        if self.sess {
            ha1 = h(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = h(&format!("{method}:{uri}"));
        let nc_text = format!("{nc:08x}");
        let response = if self.qop_auth {
            h(&format!(
                "{ha1}:{}:{nc_text}:{cnonce}:auth:{ha2}",
                self.nonce
            ))
        } else {
            h(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let mut out = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm={}",
            quote(user),
            quote(&self.realm),
            quote(&self.nonce),
            self.algorithm.token(self.sess)
        );
        if self.qop_auth {
            out.push_str(&format!(
                ", qop=auth, nc={nc_text}, cnonce=\"{}\"",
                quote(cnonce)
            ));
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
        }
        out
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `k=v, k="quoted, with commas", ...`
fn params_of(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_owned();
        let after = rest[eq + 1..].trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            (value, &q[end.min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.push((key, value));
        rest = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7616_examples_md5_and_sha256() {
        for (algo, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let c = Challenge::parse(&format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={algo}, \
                 nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                 opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            ))
            .expect("challenge");
            let auth = c.authorize(
                "Mufasa",
                "Circle of Life",
                "GET",
                "/dir/index.html",
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                1,
            );
            assert!(
                auth.contains(&format!("response=\"{expected}\"")),
                "{algo}: {auth}"
            );
            assert!(auth.contains(&format!("algorithm={algo}")) && auth.contains("nc=00000001"));
        }
    }

    #[test]
    fn rfc2617_example() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .expect("challenge");
        let auth = c.authorize(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
            1,
        );
        assert!(
            auth.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{auth}"
        );
    }

    #[test]
    fn both_sha256_spellings_and_no_qop() {
        let a = Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256")
            .expect("SHA-256");
        let b =
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA256").expect("SHA256");
        assert_eq!(a.algorithm, Algorithm::Sha256);
        assert_eq!(
            a.authorize("u", "p", "REGISTER", "sip:r", "c", 1),
            b.authorize("u", "p", "REGISTER", "sip:r", "c", 1)
        );
        // Without qop, RFC 2069 style: H(HA1:nonce:HA2), and no nc/cnonce sent.
        assert!(
            !a.authorize("u", "p", "REGISTER", "sip:r", "c", 1)
                .contains("cnonce")
        );
    }

    #[test]
    fn bad_challenges_are_explained() {
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Err(DigestError::NotDigest("Basic".into()))
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"n\""),
            Err(DigestError::Missing("realm"))
        );
        assert!(matches!(
            Challenge::parse("Digest realm=r, nonce=n, algorithm=SHA-1"),
            Err(DigestError::Algorithm(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=r, nonce=n, qop=auth-int"),
            Err(DigestError::Qop(_))
        ));
        let stale =
            Challenge::parse("Digest realm=\"a, b\", nonce=\"n\", stale=TRUE").expect("stale");
        assert!(stale.stale);
        assert_eq!(stale.realm, "a, b");
    }
}
