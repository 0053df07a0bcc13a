//! The connection-oriented flow to the registrar (TCP or TLS): dialled by us, handed to
//! rsipstack's transport layer so every request and call of the account reuses it, kept alive
//! with CRLF pings (RFC 5626 §4.4.1) and watched so a broken flow re-registers at once.
//!
//! We dial ourselves instead of letting rsipstack dial on first use because its lazy path
//! (0.7.14) trusts an empty root store unless PEM is passed in, cannot take "system roots", and
//! gives no handle to notice the flow dying.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::sip::transport::Transport as WireTransport;
use rsipstack::transport::stream::StreamConnection;
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::tls::TlsConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_util::sync::CancellationToken;

use crate::account::{TlsSettings, Transport};

/// How long a dial (TCP connect and TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// CRLF ping interval on a stream flow (RFC 5626 suggests 95–120 s for TCP behind NAT; we ping
/// more often so a dead server is noticed within a minute and a half).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(25);
/// A flow that carries no byte for this long (three unanswered pings) is dead.
pub const FLOW_SILENCE_LIMIT: Duration = Duration::from_secs(80);

/// Why a flow could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("{0}")]
    Tls(String),
    #[error("{0}")]
    Network(String),
}

/// A live TCP or TLS connection to the registrar, registered with rsipstack's transport layer.
#[derive(Clone)]
pub struct Flow {
    pub(crate) connection: SipConnection,
    /// Our end of the connection (the Contact and Via of the account while it lives).
    pub local: SocketAddr,
    /// The server end, as rsipstack's connection table knows it.
    pub remote: SipAddr,
    token: CancellationToken,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("local", &self.local)
            .field("remote", &self.remote.to_string())
            .finish()
    }
}

impl Flow {
    /// Dials `server` over `transport` (TCP or TLS) and hands the connection to `layer`.
    /// `server_name` is the name the TLS certificate must carry (an IP literal works too).
    pub async fn open(
        layer: &TransportLayer,
        transport: Transport,
        server: SocketAddr,
        server_name: &str,
        tls: &TlsSettings,
    ) -> Result<Self, FlowError> {
        let wire = match transport {
            Transport::Tcp => WireTransport::Tcp,
            Transport::Tls => WireTransport::Tls,
            Transport::Udp => return Err(FlowError::Network("UDP has no flow to open".into())),
        };
        let remote = SipAddr {
            r#type: Some(wire),
            addr: server.into(),
        };
        let token = CancellationToken::new();
        let dial = async {
            let stream = tokio::net::TcpStream::connect(server)
                .await
                .map_err(|e| FlowError::Network(format!("cannot connect to {server}: {e}")))?;
            // Without this, Nagle holds a small request (the authenticated INVITE right after
            // the ACK of the 407) until the server's delayed ACK: about 40 ms per call set-up.
            stream
                .set_nodelay(true)
                .map_err(|e| FlowError::Network(e.to_string()))?;
            match transport {
                Transport::Tls => {
                    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                        rustls::crypto::ring::default_provider(),
                    ))
                    .with_safe_default_protocol_versions()
                    .map_err(|e| FlowError::Tls(e.to_string()))?
                    .dangerous()
                    .with_custom_certificate_verifier(verifier(tls)?)
                    .with_no_client_auth();
                    let name = ServerName::try_from(server_name.to_owned()).map_err(|_| {
                        FlowError::Tls(format!("{server_name} is not a valid TLS server name"))
                    })?;
                    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                        .connect(name, stream)
                        .await
                        .map_err(|e| classify(&e.to_string()))?;
                    TlsConnection::from_client_stream(stream, remote.clone(), Some(token.clone()))
                        .await
                        .map(SipConnection::Tls)
                        .map_err(|e| classify(&e.to_string()))
                }
                _ => {
                    let local = stream
                        .local_addr()
                        .map_err(|e| FlowError::Network(e.to_string()))?;
                    let local = SipAddr {
                        r#type: Some(WireTransport::Tcp),
                        addr: local.into(),
                    };
                    TcpConnection::from_stream(stream, local, Some(token.clone()))
                        .map(SipConnection::Tcp)
                        .map_err(|e| FlowError::Network(e.to_string()))
                }
            }
        };
        let connection = tokio::time::timeout(CONNECT_TIMEOUT, dial)
            .await
            .map_err(|_| FlowError::Network(format!("no connection to {server} within 10 s")))??;
        let local = connection
            .get_addr()
            .get_socketaddr()
            .map_err(|e| FlowError::Network(e.to_string()))?;
        layer.set_stream_idle_timeout(FLOW_SILENCE_LIMIT);
        layer.add_connection(connection.clone());
        Ok(Self {
            connection,
            local,
            remote,
            token,
        })
    }

    /// Resolves when the flow is gone (closed by the server, reset, or silent too long).
    pub async fn broken(&self) {
        self.token.cancelled().await;
    }

    pub fn is_broken(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Sends a CRLF keep-alive ping; the server's CRLF pong keeps the flow counted as alive.
    pub async fn ping(&self) -> Result<(), FlowError> {
        let sent = match &self.connection {
            SipConnection::Tcp(c) => c.send_raw(b"\r\n\r\n").await,
            SipConnection::Tls(c) => c.send_raw(b"\r\n\r\n").await,
            _ => Ok(()),
        };
        sent.map_err(|e| {
            self.token.cancel();
            FlowError::Network(e.to_string())
        })
    }

    /// Closes the connection (on quit, after the un-REGISTER).
    pub async fn close(&self) {
        let _ = self.connection.close().await;
        self.token.cancel();
    }

    /// The transport parameter value for URIs over this flow.
    pub fn transport_param(&self) -> &'static str {
        match self.remote.r#type {
            Some(WireTransport::Tls) => "tls",
            _ => "tcp",
        }
    }
}

