//! A vdev's own options, typed: each one read according to its declaration
//! in the `vdev` crate ([`vdev::decl`]), and shown (dry-run plan, JSON) from
//! the same declaration.

use diag::Span;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use vdev::decl::{OptDecl, Repeat, ValueType};
use vdev::{Direction, HostDev, PciReg, Value, VdevKind};

use crate::value;

/// One option written for a vdev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenOption {
    /// Its declaration.
    pub decl: &'static OptDecl,
    /// Its value.
    pub value: Value,
    /// Where the value (or, for a flag, the option) was written.
    pub span: Span,
}

/// The options proper to one vdev, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VdevOptions {
    kind: VdevKind,
    /// The options written (for a `Last` option, the one that counts).
    pub given: Vec<GivenOption>,
}

impl VdevOptions {
    /// No options yet, for a vdev of `kind`.
    pub fn new(kind: VdevKind) -> VdevOptions {
        VdevOptions {
            kind,
            given: Vec::new(),
        }
    }

    /// Adds an option as its declaration says: a `Many` option adds a value,
    /// a `Last` option replaces the one before; a second `Once` option is
    /// refused and the span of the first returned.
    pub fn add(&mut self, g: GivenOption) -> Result<(), Span> {
        let prev = self.given.iter().position(|o| o.decl.name == g.decl.name);
        match (g.decl.repeat, prev) {
            (Repeat::Once, Some(i)) => Err(self.given[i].span),
            (Repeat::Last, Some(i)) => {
                self.given[i] = g;
                Ok(())
            }
            _ => {
                self.given.push(g);
                Ok(())
            }
        }
    }

    /// The values of option `name`, in order.
    pub fn all<'a, 'b>(
        &'a self,
        name: &'b str,
    ) -> impl Iterator<Item = &'a GivenOption> + use<'a, 'b> {
        self.given.iter().filter(move |o| o.decl.name == name)
    }

    /// The value of option `name` as written, if it was.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.all(name).last().map(|o| &o.value)
    }

    /// The value of option `name`: as written, else its declared default.
    pub fn effective(&self, decl: &OptDecl) -> Option<Value> {
        self.get(decl.name).cloned().or_else(|| {
            decl.default
                .and_then(|d| parse(decl, d, self.kind.name()).ok())
        })
    }

    /// `hostdev`, with where it was written.
    pub fn hostdev(&self) -> Option<(&HostDev, Span)> {
        self.all("hostdev").last().and_then(|o| match &o.value {
            Value::HostDev(h) => Some((h, o.span)),
            _ => None,
        })
    }

    /// The options as the plan shows them (`hostdev >-`), in the order the
    /// device declares them, defaults included.
    pub fn shown(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in self.kind.decl().options {
            if d.repeat == Repeat::Many {
                out.extend(self.all(d.name).map(|o| d.show(&o.value)));
            } else if let Some(v) = self.effective(d) {
                out.push(d.show(&v));
            }
        }
        out
    }
}

/// The dry run's JSON: `{"vdev": TAG, KEY: value, ...}`, every declared
/// option present (`false`, `null` or `[]` when not written).
impl Serialize for VdevOptions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let decl = self.kind.decl();
        let mut m = s.serialize_map(Some(decl.options.len() + 1))?;
        m.serialize_entry("vdev", decl.tag)?;
        for d in decl.options {
            let v = if d.repeat == Repeat::Many {
                serde_json::Value::Array(self.all(d.name).map(|o| plain(&o.value)).collect())
            } else {
                match self.effective(d) {
                    Some(v) => plain(&v),
                    None => match d.value {
                        ValueType::Flag => serde_json::Value::Bool(false),
                        ValueType::Numbers => serde_json::Value::Array(Vec::new()),
                        _ => serde_json::Value::Null,
                    },
                }
            };
            m.serialize_entry(d.key, &v)?;
        }
        m.end()
    }
}

/// A value as the dry run's JSON shows it (a flag is `true`, a hostdev
/// `{direction, path}`, a list an array).
fn plain(v: &Value) -> serde_json::Value {
    use serde_json::json;
    match v {
        Value::Flag => json!(true),
        Value::Number(n) => json!(n),
        Value::Text(s) => json!(s),
        Value::HostDev(h) => json!(h),
        Value::RtcReg(a, b) => json!([a, b]),
        Value::PciReg(r) => json!(r),
        Value::PciAddr(a) => json!(a),
        Value::Toggle(b) => json!(b),
        Value::Mac(m) => json!(m),
        Value::NamedSize(n, s) => json!([n, s]),
        Value::OptionalNumber(n) => json!(n),
        Value::Numbers(v) => json!(v),
    }
}

