//! `virtio-net`: a virtio network device (type 1) with one receive and one
//! transmit queue and `VIRTIO_NET_F_MAC`.
//!
//! `mac xx:xx:xx:xx:xx:xx` is the guest's address (default
//! `02:48:56:xx:xx:xx`, locally administered, the rest random). `peer`
//! names the other end of the cable:
//! - `peer tap:NAME`: the Linux TAP interface NAME (created if missing,
//!   needs CAP_NET_ADMIN); frames go to and come from the host's stack;
//! - `peer unix:PATH` (or `peer PATH`): another hvhost VM, over a Unix
//!   `SOCK_SEQPACKET` socket at PATH, one frame per message. The VM that
//!   starts first listens at PATH, the second connects to it;
//! - none: the cable is unplugged (frames sent are dropped, none arrive).
//!
//! A reader thread takes frames from the peer into a queue of at most
//! [`MAX_PENDING`] frames and wakes the device's worker; when that is full
//! it stops reading (the peer's socket or the TAP's queue holds the rest),
//! so frames wait for the guest's receive buffers instead of being dropped.
//! Frames are sent with a blocking write (at most one second, then the
//! frame is dropped); each has the 12-byte `virtio_net_hdr` before it, with
//! no offloads.

#![allow(unsafe_code, reason = "TUNSETIFF ioctl, poll(2) and socket options")]

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use super::{Chain, ChainReader, ChainWriter, Malformed, Memory, Served, VirtioDevice, mmio};
use crate::decl::{Applied, Attachment, DeviceDecl, OptDecl, ValueType};
use crate::{Context, Error, Value, VdevSpec, catalogue};

/// `mac`.
pub const MAC: OptDecl =
    OptDecl::new("mac", ValueType::Mac, "the guest's MAC address").hvhost(Applied::Runs);
/// `peer`.
pub const PEER: OptDecl = OptDecl::new(
    "peer",
    ValueType::Text,
    "the other end: `tap:NAME` (a host TAP), `unix:PATH` or a path (another hvhost VM)",
)
.hvhost(Applied::Runs);

/// What `virtio-net` declares.
pub const DECL: DeviceDecl = DeviceDecl::new("virtio-net", "virtio network device")
    .memory(mmio::WINDOW, None)
    .attachment(Attachment::Virtio)
    .options(&[
        MAC,
        PEER,
        OptDecl::new(
            "peerfeats",
            ValueType::Mask,
            "virtio features offered to the peer",
        ),
        catalogue::LEGACY,
    ]);

/// Received frames held for the guest at most.
pub const MAX_PENDING: usize = 256;
/// Bytes of `virtio_net_hdr` (with VERSION_1).
pub const HDR: usize = 12;
/// The largest frame carried (no GSO).
const MAX_FRAME: usize = 65_535;
const F_MAC: u64 = 1 << virtio_bindings::virtio_net::VIRTIO_NET_F_MAC;
const RX: usize = 0;
const QUEUE: u16 = 256;

/// Where frames go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Peer {
    None,
    Tap(String),
    Unix(String),
}

fn peer(spec: &VdevSpec) -> Result<Peer, Error> {
    match spec.value(&PEER) {
        None => Ok(Peer::None),
        Some(Value::Text(t)) => match t.split_once(':') {
            Some(("tap", name)) if !name.is_empty() && name.len() < 16 => {
                Ok(Peer::Tap(name.into()))
            }
            Some(("tap", _)) => Err(spec.bad("`peer tap:NAME` needs a name of 1 to 15 bytes")),
            Some(("unix", path)) if !path.is_empty() => Ok(Peer::Unix(path.into())),
            _ if t.starts_with('/') || t.starts_with('.') => Ok(Peer::Unix(t.clone())),
            _ => Err(spec.bad(format!(
                "`peer {t}`: give `tap:NAME`, `unix:PATH` or a socket path"
            ))),
        },
        Some(_) => Err(spec.bad("`peer` takes a word")),
    }
}

/// `peer` is one hvhost can connect.
pub(crate) fn check(spec: &VdevSpec) -> Result<(), Error> {
    peer(spec).map(|_| ())
}

fn host_err(what: &str, source: std::io::Error) -> Error {
    Error::HostFile {
        vdev: DECL.name.into(),
        path: what.into(),
        source,
    }
}

/// The device with its peer connected (or listening).
pub(crate) fn build(spec: &VdevSpec, ctx: &Context) -> Result<Box<dyn VirtioDevice>, Error> {
    let mac = match spec.value(&MAC) {
        Some(Value::Mac(m)) => *m,
        _ => {
            let mut m = [0x02, 0x48, 0x56, 0, 0, 0];
            let _ = getrandom::fill(&mut m[3..]);
            m
        }
    };
    Ok(Box::new(Net::new(mac, peer(spec)?, ctx.logger.clone())?))
}

