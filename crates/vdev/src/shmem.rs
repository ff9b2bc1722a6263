//! `shmem`: memory shared between VMs, with a doorbell from one VM to
//! another. Two hvhost VMs on one machine (two processes) share a region
//! by name.
//!
//! Each region `NAME` is the file `/dev/shm/hvhost-shmem-NAME`: `create
//! NAME,SIZE` creates it (or grows it to SIZE, rounded up to 4 KiB) when
//! the VM starts; a VM that created it removes the name when it ends (the
//! VMs still attached keep their mapping). A guest attaches a region at a
//! guest address of its choice through the *factory page* at `loc` (4 KiB
//! of registers, below); the VMM maps the file there with a KVM memory slot
//! of its own ([`crate::GuestMapper`]), so both guests read and write the
//! same host pages.
//!
//! Notifications: each VM attached to a region has a peer ID (1-32) and a
//! Unix datagram socket bound at `/dev/shm/hvhost-shmem-NAME.ID.sock`; a
//! ring is one datagram (the sender's ID) to the peer's socket. A datagram
//! socket (rather than an eventfd, a FIFO or a futex in the region) because
//! it is the one of these that two unrelated processes can find by name,
//! that a waiting side can put in its epoll set, that keeps one message per
//! ring with its sender, and whose sends never block the ringing vCPU (a
//! full queue drops the ring; the receiver's status bit is set anyway by the
//! rings already queued). The receiving side waits in an [`EventLoop`] on
//! a thread per attached region, sets the region's interrupt status bit and
//! raises the `intr` line.
//!
//! `allow PATTERN` and `deny PATTERN` (`*` any run of characters, `?` one)
//! filter the names a guest may attach: a name a `deny` matches is refused;
//! when `allow` is given, only the names it (or a `create`) matches are
//! attached.
//!
//! Factory page (32-bit registers, little-endian; 64-bit accesses to the
//! address and size registers are accepted):
//!
//! | offset | access | register |
//! |---:|---|---|
//! | 0x00 | R | identification 0x464d4853 (`"SHMF"`) |
//! | 0x04 | R | version: 1 |
//! | 0x08 | W | command: 1 look up NAME (sets SIZE), 2 attach NAME at ADDR |
//! | 0x0c | R | result of the last command ([`Status`]) |
//! | 0x10, 0x14 | RW | ADDR: the guest address to attach at (low, high; 4 KiB aligned) |
//! | 0x18, 0x1c | R | SIZE: the region's size in bytes (low, high) |
//! | 0x20 | R | INDEX of the region attached last (0-7) |
//! | 0x24 | R | this VM's peer ID in that region (1-32) |
//! | 0x28 | W | NOTIFY: `INDEX << 16 \| PEER` rings peer PEER (0: every other peer) of region INDEX |
//! | 0x2c | R, W1C | interrupt status: bit INDEX set when region INDEX was rung; write 1s to clear |
//! | 0x30 | R | peer ID of the last VM that rang |
//! | 0x34 | R | the `intr` line (its IOAPIC pin), 0xffffffff without one |
//! | 0x100-0x13f | RW | NAME, NUL-terminated (bytes) |

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::decl::{Applied, DeviceDecl, OptDecl, Repeat, ValueType};
use crate::event::{EventLoop, Flow, Running};
use crate::{
    Context, Device, Effect, Error, GuestMapper, Intr, IrqLine, Range, Space, Value, VdevSpec,
    le_value, mem_base,
};

/// `create name,size`.
pub const CREATE: OptDecl = OptDecl::new(
    "create",
    ValueType::NamedSize,
    "create a named region of this size",
)
.repeat(Repeat::Many)
.hvhost(Applied::Runs);

/// `allow pattern`.
pub const ALLOW: OptDecl = OptDecl::new(
    "allow",
    ValueType::Text,
    "regions (patterns) the guest may attach",
)
.repeat(Repeat::Many)
.hvhost(Applied::Runs);

/// `deny pattern`.
pub const DENY: OptDecl = OptDecl::new(
    "deny",
    ValueType::Text,
    "regions (patterns) the guest may not attach",
)
.repeat(Repeat::Many)
.hvhost(Applied::Runs);