/// Reads the value of option `decl` of a `vdev kind` from its word (empty
/// for a flag; for an optional number, the word if it is a number).
pub fn parse(decl: &OptDecl, text: &str, kind: &str) -> Result<Value, String> {
    let name = decl.name;
    Ok(match decl.value {
        ValueType::Flag => Value::Flag,
        ValueType::Number | ValueType::Mask => Value::Number(value::number(text)?),
        ValueType::NonZero => match value::number(text)? {
            0 => return Err(format!("the {name} must not be 0")),
            n => Value::Number(n),
        },
        ValueType::Bounded { min, max } => {
            let n = u64::from(value::number_u32(text)?);
            if !(min..=max).contains(&n) {
                return Err(format!("{n} {name}: {kind} takes {min} to {max}"));
            }
            Value::Number(n)
        }
        ValueType::Choice(c) => match value::number(text)? {
            n if c.contains(&n) => Value::Number(n),
            n => return Err(format!("{name} {n}: qvm offers {}", decl.value.form())),
        },
        ValueType::Text => Value::Text(text.to_string()),
        ValueType::HostDev => Value::HostDev(hostdev(text)?),
        ValueType::RtcReg => rtc_reg(text)?,
        ValueType::PciReg => Value::PciReg(pci_reg(text)?),
        ValueType::PciAddr => Value::PciAddr(value::pci_addr(text)?),
        ValueType::Toggle => match text {
            "enable" => Value::Toggle(true),
            "disable" => Value::Toggle(false),
            _ => return Err(format!("`{text}` is not `enable` or `disable`")),
        },
        ValueType::Mac => Value::Mac(value::mac(text)?),
        ValueType::NamedSize => named_size(text)?,
        ValueType::OptionalNumber => Value::OptionalNumber(value::number(text).ok()),
        ValueType::Numbers => Value::Numbers(
            text.split(',')
                .map(value::number)
                .collect::<Result<Vec<u64>, String>>()?,
        ),
    })
}

fn hostdev(text: &str) -> Result<HostDev, String> {
    let (direction, path) = if let Some(p) = text.strip_prefix('<') {
        (Some(Direction::Input), p)
    } else if let Some(p) = text.strip_prefix('>') {
        (Some(Direction::Output), p)
    } else {
        (None, text)
    };
    if path.is_empty() {
        return Err("the path is empty (`-` is qvm's standard input/output)".into());
    }
    Ok(HostDev {
        direction,
        path: path.to_string(),
    })
}

fn rtc_reg(text: &str) -> Result<Value, String> {
    let (a, b) = text
        .split_once(',')
        .ok_or_else(|| format!("`{text}` is not `index,value`"))?;
    let a = value::number(a)?;
    let b = value::number(b)?;
    match (u8::try_from(a), u8::try_from(b)) {
        (Ok(a), Ok(b)) if a <= 0x7f => Ok(Value::RtcReg(a, b)),
        _ => Err(format!(
            "`{text}`: the index is 0–0x7f and the value one byte"
        )),
    }
}

fn pci_reg(text: &str) -> Result<PciReg, String> {
    let (k, val) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not `name=value` or `off/size=value`"))?;
    let value = value::number(val)?;
    let Some((o, s)) = k.split_once('/') else {
        return Ok(PciReg::Named {
            name: k.to_string(),
            value,
        });
    };
    let offset = value::number_u32(o)?;
    let size = value::number_u32(s)?;
    if !matches!(size, 1 | 2 | 4) || offset >= 4096 {
        return Err(format!(
            "`{k}`: the size is 1, 2 or 4 and the offset below 4096"
        ));
    }
    Ok(PciReg::Offset {
        offset,
        size,
        value,
    })
}

fn named_size(text: &str) -> Result<Value, String> {
    let (n, s) = text
        .split_once(',')
        .ok_or_else(|| format!("`{text}` is not `name,size`"))?;
    if n.is_empty() {
        return Err("the region name is empty".into());
    }
    let size = value::number(s)?;
    if size == 0 {
        return Err("the size must not be 0".into());
    }
    Ok(Value::NamedSize(n.to_string(), size))
}