/// Frames received, shared with the reader thread.
struct Inbox {
    frames: Mutex<VecDeque<Vec<u8>>>,
    room: Condvar,
    wake: Arc<EventFd>,
    stop: AtomicBool,
}

/// The network device.
pub struct Net {
    mac: [u8; 6],
    out: Arc<Mutex<Option<File>>>,
    inbox: Arc<Inbox>,
    reader: Option<std::thread::JoinHandle<()>>,
    buf: Vec<u8>,
    logger: crate::Logger,
}

impl Net {
    fn new(mac: [u8; 6], peer: Peer, logger: crate::Logger) -> Result<Net, Error> {
        let wake = Arc::new(EventFd::new(EFD_NONBLOCK).map_err(|e| host_err("eventfd", e))?);
        let inbox = Arc::new(Inbox {
            frames: Mutex::new(VecDeque::new()),
            room: Condvar::new(),
            wake,
            stop: AtomicBool::new(false),
        });
        let out = Arc::new(Mutex::new(None));
        let link = match peer {
            Peer::None => None,
            Peer::Tap(name) => Some(Link::Ready(tap(&name)?)),
            Peer::Unix(path) => Some(unix(&path)?),
        };
        if let Some(Link::Ready(f)) = &link {
            let w = f.try_clone().map_err(|e| host_err("peer", e))?;
            *out.lock().unwrap_or_else(|p| p.into_inner()) = Some(w);
        }
        let reader = match link {
            None => None,
            Some(link) => {
                let (inbox, out) = (inbox.clone(), out.clone());
                let t = std::thread::Builder::new()
                    .name("virtio-net-rx".into())
                    .stack_size(256 * 1024)
                    .spawn(move || read_frames(link, &inbox, &out))
                    .map_err(|e| host_err("reader thread", e))?;
                Some(t)
            }
        };
        Ok(Net {
            mac,
            out,
            inbox,
            reader,
            buf: vec![0; HDR + MAX_FRAME],
            logger,
        })
    }

    /// A device with no peer (the cable unplugged): what it sends is
    /// dropped, and frames arrive only through [`Net::deliver`].
    pub fn unplugged(mac: [u8; 6], logger: crate::Logger) -> Result<Net, Error> {
        Net::new(mac, Peer::None, logger)
    }

    /// A frame arrives as if from the peer (false: the queue is full).
    pub fn deliver(&self, frame: &[u8]) -> bool {
        let mut q = self.inbox.frames.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= MAX_PENDING {
            return false;
        }
        q.push_back(frame[..frame.len().min(MAX_FRAME)].to_vec());
        true
    }

    fn receive(&mut self, chain: &Chain, mem: &Memory) -> Result<Served, Malformed> {
        if chain.readable().next().is_some() {
            return Err(Malformed::new("a receive buffer the device should read"));
        }
        let mut q = self.inbox.frames.lock().unwrap_or_else(|p| p.into_inner());
        let Some(frame) = q.pop_front() else {
            return Ok(Served::Later);
        };
        if q.len() < MAX_PENDING {
            self.inbox.room.notify_one();
        }
        drop(q);
        if (HDR + frame.len()) as u64 > chain.writable_len() {
            self.logger.debug(format_args!(
                "virtio-net: a {}-byte frame does not fit the guest's buffer: dropped",
                frame.len()
            ));
            return Ok(Served::Used(0));
        }
        let mut w = ChainWriter::new(chain, mem);
        let mut hdr = [0u8; HDR];
        hdr[10] = 1; // num_buffers
        w.write(&hdr)?;
        w.write(&frame)?;
        Ok(Served::Used(w.written()))
    }

    fn transmit(&mut self, chain: &Chain, mem: &Memory) -> Result<Served, Malformed> {
        if chain.writable().next().is_some() {
            return Err(Malformed::new("a transmit buffer the device should write"));
        }
        let len = chain.readable_len();
        if len < HDR as u64 {
            return Err(Malformed::new("a transmit buffer without its header"));
        }
        if len > (HDR + MAX_FRAME) as u64 {
            return Ok(Served::Used(0)); // larger than any frame: dropped
        }
        let n = ChainReader::new(chain, mem).read(&mut self.buf)?;
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = out.as_mut()
            && f.write_all(&self.buf[HDR..n]).is_err()
        {
            self.logger
                .debug("virtio-net: the peer did not take a frame: dropped");
        }
        Ok(Served::Used(0))
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.inbox.stop.store(true, Ordering::SeqCst);
        self.inbox.room.notify_all();
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
    }
}

