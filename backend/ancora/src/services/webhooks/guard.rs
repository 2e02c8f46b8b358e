//! Where a webhook may point (server-side request forgery): an `https://` URL whose host
//! resolves only to public addresses — never loopback, private (RFC 1918, unique local),
//! link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast, documentation
//! or otherwise reserved ranges, IPv4 inside IPv6 included. The single exception, for
//! development and tests, is `http://127.0.0.1:PORT` (or https) when
//! `ANCORA_WEBHOOKS_ALLOW_LOOPBACK=true`.
//!
//! The check runs when an endpoint is registered and again before every send, on the
//! addresses the send then connects to (pinned, so a DNS answer cannot change in between);
//! redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// Why a URL is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    /// Not a URL at all, or one without a host.
    #[error("url is not an absolute URL: {0}")]
    Unreadable(String),
    /// Not https.
    #[error(
        "url must use https:// (plain http is accepted only for http://127.0.0.1:PORT with ANCORA_WEBHOOKS_ALLOW_LOOPBACK=true)"
    )]
    NotHttps,
    /// User name or password in the URL.
    #[error("url must not carry a user name or password")]
    Credentials,
    /// Too long.
    #[error("url must be at most 2048 characters")]
    TooLong,
    /// The host resolves to an address that is not public.
    #[error(
        "url's host {host} resolves to {addr}, a {kind} address; webhooks go to public addresses only"
    )]
    Private {
        /// The host as written.
        host: String,
        /// The offending address.
        addr: IpAddr,
        /// What kind of address it is.
        kind: &'static str,
    },
    /// The host does not resolve.
    #[error("url's host {0} does not resolve")]
    Unresolvable(String),
}

