//! The compiled boot script (spec §7): [`compile`] turns the Manifest's typed
//! commands into records, [`decode`] turns records back into commands, and
//! [`Record::to_line`] prints one as a buildfile script line.

use buildfile::{EnvVar, External, Policy, ScriptCommand, ScriptKind};
use diag::Span;
use serde::Serialize;

/// Record types.
pub mod kind {
    /// An external command.
    pub const EXTERNAL: u8 = 0;
    /// `waitfor`.
    pub const WAITFOR: u8 = 1;
    /// `reopen`.
    pub const REOPEN: u8 = 2;
    /// `display_msg`.
    pub const DISPLAY_MSG: u8 = 3;
    /// `procmgr_symlink`.
    pub const PROCMGR_SYMLINK: u8 = 4;
    /// `sched_aps`.
    pub const SCHED_APS: u8 = 5;
}

/// External-command flag bits.
pub mod flags {
    /// Runs in an APS partition.
    pub const EXTSCHED: u8 = 0x01;
    /// Session leader.
    pub const SESSION: u8 = 0x02;
    /// Scheduling (priority/policy) set.
    pub const SCHED_SET: u8 = 0x04;
    /// CPU set.
    pub const CPU_SET: u8 = 0x08;
    /// Run in the background (`&`).
    pub const BACKGROUND: u8 = 0x20;
    /// Kernel debug.
    pub const KDEBUG: u8 = 0x40;
    /// Critical (SDP 8.0).
    pub const CRITICAL: u8 = 0x80;
}

/// The built-in commands (a program with one of these names needs `+external`).
pub const BUILTINS: [&str; 5] = [
    "display_msg",
    "waitfor",
    "reopen",
    "procmgr_symlink",
    "sched_aps",
];

/// The name of the partition that always exists (id 0).
pub const SYSTEM_PARTITION: &str = "System";

/// Why a script cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// a script record would be larger than 65535 bytes
    #[error(
        "script line {index}: the command is {size} bytes compiled; a record holds at most 65535"
    )]
    TooLong {
        /// Command number, from 1.
        index: usize,
        /// Its compiled size.
        size: usize,
    },
    /// more than 255 arguments or environment variables
    #[error("script line {index}: {what} count {count} exceeds 255")]
    TooMany {
        /// Command number, from 1.
        index: usize,
        /// `arguments` or `environment variables`.
        what: &'static str,
        /// How many.
        count: usize,
    },
}

/// Compiles the script. `boot_env` is the boot block's environment (applied
/// before the script's own global lines).
pub fn compile(cmds: &[ScriptCommand], boot_env: &[EnvVar]) -> Result<Vec<u8>, CompileError> {
    let mut out = Vec::new();
    let mut env: Vec<(String, String)> = boot_env
        .iter()
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect();
    let mut partitions: Vec<String> = vec![SYSTEM_PARTITION.to_string()];
    for (i, c) in cmds.iter().enumerate() {
        let index = i + 1;
        let mut body: Vec<u8> = Vec::new();
        let ty = match &c.kind {
            ScriptKind::GlobalEnv { vars } => {
                for v in vars {
                    set_env(&mut env, &v.name, &v.value);
                }
                continue;
            }
            ScriptKind::External(x) => {
                external(x, &env, &partitions, index, &mut body)?;
                kind::EXTERNAL
            }
            ScriptKind::Waitfor { path, checks } | ScriptKind::Reopen { path, checks } => {
                body.extend_from_slice(&checks.to_le_bytes());
                push_cstr(&mut body, path);
                if matches!(c.kind, ScriptKind::Waitfor { .. }) {
                    kind::WAITFOR
                } else {
                    kind::REOPEN
                }
            }
            ScriptKind::DisplayMsg { text } => {
                body.extend_from_slice(text.as_bytes());
                body.push(b'\n');
                body.push(0);
                kind::DISPLAY_MSG
            }
            ScriptKind::ProcmgrSymlink { target, link } => {
                push_cstr(&mut body, target);
                push_cstr(&mut body, link);
                kind::PROCMGR_SYMLINK
            }
            ScriptKind::SchedAps {
                name,
                budget,
                critical_ms,
            } => {
                let id = match partitions.iter().position(|n| n == name) {
                    Some(i) => i,
                    None => {
                        partitions.push(name.clone());
                        partitions.len() - 1
                    }
                };
                body.push(0);
                body.push(*budget);
                body.extend_from_slice(&critical_ms.to_le_bytes());
                body.push(id as u8);
                push_cstr(&mut body, name);
                kind::SCHED_APS
            }
        };
        let size = (4 + body.len()).div_ceil(4) * 4;
        if size > 0xffff {
            return Err(CompileError::TooLong { index, size });
        }
        out.extend_from_slice(&[size as u8, (size >> 8) as u8, ty, 0]);
        out.extend_from_slice(&body);
        out.resize(out.len() + size - 4 - body.len(), 0);
    }
    out.extend_from_slice(&[0; 4]);
    Ok(out)
}