/// What `shmem` declares.
pub const DECL: DeviceDecl = DeviceDecl::new("shmem", "shared memory between VMs")
    .attachment(crate::decl::Attachment::Pci)
    .options(&[CREATE, ALLOW, DENY]);

/// The factory page's size.
pub const PAGE: u64 = 0x1000;
/// Identification register value (`"SHMF"`).
pub const ID: u32 = 0x464d_4853;
/// Regions one VM can attach.
pub const MAX_REGIONS: usize = 8;
/// VMs attached to one region.
pub const MAX_PEERS: u16 = 32;
/// Where the regions' files and sockets are.
pub const DIR: &str = "/dev/shm";
const PREFIX: &str = "hvhost-shmem-";
const NAME_AT: u64 = 0x100;
const NAME_LEN: usize = 64;

/// The result of a factory-page command (register 0x0c).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    /// Done.
    Ok = 0,
    /// No region of that name exists.
    NotFound = 1,
    /// `allow`/`deny` refuse the name.
    Denied = 2,
    /// ADDR is not 4 KiB aligned or overlaps guest memory or a device.
    BadAddress = 3,
    /// Every region slot (8) or peer ID (32) is taken.
    Full = 4,
    /// The host failed (the log says why).
    HostError = 5,
    /// An unknown command, or a NAME that is not a region name.
    BadCommand = 6,
}

/// A region name: 1-63 characters of letters, digits, `_`, `-` and `.`,
/// not starting with `.`.
pub fn valid_name(name: &str) -> bool {
    (1..NAME_LEN).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// True if `name` matches the glob `pattern` (`*`, `?`).
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == b'?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == b'*')
}

/// The checked options.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Config {
    create: Vec<(String, u64)>,
    allow: Vec<String>,
    deny: Vec<String>,
    pin: Option<u32>,
}

impl Config {
    fn allowed(&self, name: &str) -> bool {
        if self.deny.iter().any(|p| matches(p, name)) {
            return false;
        }
        self.allow.is_empty()
            || self.allow.iter().any(|p| matches(p, name))
            || self.create.iter().any(|(c, _)| c == name)
    }
}

