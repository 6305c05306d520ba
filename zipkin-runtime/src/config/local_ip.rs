//! The local endpoint's address, found once.

use std::net::IpAddr;

/// The first non-loopback IPv4 address of this host (else IPv6, else none). Read from the
/// interface list; no packet is sent.
pub(crate) fn local_ip() -> Option<IpAddr> {
    // Miri runs no `getifaddrs`.
    if cfg!(miri) {
        return None;
    }
    let addrs = if_addrs::get_if_addrs().ok()?;
    let mut v6 = None;
    for a in addrs {
        if a.is_loopback() {
            continue;
        }
        match a.ip() {
            ip @ IpAddr::V4(_) => return Some(ip),
            ip @ IpAddr::V6(v) if v6.is_none() && (v.segments()[0] & 0xffc0) != 0xfe80 => {
                v6 = Some(ip)
            }
            _ => {}
        }
    }
    v6
}