/// The body of an external command's record (command `index`).
fn external(
    x: &External,
    env: &[(String, String)],
    partitions: &[String],
    index: usize,
    body: &mut Vec<u8>,
) -> Result<(), CompileError> {
    let mut fl = 0u8;
    let part = match &x.sched_aps {
        Some(p) => {
            fl |= flags::EXTSCHED;
            partitions.iter().position(|n| n == p).unwrap_or(0) as u8
        }
        None => 0,
    };
    if x.session {
        fl |= flags::SESSION;
    }
    let (pri, pol) = match x.priority {
        Some((p, pol)) => {
            fl |= flags::SCHED_SET;
            (p, policy_code(pol))
        }
        None => (0, 0),
    };
    let cpu = match x.cpu {
        Some(c) => {
            fl |= flags::CPU_SET;
            c
        }
        None => 0,
    };
    if x.background {
        fl |= flags::BACKGROUND;
    }
    if x.debug {
        fl |= flags::KDEBUG;
    }
    let argc = 1 + x.args.len();
    let mut cenv = env.to_vec();
    for v in &x.env {
        set_env(&mut cenv, &v.name, &v.value);
    }
    if argc > 255 {
        return Err(CompileError::TooMany {
            index,
            what: "argument",
            count: argc,
        });
    }
    if cenv.len() > 255 {
        return Err(CompileError::TooMany {
            index,
            what: "environment variable",
            count: cenv.len(),
        });
    }
    body.extend_from_slice(&[cpu, fl, part, 0, pol, pri, argc as u8, cenv.len() as u8]);
    push_cstr(body, &x.program);
    push_cstr(body, x.argv0());
    for a in &x.args {
        push_cstr(body, a);
    }
    for (n, v) in &cenv {
        push_cstr(body, &format!("{n}={v}"));
    }
    Ok(())
}

fn set_env(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    match env.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value.to_string(),
        None => env.push((name.to_string(), value.to_string())),
    }
}

fn push_cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

fn policy_code(p: Policy) -> u8 {
    match p {
        Policy::Unchanged => 0,
        Policy::Fifo => 1,
        Policy::RoundRobin => 2,
        Policy::Other => 3,
    }
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// An external command.
    External {
        /// CPU (valid with [`flags::CPU_SET`]).
        cpu: u8,
        /// [`flags`].
        flags: u8,
        /// APS partition id.
        partition: u8,
        /// Policy (0 unchanged, 1 FIFO, 2 RR, 3 other).
        policy: u8,
        /// Priority.
        priority: u8,
        /// Program path.
        path: String,
        /// argv (argv0 first).
        argv: Vec<String>,
        /// Environment.
        env: Vec<String>,
    },
    /// `waitfor`.
    Waitfor {
        /// Path.
        path: String,
        /// Checks of 100 ms.
        checks: u16,
    },
    /// `reopen`.
    Reopen {
        /// Path.
        path: String,
        /// Checks of 100 ms.
        checks: u16,
    },
    /// `display_msg`.
    DisplayMsg {
        /// The message without its final newline.
        text: String,
    },
    /// `procmgr_symlink`.
    ProcmgrSymlink {
        /// Target.
        target: String,
        /// Link path.
        link: String,
    },
    /// `sched_aps`.
    SchedAps {
        /// Parent partition id.
        parent: u8,
        /// Budget percent.
        budget: u8,
        /// Critical budget ms.
        critical_ms: u16,
        /// Partition id.
        id: u8,
        /// Name.
        name: String,
    },
    /// A record type this decoder does not know.
    Unknown {
        /// The type byte.
        ty: u8,
        /// Record size.
        size: u16,
    },
}

