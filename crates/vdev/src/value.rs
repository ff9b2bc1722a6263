//! Typed option values: what the qvmconf parser makes of an option's words,
//! and what a device is handed. Each [`Value`] matches a
//! [`ValueType`] of the declarations.

use serde::{Deserialize, Serialize};

use crate::decl::{OptDecl, ValueType};

/// A bus/device/function PCI address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PciAddr {
    /// Bus (must be 0 in the guest).
    pub bus: u8,
    /// Device 0–31.
    pub dev: u8,
    /// Function 0–7.
    pub func: u8,
}

impl std::fmt::Display for PciAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}.{}", self.bus, self.dev, self.func)
    }
}

/// One `reg` preset of a `pci-dummy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "kebab-case")]
pub enum PciReg {
    /// `reg Name=value` (Vendor_ID, Device_ID, Class_Code, ...).
    Named {
        /// Register name.
        name: String,
        /// Value.
        value: u64,
    },
    /// `reg off/size=value`.
    Offset {
        /// Config-space offset.
        offset: u32,
        /// Size in bytes (1, 2 or 4).
        size: u32,
        /// Value.
        value: u64,
    },
}

/// `<` or `>` before a hostdev path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// `<`
    Input,
    /// `>`
    Output,
}

/// A host device or file a vdev connects to (`hostdev [<|>]path`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDev {
    /// `<`: read only (input); `>`: output only; None: both.
    pub direction: Option<Direction>,
    /// The path; `-` is qvm's standard input/output.
    pub path: String,
}

impl HostDev {
    /// True for `-`, `>-`, `<-` (qvm's own stdin/stdout).
    pub fn is_stdio(&self) -> bool {
        self.path == "-"
    }
}

impl std::fmt::Display for HostDev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = match self.direction {
            Some(Direction::Input) => "<",
            Some(Direction::Output) => ">",
            None => "",
        };
        write!(f, "{d}{}", self.path)
    }
}

/// An interrupt spec (`intr pic:line`, `intr apic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Intr {
    /// A line of a named PIC (`myioapic:4`, `gic:37`). `pic` is None when only
    /// a number was written (the default controller).
    Line {
        /// PIC name (a vdev's `name`, its kind, or the implicit `gic`/`apic`).
        pic: Option<String>,
        /// Line number.
        line: u32,
        /// Pass-through: `=hostvector`.
        host_vector: Option<u32>,
        /// Pass-through: the flags after `,` (e.g. `u`).
        flags: Option<String>,
    },
    /// `apic`: the local APICs (an ioapic's downstream).
    Apic,
}

impl Intr {
    /// A line of a named controller, as a device's `intr` names it.
    pub fn line(pic: &str, line: u32) -> Intr {
        Intr::Line {
            pic: Some(pic.to_string()),
            line,
            host_vector: None,
            flags: None,
        }
    }
}

impl std::fmt::Display for Intr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Intr::Apic => f.write_str("apic"),
            Intr::Line {
                pic,
                line,
                host_vector,
                flags,
            } => {
                match pic {
                    Some(p) => write!(f, "{p}:{line}")?,
                    None => write!(f, "{line}")?,
                }
                if let Some(fl) = flags {
                    write!(f, ",{fl}")?;
                }
                if let Some(h) = host_vector {
                    write!(f, "={h}")?;
                }
                Ok(())
            }
        }
    }
}

/// The value of one option, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Value {
    /// A flag that is set.
    Flag,
    /// A number (also a bounded number, a choice, a mask).
    Number(u64),
    /// A word.
    Text(String),
    /// `hostdev`.
    HostDev(HostDev),
    /// An RTC `reg index,value`.
    RtcReg(u8, u8),
    /// A PCI `reg`.
    PciReg(PciReg),
    /// A PCI address.
    PciAddr(PciAddr),
    /// `enable` (true) or `disable`.
    Toggle(bool),
    /// A MAC address.
    Mac([u8; 6]),
    /// `name,size`.
    NamedSize(String, u64),
    /// A number or nothing.
    OptionalNumber(Option<u64>),
    /// A list of numbers.
    Numbers(Vec<u64>),
}

impl Value {
    /// True when the value is of type `t`.
    pub fn is_of(&self, t: ValueType) -> bool {
        matches!(
            (self, t),
            (Value::Flag, ValueType::Flag)
                | (
                    Value::Number(_),
                    ValueType::Number
                        | ValueType::NonZero
                        | ValueType::Bounded { .. }
                        | ValueType::Choice(_)
                        | ValueType::Mask
                )
                | (Value::Text(_), ValueType::Text)
                | (Value::HostDev(_), ValueType::HostDev)
                | (Value::RtcReg(..), ValueType::RtcReg)
                | (Value::PciReg(_), ValueType::PciReg)
                | (Value::PciAddr(_), ValueType::PciAddr)
                | (Value::Toggle(_), ValueType::Toggle)
                | (Value::Mac(_), ValueType::Mac)
                | (Value::NamedSize(..), ValueType::NamedSize)
                | (Value::OptionalNumber(_), ValueType::OptionalNumber)
                | (Value::Numbers(_), ValueType::Numbers)
        )
    }
}

impl OptDecl {
    /// The option with `v` as the plan shows it (`hostdev >-`, `reg 0x0b,0x06`).
    pub fn show(&self, v: &Value) -> String {
        let n = self.name;
        match v {
            Value::Flag => n.to_string(),
            Value::Number(x) if self.value == ValueType::Mask => format!("{n} {x:#x}"),
            Value::Number(x) => format!("{n} {x}"),
            Value::Text(s) => format!("{n} {s}"),
            Value::HostDev(h) => format!("{n} {h}"),
            Value::RtcReg(i, x) => format!("{n} {i:#04x},{x:#04x}"),
            Value::PciReg(PciReg::Named { name, value }) => format!("{n} {name}={value:#x}"),
            Value::PciReg(PciReg::Offset {
                offset,
                size,
                value,
            }) => format!("{n} {offset:#x}/{size}={value:#x}"),
            Value::PciAddr(a) => format!("{n} pci:{a}"),
            Value::Toggle(on) => format!("{n} {}", if *on { "enable" } else { "disable" }),
            Value::Mac(m) => format!(
                "{n} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            Value::NamedSize(name, size) => format!("{n} {name},{size:#x}"),
            Value::OptionalNumber(Some(a)) => format!("{n} {a:#x}"),
            Value::OptionalNumber(None) => n.to_string(),
            Value::Numbers(v) => {
                let m: Vec<String> = v.iter().map(|x| format!("{x:#x}")).collect();
                format!("{n} {}", m.join(","))
            }
        }
    }
}

/// One option given to a device, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionValue {
    /// The option's name (one of the device's declared options).
    pub name: String,
    /// Its value.
    pub value: Value,
}

impl OptionValue {
    /// Option `name` with `value`.
    pub fn new(name: &str, value: Value) -> OptionValue {
        OptionValue {
            name: name.to_string(),
            value,
        }
    }
}
