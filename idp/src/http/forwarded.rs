//! Who the caller is behind a reverse proxy: `Forwarded: for=` (RFC 7239) or
//! `X-Forwarded-For`, believed only when the peer is one of `[server] trusted_proxies`.
//!
//! Each proxy appends the address it received the request from, so the list is read from the
//! right: trusted proxies are skipped and the first address that is not one of them is the
//! client. Entries to its left were written by whoever the client is and prove nothing, so a
//! client cannot pass for another address by sending the header itself. A chain that cannot be
//! read up to that address (an obfuscated or unknown node, a malformed header) gives the peer.

use axum::http::header::{HeaderMap, FORWARDED};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The parsed `[server] trusted_proxies`; empty (the default) trusts no peer's headers.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Parses IPs (`10.1.2.3`, `::1`) and CIDRs (`10.0.0.0/8`); the error is the bad entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                e.parse::<IpNet>()
                    .map(|n| n.trunc())
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|nets| TrustedProxies(nets.into()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy; an IPv4-mapped IPv6 address counts as its IPv4 one.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.0
            .iter()
            .any(|n| n.contains(&ip) || n.contains(&canonical))
    }
}

/// The caller's address: `peer` itself unless `peer` is trusted and the forwarding headers
/// name someone else (see the module's documentation).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    if !trusted.contains(peer) {
        return peer;
    }
    let chain = if headers.contains_key(FORWARDED) {
        joined(headers, FORWARDED.as_str()).and_then(|v| forwarded_for(&v))
    } else if headers.contains_key(X_FORWARDED_FOR) {
        joined(headers, X_FORWARDED_FOR).and_then(|v| x_forwarded_for(&v))
    } else {
        return peer;
    };
    let Some(chain) = chain else { return peer };
    from_the_right(&chain, trusted).unwrap_or(peer)
}

/// The first untrusted address from the right; when every hop is trusted, the left-most.
/// `None` when an unreadable node comes first (the client is hidden from us).
fn from_the_right(chain: &[Option<IpAddr>], trusted: &TrustedProxies) -> Option<IpAddr> {
    let mut last = None;
    for hop in chain.iter().rev() {
        let ip = (*hop)?;
        if !trusted.contains(ip) {
            return Some(ip);
        }
        last = Some(ip);
    }
    last
}

/// Every value of `name`, in order, as one comma-separated list (RFC 9110 §5.3). `None` for
/// a value that is not visible ASCII, which no well-behaved proxy writes.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Option<Vec<&str>> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().ok())
        .collect();
    Some(values?.join(","))
}

/// The `for=` node of each element of a `Forwarded` value, left to right: `Some(ip)`, or
/// `None` for `unknown`, an obfuscated identifier or an element without `for=`. `None` overall
/// when the value does not parse.
fn forwarded_for(value: &str) -> Option<Vec<Option<IpAddr>>> {
    let mut chain = Vec::new();
    for element in split_outside_quotes(value, ',')? {
        if element.trim().is_empty() {
            continue;
        }
        let mut node = None;
        for pair in split_outside_quotes(element, ';')? {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let (name, v) = pair.split_once('=')?;
            if name.trim().eq_ignore_ascii_case("for") {
                node = Some(unquote(v.trim())?);
            }
        }
        chain.push(node.and_then(|n| parse_node(&n)));
    }
    (!chain.is_empty()).then_some(chain)
}

/// The entries of an `X-Forwarded-For` value, left to right (`None` for one that is not an
/// address); `None` overall when the list is empty.
fn x_forwarded_for(value: &str) -> Option<Vec<Option<IpAddr>>> {
    let chain: Vec<Option<IpAddr>> = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(parse_node)
        .collect();
    (!chain.is_empty()).then_some(chain)
}