/// Why a compiled script could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// record at byte {0}: its size is too small or runs past the end
    #[error("record at byte {0}: its size is too small or runs past the end of the script")]
    BadSize(usize),
    /// the script has no end record
    #[error("the script ends without its zero record")]
    NoEnd,
    /// record at byte {0}: a string or field is missing
    #[error("record at byte {0}: a string or field is missing")]
    Malformed(usize),
}

/// Decodes a compiled script.
pub fn decode(b: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        let Some(h) = b.get(at..at + 4) else {
            return Err(DecodeError::NoEnd);
        };
        let size = u16::from_le_bytes([h[0], h[1]]) as usize;
        if size == 0 {
            return Ok(out);
        }
        if size < 4 {
            return Err(DecodeError::BadSize(at));
        }
        let rec = b.get(at..at + size).ok_or(DecodeError::BadSize(at))?;
        let body = &rec[4..];
        out.push(decode_record(h[2], size as u16, body).ok_or(DecodeError::Malformed(at))?);
        // Records are 4-byte aligned.
        at += size.div_ceil(4) * 4;
    }
}

fn strings(mut b: &[u8], n: usize) -> Option<Vec<String>> {
    let mut v = Vec::with_capacity(n.min(256));
    for _ in 0..n {
        let nul = b.iter().position(|&c| c == 0)?;
        v.push(String::from_utf8_lossy(&b[..nul]).into_owned());
        b = &b[nul + 1..];
    }
    Some(v)
}

fn decode_record(ty: u8, size: u16, body: &[u8]) -> Option<Record> {
    Some(match ty {
        kind::EXTERNAL => {
            let h = body.get(..8)?;
            let (argc, envc) = (h[6] as usize, h[7] as usize);
            let mut s = strings(&body[8..], 1 + argc + envc)?;
            let env = s.split_off(1 + argc);
            let argv = s.split_off(1);
            Record::External {
                cpu: h[0],
                flags: h[1],
                partition: h[2],
                policy: h[4],
                priority: h[5],
                path: s.pop()?,
                argv,
                env,
            }
        }
        kind::WAITFOR | kind::REOPEN => {
            let checks = u16::from_le_bytes([*body.first()?, *body.get(1)?]);
            let path = strings(body.get(2..)?, 1)?.pop()?;
            if ty == kind::WAITFOR {
                Record::Waitfor { path, checks }
            } else {
                Record::Reopen { path, checks }
            }
        }
        kind::DISPLAY_MSG => {
            let mut text = strings(body, 1)?.pop()?;
            if text.ends_with('\n') {
                text.pop();
            }
            Record::DisplayMsg { text }
        }
        kind::PROCMGR_SYMLINK => {
            let mut s = strings(body, 2)?;
            let link = s.pop()?;
            let target = s.pop()?;
            Record::ProcmgrSymlink { target, link }
        }
        kind::SCHED_APS => {
            let h = body.get(..5)?;
            Record::SchedAps {
                parent: h[0],
                budget: h[1],
                critical_ms: u16::from_le_bytes([h[2], h[3]]),
                id: h[4],
                name: strings(&body[5..], 1)?.pop()?,
            }
        }
        ty => Record::Unknown { ty, size },
    })
}