/// A URL that passed the check, with the addresses to connect to.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The URL.
    pub url: Url,
    /// Its host when it is a name (to pin its addresses), `None` for an address literal.
    pub domain: Option<String>,
    /// Every address the host resolved to, each one allowed.
    pub addrs: Vec<SocketAddr>,
}

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Checks the URL's form (no resolving): https (or the loopback exception), no credentials.
pub fn parse(raw: &str, allow_loopback: bool) -> Result<Url, UrlRefused> {
    if raw.len() > MAX_URL_LEN {
        return Err(UrlRefused::TooLong);
    }
    let url = Url::parse(raw.trim()).map_err(|e| UrlRefused::Unreadable(e.to_string()))?;
    if url.host().is_none() {
        return Err(UrlRefused::Unreadable("no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_loopback && is_loopback_exception(&url) => Ok(url),
        _ => Err(UrlRefused::NotHttps),
    }
}

/// `127.0.0.1` written as an address (not a name that resolves to it).
fn is_loopback_exception(url: &Url) -> bool {
    matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip == Ipv4Addr::LOCALHOST)
}

/// Checks the URL and every address its host resolves to now.
pub async fn check(raw: &str, allow_loopback: bool) -> Result<Checked, UrlRefused> {
    let url = parse(raw, allow_loopback)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let (domain, addrs) = match url.host() {
        Some(url::Host::Ipv4(ip)) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(url::Host::Ipv6(ip)) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(url::Host::Domain(d)) => {
            let d = d.to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((d.as_str(), port))
                .await
                .map_err(|_| UrlRefused::Unresolvable(d.clone()))?
                .collect();
            if found.is_empty() {
                return Err(UrlRefused::Unresolvable(d));
            }
            (Some(d), found)
        }
        None => return Err(UrlRefused::Unreadable("no host".into())),
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    for a in &addrs {
        let ip = a.ip();
        let loopback_ok =
            allow_loopback && ip == IpAddr::V4(Ipv4Addr::LOCALHOST) && domain.is_none();
        if loopback_ok {
            continue;
        }
        if let Some(kind) = not_public(ip) {
            return Err(UrlRefused::Private {
                host,
                addr: ip,
                kind,
            });
        }
    }
    Ok(Checked { url, domain, addrs })
}

/// What kind of non-public address `ip` is, or `None` when it is public.
pub fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let kind = match o {
        [0, ..] => "unspecified (0.0.0.0/8)",
        [10, ..] => "private (10.0.0.0/8)",
        [100, b, ..] if (64..128).contains(&b) => "carrier-grade NAT (100.64.0.0/10)",
        [127, ..] => "loopback",
        [169, 254, ..] => "link-local",
        [172, b, ..] if (16..32).contains(&b) => "private (172.16.0.0/12)",
        [192, 0, 0, _] => "IETF protocol assignment (192.0.0.0/24)",
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => "documentation",
        [192, 88, 99, _] => "6to4 relay anycast",
        [192, 168, ..] => "private (192.168.0.0/16)",
        [198, b, ..] if b == 18 || b == 19 => "benchmarking (198.18.0.0/15)",
        [a, ..] if (224..240).contains(&a) => "multicast",
        [a, ..] if a >= 240 => "reserved",
        _ => return None,
    };
    Some(kind)
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    let s = ip.segments();
    let kind = match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback",
        // IPv4-compatible (deprecated) and NAT64 embed an IPv4 address: judge that one.
        [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => {
            let v4 = Ipv4Addr::new(
                (s[6] >> 8) as u8,
                (s[6] & 0xff) as u8,
                (s[7] >> 8) as u8,
                (s[7] & 0xff) as u8,
            );
            return v4_kind(v4).or(Some("IPv4-embedding"));
        }
        [0x100, 0, 0, 0, ..] => "discard-only (100::/64)",
        [0x2001, 0xdb8, ..] => "documentation",
        [0x2002, ..] => "6to4",
        [a, ..] if a & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        [a, ..] if a & 0xffc0 == 0xfe80 => "link-local",
        [a, ..] if a & 0xffc0 == 0xfec0 => "site-local",
        [a, ..] if a & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_embedded_addresses_are_not_public() {
        for a in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "ff02::1",
        ] {
            let ip: IpAddr = a.parse().expect("ip");
            assert!(not_public(ip).is_some(), "{a} should not be public");
        }
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = a.parse().expect("ip");
            assert_eq!(not_public(ip), None, "{a} is public");
        }
    }

    #[test]
    fn only_https_without_credentials_or_the_loopback_exception_parses() {
        assert!(parse("https://hooks.example.com/x", false).is_ok());
        assert_eq!(
            parse("http://hooks.example.com/x", false),
            Err(UrlRefused::NotHttps)
        );
        assert_eq!(
            parse("http://127.0.0.1:9000/x", false),
            Err(UrlRefused::NotHttps)
        );
        assert!(parse("http://127.0.0.1:9000/x", true).is_ok());
        assert_eq!(
            parse("http://localhost:9000/x", true),
            Err(UrlRefused::NotHttps)
        );
        assert_eq!(
            parse("https://u:p@hooks.example.com/", false),
            Err(UrlRefused::Credentials)
        );
        assert!(matches!(parse("ftp://x", false), Err(UrlRefused::NotHttps)));
        assert!(matches!(
            parse("nope", false),
            Err(UrlRefused::Unreadable(_))
        ));
    }

    #[tokio::test]
    async fn an_address_literal_in_a_private_range_is_refused_and_loopback_only_when_allowed() {
        assert!(matches!(
            check("https://10.0.0.5/hook", true).await,
            Err(UrlRefused::Private { .. })
        ));
        assert!(matches!(
            check("https://[::1]/hook", true).await,
            Err(UrlRefused::Private { .. })
        ));
        assert!(matches!(
            check("https://127.0.0.1:8443/hook", false).await,
            Err(UrlRefused::Private { .. })
        ));
        assert!(check("http://127.0.0.1:8443/hook", true).await.is_ok());
        assert!(check("https://8.8.8.8/hook", false).await.is_ok());
    }
}