/// An address with or without a port: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = node.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    node.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .and_then(|n| n.parse::<std::net::Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// A token or a quoted-string (RFC 9110 §5.6.4) without its quotes and escapes.
fn unquote(v: &str) -> Option<String> {
    let Some(inner) = v.strip_prefix('"') else {
        return (!v.contains('"')).then(|| v.to_string());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Splits on `sep` outside quoted-strings; `None` when a quote is left open.
fn split_outside_quotes(s: &str, sep: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    if quoted {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn entries_are_ips_or_cidrs_and_a_bad_one_is_named() {
        let t = trusted(&[
            "127.0.0.1",
            "10.0.0.0/8",
            "::1",
            "fd00::/8",
            " 192.168.1.7/24 ",
        ]);
        for yes in ["127.0.0.1", "10.200.3.4", "::1", "fd12::3", "192.168.1.200"] {
            assert!(t.contains(ip(yes)), "{yes}");
        }
        for no in ["127.0.0.2", "11.0.0.1", "::2", "192.168.2.1"] {
            assert!(!t.contains(ip(no)), "{no}");
        }
        assert!(
            t.contains(ip("::ffff:10.1.1.1")),
            "IPv4-mapped counts as IPv4"
        );
        assert_eq!(
            TrustedProxies::parse(&["10.0.0.0/8", "10.0.0.0/33"]).unwrap_err(),
            "10.0.0.0/33"
        );
        assert_eq!(
            TrustedProxies::parse(&["proxy.example.com"]).unwrap_err(),
            "proxy.example.com"
        );
        assert!(TrustedProxies::default().is_empty());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        assert_eq!(client_ip(ip("198.51.100.1"), &h, &t), ip("198.51.100.1"));
        let nobody = TrustedProxies::default();
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &nobody), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_peer_without_headers_is_the_client() {
        let t = trusted(&["127.0.0.1"]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &HeaderMap::new(), &t),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right_and_spoofed_left_entries_are_ignored() {
        let t = trusted(&["127.0.0.1", "10.0.0.0/8"]);
        // The client put 1.1.1.1 there itself; the edge proxy appended the real 203.0.113.9,
        // an inner proxy appended the edge's address.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &t), ip("203.0.113.9"));
        // Several header lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9, 10.0.0.5"),
        ]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &t), ip("203.0.113.9"));
        // Ports and brackets, as some proxies write them.
        let h = headers(&[("x-forwarded-for", "[2001:db8::17]:4711, 10.0.0.5:80")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &t), ip("2001:db8::17"));
        let h = headers(&[("x-forwarded-for", "2001:db8::18")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &t), ip("2001:db8::18"));
        // Every hop trusted: the left-most is as far as anyone can tell.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.5")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &t), ip("10.9.9.9"));
    }

    #[test]
    fn forwarded_is_read_like_rfc_7239_says() {
        let t = trusted(&["127.0.0.1", "10.0.0.0/8", "2001:db8:cafe::/48"]);
        let h = headers(&[(
            "forwarded",
            "for=1.1.1.1, for=192.0.2.60;proto=http;by=203.0.113.43, \
             For=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &t), ip("192.0.2.60"));
        let h = headers(&[("forwarded", "proto=https;for=\"[2001:db8::9]\";host=x")]);
        assert_eq!(client_ip(ip("10.1.1.1"), &h, &t), ip("2001:db8::9"));
        // A quoted comma does not split elements.
        let h = headers(&[("forwarded", "for=192.0.2.61;by=\"a,b\"")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &t), ip("192.0.2.61"));
        // Forwarded wins over X-Forwarded-For when both are sent.
        let h = headers(&[
            ("forwarded", "for=192.0.2.62"),
            ("x-forwarded-for", "192.0.2.99"),
        ]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &t), ip("192.0.2.62"));
    }

    #[test]
    fn obfuscated_unknown_or_garbage_gives_the_peer() {
        let t = trusted(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        for (name, value) in [
            ("forwarded", "for=_hidden, for=10.0.0.5"),
            ("forwarded", "for=unknown"),
            ("forwarded", "for=\"_gazonk\""),
            ("forwarded", "by=10.0.0.5"),
            ("forwarded", "for=\"192.0.2.1"),
            ("forwarded", "for"),
            ("forwarded", ""),
            ("forwarded", "for=192.0.2.1\""),
            ("x-forwarded-for", "not an address"),
            ("x-forwarded-for", "192.0.2.1, garbage, 10.0.0.5"),
            ("x-forwarded-for", ", ,"),
            ("x-forwarded-for", "999.1.1.1"),
        ] {
            let h = headers(&[(name, value)]);
            assert_eq!(client_ip(peer, &h, &t), peer, "{name}: {value}");
        }
        // Garbage to the left of the client does not matter: the client is found first.
        let h = headers(&[("x-forwarded-for", "garbage, 192.0.2.1, 10.0.0.5")]);
        assert_eq!(client_ip(peer, &h, &t), ip("192.0.2.1"));
        // A value that is not visible ASCII.
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"192.0.2.1\xff").unwrap(),
        );
        assert_eq!(client_ip(peer, &h, &t), peer);
    }
}