impl Record {
    /// The record as a boot script command (None for an unknown record).
    /// `partitions` maps partition ids to names (see [`partition_names`]);
    /// an id without a name is `#id`.
    pub fn to_command(&self, partitions: &[String]) -> Option<ScriptKind> {
        Some(match self {
            Record::External {
                cpu,
                flags: fl,
                partition,
                policy,
                priority,
                path,
                argv,
                env,
            } => {
                let base = path.rsplit('/').next().unwrap_or(path);
                let argv0 = argv.first().filter(|a| a.as_str() != base).cloned();
                ScriptKind::External(External {
                    program: path.clone(),
                    argv0,
                    args: argv.iter().skip(1).cloned().collect(),
                    env: env.iter().map(|e| env_var(e)).collect(),
                    background: fl & flags::BACKGROUND != 0,
                    session: fl & flags::SESSION != 0,
                    debug: fl & flags::KDEBUG != 0,
                    external: BUILTINS.contains(&path.as_str()),
                    cpu: (fl & flags::CPU_SET != 0).then_some(*cpu),
                    priority: (fl & flags::SCHED_SET != 0).then(|| {
                        let p = match policy {
                            1 => Policy::Fifo,
                            2 => Policy::RoundRobin,
                            3 => Policy::Other,
                            _ => Policy::Unchanged,
                        };
                        (*priority, p)
                    }),
                    sched_aps: (fl & flags::EXTSCHED != 0).then(|| {
                        partitions
                            .get(*partition as usize)
                            .cloned()
                            .unwrap_or_else(|| format!("#{partition}"))
                    }),
                })
            }
            Record::Waitfor { path, checks } => ScriptKind::Waitfor {
                path: path.clone(),
                checks: *checks,
            },
            Record::Reopen { path, checks } => ScriptKind::Reopen {
                path: path.clone(),
                checks: *checks,
            },
            Record::DisplayMsg { text } => ScriptKind::DisplayMsg { text: text.clone() },
            Record::ProcmgrSymlink { target, link } => ScriptKind::ProcmgrSymlink {
                target: target.clone(),
                link: link.clone(),
            },
            Record::SchedAps {
                budget,
                critical_ms,
                name,
                ..
            } => ScriptKind::SchedAps {
                name: name.clone(),
                budget: *budget,
                critical_ms: *critical_ms,
            },
            Record::Unknown { .. } => return None,
        })
    }

    /// The record as a line of buildfile script syntax, printed as
    /// `hvhost manifest` prints the commands of a buildfile.
    pub fn to_line(&self, partitions: &[String]) -> String {
        let Some(kind) = self.to_command(partitions) else {
            return match self {
                Record::Unknown { ty, size } => format!("# unknown record type {ty}, {size} bytes"),
                _ => String::new(),
            };
        };
        match self {
            // No buildfile modifier sets it: said in a comment.
            Record::External { flags: fl, .. } if fl & flags::CRITICAL != 0 => {
                format!("{kind} # critical (flag 0x80)")
            }
            _ => kind.to_string(),
        }
    }
}

/// A `NAME=value` string as an environment variable.
pub(crate) fn env_var(s: &str) -> EnvVar {
    let (name, value) = s.split_once('=').unwrap_or((s, ""));
    EnvVar {
        name: name.to_string(),
        value: value.to_string(),
        span: Span::default(),
    }
}

/// Partition names by id, from the `sched_aps` records (id 0 is `System`).
pub fn partition_names(records: &[Record]) -> Vec<String> {
    let mut names = vec![SYSTEM_PARTITION.to_string()];
    for r in records {
        if let Record::SchedAps { id, name, .. } = r {
            let id = *id as usize;
            if names.len() <= id {
                names.resize(id + 1, String::new());
            }
            names[id] = name.clone();
        }
    }
    names
}

/// The whole script as text, one line per record.
pub fn to_text(records: &[Record]) -> String {
    let names = partition_names(records);
    let mut s = String::new();
    for r in records {
        s.push_str(&r.to_line(&names));
        s.push('\n');
    }
    s
}