fn config(spec: &VdevSpec) -> Result<Config, Error> {
    let mut create = Vec::new();
    for v in spec.values(&CREATE) {
        if let Value::NamedSize(name, size) = v {
            if !valid_name(name) {
                return Err(spec.bad(format!(
                    "region name `{name}`: 1-63 letters, digits, `_`, `-` or `.` (not first)"
                )));
            }
            if *size == 0 || *size > 1 << 40 {
                return Err(spec.bad(format!("region {name}: size {size:#x} (1 byte to 1 TiB)")));
            }
            create.push((name.clone(), size.div_ceil(PAGE) * PAGE));
        }
    }
    let text = |d: &OptDecl| {
        spec.values(d)
            .filter_map(|v| match v {
                Value::Text(t) => Some(t.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let pin = match spec.intr {
        Some(Intr::Line { line, .. }) => Some(line),
        _ => None,
    };
    Ok(Config {
        create,
        allow: text(&ALLOW),
        deny: text(&DENY),
        pin,
    })
}

/// The factory page at `loc` (4 KiB aligned), after checking the options.
pub(crate) fn ranges(spec: &VdevSpec) -> Result<Vec<Range>, Error> {
    config(spec)?;
    let base = mem_base(spec, None).map_err(|_| {
        spec.misplaced(
            "the factory page needs `loc mem:ADDR` (this VMM has no PCI bus to put it on)",
        )
    })?;
    if !base.is_multiple_of(PAGE) || base.checked_add(PAGE).is_none() {
        return Err(spec.misplaced(format!("mem:{base:#x}: the factory page is 4 KiB aligned")));
    }
    Ok(vec![Range {
        space: Space::Mem,
        base,
        len: PAGE,
    }])
}

fn region_path(name: &str) -> PathBuf {
    PathBuf::from(DIR).join(format!("{PREFIX}{name}"))
}

fn socket_path(name: &str, id: u16) -> PathBuf {
    PathBuf::from(DIR).join(format!("{PREFIX}{name}.{id}.sock"))
}

/// A region file this VM created: its name is removed when the VM ends.
struct Created(PathBuf);

impl Drop for Created {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Open (creating or growing) the file of a `create`.
fn create_region(name: &str, size: u64) -> std::io::Result<(File, Option<Created>)> {
    let path = region_path(name);
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).mode(0o600);
    let (file, created) = match opts.clone().create_new(true).open(&path) {
        Ok(f) => (f, Some(Created(path))),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => (opts.open(&path)?, None),
        Err(e) => return Err(e),
    };
    if file.metadata()?.len() < size {
        file.set_len(size)?;
    }
    Ok((file, created))
}

/// One attached region: its peer ID, its socket and the thread that waits
/// for rings on it.
struct Attached {
    name: String,
    id: u16,
    socket: UnixDatagram,
    _waiter: Running,
}

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(socket_path(&self.name, self.id));
    }
}

/// Bind this VM's socket for `name` at the lowest free peer ID; a socket
/// file left by a VM that is gone (nobody receives on it) is taken over.
fn bind(name: &str) -> std::io::Result<Option<(u16, UnixDatagram)>> {
    for id in 1..=MAX_PEERS {
        let path = socket_path(name, id);
        match UnixDatagram::bind(&path) {
            Ok(s) => return Ok(Some((id, s))),
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                let probe = UnixDatagram::unbound()?;
                if probe.connect(&path).is_err() {
                    let _ = std::fs::remove_file(&path);
                    if let Ok(s) = UnixDatagram::bind(&path) {
                        return Ok(Some((id, s)));
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The interrupt side, shared with the waiting threads.
#[derive(Default)]
struct Rings {
    status: u32,
    last: u32,
}

/// The shmem device.
pub struct Shmem {
    cfg: Config,
    mapper: Option<Arc<dyn GuestMapper>>,
    irq: Option<Arc<dyn IrqLine>>,
    logger: crate::Logger,
    rings: Arc<Mutex<Rings>>,
    addr: u64,
    size: u64,
    result: Status,
    name: [u8; NAME_LEN],
    attached: Vec<Attached>,
    created: Vec<(String, File)>,
    _remove: Vec<Created>,
}

pub(crate) fn device(spec: &VdevSpec, ctx: &Context) -> Result<Box<dyn Device>, Error> {
    let cfg = config(spec)?;
    let mut created = Vec::new();
    let mut remove = Vec::new();
    for (name, size) in &cfg.create {
        let (file, c) = create_region(name, *size).map_err(|e| Error::HostFile {
            vdev: DECL.name.into(),
            path: region_path(name),
            source: e,
        })?;
        created.push((name.clone(), file));
        remove.extend(c);
    }
    Ok(Box::new(Shmem {
        cfg,
        mapper: ctx.mapper.clone(),
        irq: ctx.irq(),
        logger: ctx.logger.clone(),
        rings: Arc::default(),
        addr: 0,
        size: 0,
        result: Status::Ok,
        name: [0; NAME_LEN],
        attached: Vec::new(),
        created,
        _remove: remove,
    }))
}

impl Shmem {
    fn name(&self) -> Option<String> {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        let name = std::str::from_utf8(&self.name[..end]).ok()?;
        valid_name(name).then(|| name.to_string())
    }

    /// The region file of `name` and its size (whole pages).
    fn open(&self, name: &str) -> Result<(File, u64), Status> {
        let file = match self.created.iter().find(|(n, _)| n == name) {
            Some((_, f)) => f.try_clone(),
            None => OpenOptions::new()
                .read(true)
                .write(true)
                .open(region_path(name)),
        };
        let file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(Status::NotFound),
            Err(e) => return Err(self.failed(&format!("region {name}"), &e)),
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0) / PAGE * PAGE;
        if size == 0 {
            return Err(Status::NotFound);
        }
        Ok((file, size))
    }

    fn failed(&self, what: &str, e: &dyn std::fmt::Display) -> Status {
        self.logger.warn(format_args!("shmem: {what}: {e}"));
        Status::HostError
    }

    fn command(&mut self, cmd: u64) -> Status {
        let Some(name) = self.name() else {
            return Status::BadCommand;
        };
        if !self.cfg.allowed(&name) {
            return Status::Denied;
        }
        match cmd {
            1 => match self.open(&name) {
                Ok((_, size)) => {
                    self.size = size;
                    Status::Ok
                }
                Err(s) => s,
            },
            2 => self.attach(&name),
            _ => Status::BadCommand,
        }
    }

    fn attach(&mut self, name: &str) -> Status {
        if self.attached.len() >= MAX_REGIONS {
            return Status::Full;
        }
        let (file, size) = match self.open(name) {
            Ok(f) => f,
            Err(s) => return s,
        };
        let Some(mapper) = &self.mapper else {
            return self.failed(name, &"this VMM cannot map memory at run time");
        };
        if !self.addr.is_multiple_of(PAGE) {
            return Status::BadAddress;
        }
        if let Err(e) = mapper.map(self.addr, size, &file) {
            self.logger.warn(format_args!(
                "shmem: attach {name} at {:#x}: {e}",
                self.addr
            ));
            return Status::BadAddress;
        }
        let index = self.attached.len();
        match self.listen(name, index) {
            Ok(Some(a)) => {
                self.size = size;
                self.attached.push(a);
                Status::Ok
            }
            Ok(None) => Status::Full,
            Err(e) => self.failed(&format!("socket for {name}"), &e),
        }
    }

    /// Bind the region's socket and start the thread that takes its rings.
    fn listen(&self, name: &str, index: usize) -> std::io::Result<Option<Attached>> {
        let Some((id, socket)) = bind(name)? else {
            return Ok(None);
        };
        socket.set_nonblocking(true)?;
        let rx = socket.try_clone()?;
        let (rings, irq) = (self.rings.clone(), self.irq.clone());
        let mut lp = EventLoop::new()?;
        lp.add(&socket, move |_| {
            let mut buf = [0u8; 4];
            while let Ok(n) = rx.recv(&mut buf) {
                let from = if n >= 2 {
                    u16::from_le_bytes([buf[0], buf[1]])
                } else {
                    0
                };
                if let Ok(mut r) = rings.lock() {
                    r.status |= 1 << index;
                    r.last = u32::from(from);
                }
                if let Some(l) = &irq {
                    let _ = l.trigger();
                }
            }
            Flow::Continue
        })?;
        Ok(Some(Attached {
            name: name.to_string(),
            id,
            socket,
            _waiter: lp.spawn("shmem")?,
        }))
    }

    /// Ring `peer` (0: every other peer) of region `index`.
    fn notify(&self, index: usize, peer: u16) {
        let Some(a) = self.attached.get(index) else {
            return;
        };
        let msg = a.id.to_le_bytes();
        let peers: Vec<u16> = if peer == 0 {
            (1..=MAX_PEERS).filter(|&p| p != a.id).collect()
        } else {
            vec![peer]
        };
        for p in peers {
            // a peer that is not there, or whose queue is full, misses it
            let _ = a.socket.send_to(&msg, socket_path(&a.name, p));
        }
    }

    fn reg(&self, off: u64) -> u32 {
        let last = self.attached.len().checked_sub(1);
        let (status, from) = self.rings.lock().map_or((0, 0), |r| (r.status, r.last));
        match off {
            0x00 => ID,
            0x04 => 1,
            0x0c => self.result as u32,
            0x10 => self.addr as u32,
            0x14 => (self.addr >> 32) as u32,
            0x18 => self.size as u32,
            0x1c => (self.size >> 32) as u32,
            0x20 => last.map_or(0, |i| i as u32),
            0x24 => last.map_or(0, |i| u32::from(self.attached[i].id)),
            0x2c => status,
            0x30 => from,
            0x34 => self.cfg.pin.unwrap_or(u32::MAX),
            _ => 0,
        }
    }

    fn write_reg(&mut self, off: u64, v: u32) {
        match off {
            0x08 => self.result = self.command(u64::from(v)),
            0x10 => self.addr = (self.addr & !0xffff_ffff) | u64::from(v),
            0x14 => self.addr = (self.addr & 0xffff_ffff) | (u64::from(v) << 32),
            0x28 => self.notify((v >> 16) as usize, v as u16),
            0x2c => {
                if let Ok(mut r) = self.rings.lock() {
                    r.status &= !v;
                }
            }
            _ => {}
        }
    }
}

impl Device for Shmem {
    fn read(&mut self, _range: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        for (i, b) in data.iter_mut().enumerate() {
            let at = offset + i as u64;
            *b = match at.checked_sub(NAME_AT) {
                Some(k) if (k as usize) < NAME_LEN => self.name[k as usize],
                Some(_) => 0,
                None => (self.reg(at & !3) >> ((at & 3) * 8)) as u8,
            };
        }
        Ok(())
    }

    fn write(&mut self, _range: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        if let Some(k) = offset.checked_sub(NAME_AT) {
            for (i, &b) in data.iter().enumerate() {
                if let Some(slot) = self.name.get_mut(k as usize + i) {
                    *slot = b;
                }
            }
            return Ok(Effect::None);
        }
        let v = le_value(data);
        match (offset, data.len()) {
            (o, 8) if o % 8 == 0 => {
                self.write_reg(o, v as u32);
                self.write_reg(o + 4, (v >> 32) as u32);
            }
            (o, 4) if o % 4 == 0 => self.write_reg(o, v as u32),
            _ => {} // registers take 32- and 64-bit writes
        }
        Ok(Effect::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn names_and_patterns() {
        for ok in ["IPC", "hc_shmem", "a.b-c", "x"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "sp ace", &"n".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(matches("*", "anything"));
        assert!(matches("hc_*", "hc_shmem"));
        assert!(matches("a?c", "abc"));
        assert!(matches("*mem", "hc_shmem"));
        assert!(!matches("hc_*", "ipc"));
        assert!(!matches("a?c", "ac"));
        let cfg = Config {
            create: vec![("mine".into(), PAGE)],
            allow: vec!["ipc*".into()],
            deny: vec!["ipc-secret".into()],
            pin: None,
        };
        assert!(cfg.allowed("ipc0"));
        assert!(cfg.allowed("mine"), "created names are allowed");
        assert!(!cfg.allowed("ipc-secret"), "deny wins");
        assert!(!cfg.allowed("other"));
    }

    fn spec(opts: &[(&str, Value)], loc: Option<u64>) -> VdevSpec {
        let mut s = VdevSpec::new(crate::VdevKind::Shmem);
        s.loc = loc.map(|base| crate::Loc {
            space: Space::Mem,
            base,
            len: None,
        });
        for (n, v) in opts {
            s.options.push(crate::OptionValue::new(n, v.clone()));
        }
        s
    }

    #[test]
    fn the_factory_page_needs_a_memory_loc_and_names_are_checked() {
        let named = |n: &str| [("create", Value::NamedSize(n.into(), 0x10000))];
        assert!(ranges(&spec(&named("IPC"), None)).is_err_and(|e| e.is_config()));
        assert!(ranges(&spec(&named("IPC"), Some(0xfe00_0800))).is_err_and(|e| e.is_config()));
        assert!(ranges(&spec(&named("a/b"), Some(0xfe00_0000))).is_err_and(|e| e.is_config()));
        let r = ranges(&spec(&named("IPC"), Some(0xfe00_0000))).expect("ranges");
        assert_eq!((r[0].base, r[0].len), (0xfe00_0000, PAGE));
    }

    /// Records what the device asks to map.
    #[derive(Default)]
    struct Mapper(Mutex<Vec<(u64, u64)>>);
    impl GuestMapper for Mapper {
        fn map(&self, gpa: u64, len: u64, _file: &File) -> Result<(), String> {
            if gpa < 0x100_0000 {
                return Err("overlaps RAM".into());
            }
            self.0.lock().expect("lock").push((gpa, len));
            Ok(())
        }
    }

    struct Count(Arc<AtomicU32>);
    impl IrqLine for Count {
        fn trigger(&self) -> std::io::Result<()> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn vm(name: &str, mapper: &Arc<Mapper>, irqs: &Arc<AtomicU32>) -> Box<dyn Device> {
        let logger = crate::Logger::new(&Default::default(), "t", std::time::Instant::now());
        let mut ctx = Context::new(logger).expect("context");
        ctx.mapper = Some(mapper.clone());
        ctx.irqs.push(Arc::new(Count(irqs.clone())));
        let s = spec(
            &[("create", Value::NamedSize(name.into(), 0x1800))],
            Some(0xfe00_0000),
        );
        device(&s, &ctx).expect("device")
    }

    fn w32(d: &mut Box<dyn Device>, off: u64, v: u32) {
        d.write(0, off, &v.to_le_bytes()).expect("write");
    }
    fn r32(d: &mut Box<dyn Device>, off: u64) -> u32 {
        let mut b = [0u8; 4];
        d.read(0, off, &mut b).expect("read");
        u32::from_le_bytes(b)
    }
    fn attach(d: &mut Box<dyn Device>, name: &str, addr: u64) -> u32 {
        d.write(0, NAME_AT, format!("{name}\0").as_bytes())
            .expect("name");
        d.write(0, 0x10, &addr.to_le_bytes()).expect("addr");
        w32(d, 0x08, 2);
        r32(d, 0x0c)
    }

    #[test]
    fn two_devices_attach_one_region_and_ring_each_other() {
        let name = format!("t{}-ring", std::process::id());
        let (ma, mb) = (Arc::new(Mapper::default()), Arc::new(Mapper::default()));
        let (ia, ib) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let mut a = vm(&name, &ma, &ia);
        let mut b = vm(&name, &mb, &ib);
        assert_eq!(r32(&mut a, 0), ID);
        assert_eq!(attach(&mut a, &name, 0x10_0000), Status::BadAddress as u32);
        assert_eq!(
            attach(&mut a, "nosuch", 0x4000_0000),
            Status::NotFound as u32
        );
        assert_eq!(attach(&mut a, &name, 0x4000_0000), Status::Ok as u32);
        assert_eq!(r32(&mut a, 0x18), 0x2000, "size in whole pages");
        assert_eq!(attach(&mut b, &name, 0x5000_0000), Status::Ok as u32);
        assert_eq!(*mb.0.lock().expect("lock"), [(0x5000_0000, 0x2000)]);
        let (ida, idb) = (r32(&mut a, 0x24), r32(&mut b, 0x24));
        assert_eq!((ida, idb), (1, 2), "peer IDs");
        w32(&mut b, 0x28, ida); // region 0, peer 1
        let t = std::time::Instant::now();
        while ia.load(Ordering::SeqCst) == 0 && t.elapsed().as_secs() < 5 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(ia.load(Ordering::SeqCst), 1, "a was rung once");
        assert_eq!(ib.load(Ordering::SeqCst), 0, "b was not");
        assert_eq!(r32(&mut a, 0x2c), 1, "status: region 0");
        assert_eq!(r32(&mut a, 0x30), idb, "rung by b");
        w32(&mut a, 0x2c, 1);
        assert_eq!(r32(&mut a, 0x2c), 0, "cleared");
        drop(a);
        drop(b);
        assert!(!region_path(&name).exists(), "the creator removed the name");
        assert!(!socket_path(&name, 1).exists());
    }

    #[test]
    fn denied_names_and_bad_commands() {
        let name = format!("t{}-deny", std::process::id());
        let logger = crate::Logger::new(&Default::default(), "t", std::time::Instant::now());
        let mut ctx = Context::new(logger).expect("context");
        ctx.mapper = Some(Arc::new(Mapper::default()));
        let s = spec(
            &[
                ("create", Value::NamedSize(name.clone(), 0x1000)),
                ("deny", Value::Text(format!("{name}*"))),
            ],
            Some(0xfe00_0000),
        );
        let mut d = device(&s, &ctx).expect("device");
        assert_eq!(attach(&mut d, &name, 0x4000_0000), Status::Denied as u32);
        d.write(0, NAME_AT, b"../etc\0").expect("name");
        w32(&mut d, 0x08, 1);
        assert_eq!(r32(&mut d, 0x0c), Status::BadCommand as u32);
    }
}
