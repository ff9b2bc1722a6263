//! A Linux TAP interface for virtio-net tests, and a packet socket on it
//! that sees the guest's frames and sends it frames from the host.

#![allow(unsafe_code, reason = "a packet socket (socket, bind, setsockopt)")]

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;

/// The ethertype the probe guest's frames carry (local experimental).
pub const PROBE_ETHERTYPE: u16 = 0x88b5;

/// A TAP interface, up, without IPv6 (so the host sends nothing of its
/// own on it); deleted when dropped.
pub struct Tap {
    /// The interface name.
    pub name: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl Tap {
    /// A new TAP named `prefix` + this process's ID; `None` (with the
    /// reason printed) when this machine cannot make one (no
    /// CAP_NET_ADMIN or /dev/net/tun).
    pub fn create(prefix: &str) -> Option<Tap> {
        let name = format!("{prefix}{}", std::process::id() % 100_000);
        if !ip(&["tuntap", "add", "dev", &name, "mode", "tap"]) {
            println!("skipped: cannot create TAP {name} (needs CAP_NET_ADMIN and /dev/net/tun)");
            return None;
        }
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1");
        let tap = Tap { name };
        assert!(
            ip(&["link", "set", &tap.name, "up"]),
            "link {} up",
            tap.name
        );
        Some(tap)
    }

    /// A packet socket on the TAP for the probe's ethertype, with a 20 s
    /// receive timeout: reads return the guest's frames, writes reach it.
    pub fn socket(&self) -> File {
        let proto = PROBE_ETHERTYPE.to_be();
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let name = std::ffi::CString::new(self.name.as_str()).expect("a name without NUL");
        // SAFETY: a NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert_ne!(index, 0, "no interface {}", self.name);
        // SAFETY: sockaddr_ll is plain data.
        let mut a: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        a.sll_family = libc::AF_PACKET as u16;
        a.sll_protocol = proto;
        a.sll_ifindex = index as i32;
        let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `a` is a valid sockaddr_ll of `len` bytes.
        let r = unsafe { libc::bind(fd.as_raw_fd(), (&raw const a).cast(), len) };
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        let tv = libc::timeval {
            tv_sec: 20,
            tv_usec: 0,
        };
        let tvl = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
        // SAFETY: a timeval of the size given.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const tv).cast(),
                tvl,
            )
        };
        File::from(fd)
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        ip(&["link", "del", &self.name]);
    }
}
