//! The client's address behind reverse proxies. Login limits per address and the audit log's
//! `client` need the person's address, not the proxy's; `X-Forwarded-For` carries it, but any
//! client can write that header, so it is read only from peers named by `--trusted-proxies`,
//! and only as far back as the hops those proxies appended (the rightmost address that is not
//! a trusted proxy is the client: entries to its left were written by the client itself).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The address a request is attributed to, set once per request by [`resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The proxies whose `X-Forwarded-For` is believed.
pub type TrustedProxies = Arc<[IpNet]>;

/// Parses `--trusted-proxies`: addresses or networks (`10.0.0.5`, `10.0.0.0/8`, `::1`),
/// separated by commas. An entry that is neither is refused by name.
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("trusted proxy {s:?} is not an address or a network such as 10.0.0.0/8"))
        })
        .collect()
}

/// The client of a request that arrived from `peer` with these headers.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Every X-Forwarded-For header, in order, as one list of hops (several headers and one
    // comma-separated header mean the same).
    let hops: Vec<&str> =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).collect();
    // From the right: each trusted proxy appended the address it saw. What the client wrote
    // itself lies left of its own address, so a hop that is not an address ends the walk.
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>().or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip())) else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Middleware: records [`ClientIp`] for the handlers, from the connection and the proxies'
/// headers.
pub async fn resolve(State(trusted): State<TrustedProxies>, mut req: Request, next: Next) -> Response {
    if let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) {
        let ip = client_ip(peer, req.headers(), &trusted);
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = parse_trusted("10.0.0.0/8, 192.0.2.7").unwrap();
        let h = headers(&["203.0.113.9"]);
        // Straight from a client: the header is its own claim and is ignored.
        assert_eq!(client_ip(ip("198.51.100.1"), &h, &trusted), ip("198.51.100.1"));
        // From a trusted proxy: the address it appended.
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("192.0.2.7"), &h, &trusted), ip("203.0.113.9"));
        // Nothing trusted: nothing read.
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &[]), ip("10.1.2.3"));
    }

    #[test]
    fn a_client_cannot_pick_its_address_by_writing_the_header_itself() {
        let trusted = parse_trusted("10.0.0.0/8").unwrap();
        // The client wrote "1.2.3.4"; the proxy appended the address it saw.
        let h = headers(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        // Two proxies in a row (the second one's hop is trusted), across two headers.
        let h = headers(&["1.2.3.4", "203.0.113.9, 10.0.0.1"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        // Only proxies: the first of them.
        let h = headers(&["10.0.0.9, 10.0.0.1"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.9"));
        // Garbage the client wrote stays left of its address and is never read.
        let h = headers(&["not-an-address, 203.0.113.9"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        // Garbage from a proxy (a misconfigured one): the last address a trusted hop vouched for.
        let h = headers(&["203.0.113.9, not-an-address"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.2"));
        // With a port, and IPv6.
        let h = headers(&["[2001:db8::1]:443"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("2001:db8::1"));
    }

    #[test]
    fn a_bad_entry_is_named() {
        assert_eq!(parse_trusted("").unwrap(), vec![]);
        assert_eq!(parse_trusted("::1").unwrap(), vec![IpNet::from(ip("::1"))]);
        let e = parse_trusted("10.0.0.1, proxy.internal").unwrap_err();
        assert!(e.contains("\"proxy.internal\""), "{e}");
    }
}