fn classify(detail: &str) -> FlowError {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("alert")
    {
        FlowError::Tls(detail.to_owned())
    } else {
        FlowError::Network(detail.to_owned())
    }
}

/// The certificate check for `tls`: the CA file's roots or the system's, or none at all when
/// the user switched verification off for this account.
fn verifier(tls: &TlsSettings) -> Result<Arc<dyn ServerCertVerifier>, FlowError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    if !tls.verify_server {
        return Ok(Arc::new(AnyCertificate(provider)));
    }
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in read_pem(path)? {
                roots
                    .add(cert)
                    .map_err(|e| FlowError::Tls(format!("CA file {}: {e}", path.display())))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err(FlowError::Tls("no trusted CA certificates found".into()));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map(|v| v as Arc<dyn ServerCertVerifier>)
        .map_err(|e| FlowError::Tls(e.to_string()))
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, FlowError> {
    let bytes = std::fs::read(path)
        .map_err(|e| FlowError::Tls(format!("cannot read the CA file {}: {e}", path.display())))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| FlowError::Tls(format!("CA file {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(FlowError::Tls(format!(
            "the CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Accepts any server certificate: only when the user turned verification off.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_a_tls_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("nope.pem");
        let tls = TlsSettings {
            verify_server: true,
            ca_file: Some(missing.clone()),
        };
        let Err(FlowError::Tls(why)) = verifier(&tls) else {
            panic!("a missing CA file must fail")
        };
        assert!(why.contains("nope.pem"), "{why}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let tls = TlsSettings {
            verify_server: true,
            ca_file: Some(empty),
        };
        let Err(FlowError::Tls(why)) = verifier(&tls) else {
            panic!("an empty CA file must fail")
        };
        assert!(why.contains("no PEM certificate"), "{why}");
    }

    #[test]
    fn verification_can_be_switched_off_and_system_roots_load() {
        let off = TlsSettings {
            verify_server: false,
            ca_file: None,
        };
        assert!(verifier(&off).is_ok());
        // Debian ships ca-certificates; the system store is what "no CA file" means.
        assert!(verifier(&TlsSettings::default()).is_ok());
    }
}