impl VirtioDevice for Net {
    fn name(&self) -> &'static str {
        DECL.name
    }
    fn device_type(&self) -> u32 {
        1
    }
    fn features(&self) -> u64 {
        F_MAC
    }
    fn queue_max_sizes(&self) -> &'static [u16] {
        &[QUEUE, QUEUE]
    }
    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let mut c = [0u8; 8];
        c[..6].copy_from_slice(&self.mac);
        super::blk::copy_config(&c, offset, data);
    }
    fn serve(&mut self, queue: usize, chain: &Chain, mem: &Memory) -> Result<Served, Malformed> {
        if queue == RX {
            self.receive(chain, mem)
        } else {
            self.transmit(chain, mem)
        }
    }
    fn reset(&mut self) {
        self.inbox
            .frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.inbox.room.notify_all();
    }
    fn host_events(&self) -> Vec<(Arc<EventFd>, usize)> {
        vec![(self.inbox.wake.clone(), RX)]
    }
}

/// The peer's end: connected, or a socket waiting for the other VM.
enum Link {
    Ready(File),
    Listening(UnixListener),
}

/// The TAP interface `name` (IFF_TAP | IFF_NO_PI).
fn tap(name: &str) -> Result<File, Error> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| host_err("/dev/net/tun", e))?;
    let mut req = [0u8; 40]; // struct ifreq: name[16], flags (short)
    req[..name.len()].copy_from_slice(name.as_bytes());
    let flags = (libc::IFF_TAP | libc::IFF_NO_PI) as u16;
    req[16..18].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which `req` is
    // large enough to hold; the descriptor is ours.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), libc::TUNSETIFF as _, req.as_mut_ptr()) };
    if r < 0 {
        return Err(host_err(
            &format!("tap:{name}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(f)
}

/// Connect to the VM listening at `path`, or listen there.
fn unix(path: &str) -> Result<Link, Error> {
    let err = |e| host_err(path, e);
    if let Ok(s) = seqpacket_connect(path) {
        return Ok(Link::Ready(s));
    }
    // nobody listens: a socket left by a VM that ended is replaced
    if std::fs::symlink_metadata(path).is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_socket()
    }) {
        let _ = std::fs::remove_file(path);
    }
    seqpacket_listen(path).map(Link::Listening).map_err(err)
}

fn sockaddr(path: &str) -> std::io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let b = path.as_bytes();
    if b.len() >= a.sun_path.len() {
        return Err(std::io::Error::other("socket path too long"));
    }
    for (d, s) in a.sun_path.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    Ok((
        a,
        std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
    ))
}

fn seqpacket() -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

fn seqpacket_connect(path: &str) -> std::io::Result<File> {
    let fd = seqpacket()?;
    let (a, len) = sockaddr(path)?;
    // SAFETY: `a` is a valid sockaddr_un of `len` bytes.
    let r = unsafe { libc::connect(fd.as_raw_fd(), (&raw const a).cast(), len) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    tune(&fd);
    Ok(File::from(fd))
}

fn seqpacket_listen(path: &str) -> std::io::Result<UnixListener> {
    let fd = seqpacket()?;
    let (a, len) = sockaddr(path)?;
    // SAFETY: `a` is a valid sockaddr_un of `len` bytes.
    if unsafe { libc::bind(fd.as_raw_fd(), (&raw const a).cast(), len) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: listen(2) on our socket.
    if unsafe { libc::listen(fd.as_raw_fd(), 1) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(UnixListener::from(fd))
}

/// A large send buffer (a full queue of frames) and a one-second limit on
/// a blocked send.
fn tune(fd: &impl AsFd) {
    let fd = fd.as_fd().as_raw_fd();
    let size: libc::c_int = 4 << 20;
    let tv = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: setsockopt with pointers to values of the sizes given.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&raw const size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            (&raw const tv).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
}

/// Wait up to 100 ms for `fd` to be readable.
fn readable(fd: &impl AsFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, valid for the call.
    unsafe { libc::poll(&raw mut p, 1, 100) > 0 }
}

/// The reader thread: accept the other VM if listening, then move frames
/// from the peer into the inbox until the device is dropped.
fn read_frames(link: Link, inbox: &Inbox, out: &Mutex<Option<File>>) {
    let mut peer = match link {
        Link::Ready(f) => f,
        Link::Listening(l) => loop {
            if inbox.stop.load(Ordering::SeqCst) {
                return;
            }
            if readable(&l)
                && let Ok((s, _)) = l.accept()
            {
                tune(&s);
                break File::from(OwnedFd::from(s));
            }
        },
    };
    match peer.try_clone() {
        Ok(w) => *out.lock().unwrap_or_else(|p| p.into_inner()) = Some(w),
        Err(_) => return,
    }
    let mut buf = vec![0u8; MAX_FRAME];
    while !inbox.stop.load(Ordering::SeqCst) {
        if !readable(&peer) {
            continue;
        }
        let n = match peer.read(&mut buf) {
            Ok(0) | Err(_) => return, // the peer went away
            Ok(n) => n,
        };
        let mut q = inbox.frames.lock().unwrap_or_else(|p| p.into_inner());
        while q.len() >= MAX_PENDING && !inbox.stop.load(Ordering::SeqCst) {
            q = inbox.room.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        q.push_back(buf[..n].to_vec());
        drop(q);
        let _ = inbox.wake.write(1);
    }
}
