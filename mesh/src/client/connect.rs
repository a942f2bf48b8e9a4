//! Dialing one upstream workload over mutual TLS and checking who answered.

use std::io;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};

use crate::{
    identity::{PeerId, SpiffeId},
    tls::MeshTls,
};

/// Connects to `addr` (`host:port`), presenting this workload's
/// certificate, and fails unless the server's certificate chains to the
/// mesh CA, matches the host, and names exactly `expected`.
pub async fn connect(
    tls: &MeshTls,
    addr: &str,
    server_name: ServerName<'static>,
    expected: &SpiffeId,
) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let stream = TlsConnector::from(tls.client_config())
        .connect(server_name, tcp)
        .await?;
    let leaf = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .ok_or_else(|| io::Error::other("upstream presented no certificate"))?;
    let peer = PeerId::from_leaf_der(leaf, tls.trust_domain())
        .map_err(|e| io::Error::other(format!("upstream at {addr}: {e}")))?;
    if peer.spiffe_id() != expected {
        return Err(io::Error::other(format!(
            "upstream at {addr} is {peer}, expected {expected}"
        )));
    }
    Ok(stream)
}

/// The TLS server name for a `host:port` address.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, String> {
    let (host, port) = addr.rsplit_once(':').ok_or("expected host:port")?;
    port.parse::<u16>()
        .map_err(|_| format!("'{port}' is not a port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())
}
