//! Every option a device declares is read as its declaration says, and the
//! plan shows it in words that read back to the same value.

use diag::SourceMap;
use qvmconf::*;
use vdev::decl::ValueType;

const X86: &str = "ram 0,0xa0000\nram 1m,63m\nvdev ioapic loc 0xf8000000 intr apic name myioapic\n";
const ARM: &str = "ram 0x80000000,128M\n";

/// A value of each type, as it is written.
fn sample(t: ValueType) -> String {
    match t {
        ValueType::Flag => String::new(),
        ValueType::Number => "100".into(),
        ValueType::NonZero => "1000".into(),
        ValueType::Bounded { min, max } => ((min + max) / 2).to_string(),
        ValueType::Choice(c) => c[c.len() - 1].to_string(),
        ValueType::Mask => "0x30".into(),
        ValueType::Text => "word".into(),
        ValueType::HostDev => ">-".into(),
        ValueType::RtcReg => "0x0b,0x06".into(),
        ValueType::PciReg => "Vendor_ID=0x1234".into(),
        ValueType::PciAddr => "0:5".into(),
        ValueType::Toggle => "disable".into(),
        ValueType::Mac => "52:54:00:00:01:02".into(),
        ValueType::NamedSize => "region,0x1000".into(),
        ValueType::OptionalNumber => "0x2f000000".into(),
        ValueType::Numbers => "0x2c000000,32,64".into(),
    }
}

/// The vdev line of `kind` with `extra` words, in a VM of its architecture.
fn config(kind: VdevKind, extra: &str) -> String {
    let d = kind.decl();
    let (head, at) = match d.arch {
        Some(Arch::Aarch64) => (ARM, " loc 0x1c090000 intr gic:37"),
        _ => (X86, ""),
    };
    let at = if d.needs_loc { at } else { "" };
    format!("{head}vdev {}{at} {extra}\n", kind.name())
}

fn read(text: &str) -> VmConfig {
    let mut map = SourceMap::new();
    let opts = Options {
        host_files: false,
        ..Options::default()
    };
    let (vm, d) = load_source(&mut map, "t.qvmconf", text.as_bytes().to_vec(), &opts);
    assert!(
        d.iter().all(|d| !d.is_error()),
        "{text}{}",
        diag::render::human_to_string(&map, &d)
    );
    vm.expect("a VM")
}

fn last_vdev(vm: &VmConfig) -> &Vdev {
    vm.vdevs.last().expect("a vdev")
}

#[test]
fn every_declared_option_reads_and_shows_back_as_the_same_value() {
    let mut checked = 0;
    for &kind in VdevKind::ALL {
        for o in kind.decl().options {
            let words = format!("{} {}", o.name, sample(o.value));
            let vm = read(&config(kind, &words));
            let v = last_vdev(&vm);
            let given = v
                .options
                .get(o.name)
                .unwrap_or_else(|| panic!("vdev {} {words}: not read", kind.name()));
            assert!(
                given.is_of(o.value),
                "vdev {} {words}: {given:?}",
                kind.name()
            );
            // the plan's words are configuration words for the same value
            let shown = o.show(given);
            assert!(v.options.shown().contains(&shown), "{shown}");
            let again = read(&config(kind, &shown));
            assert_eq!(
                last_vdev(&again).options.get(o.name),
                Some(given),
                "vdev {} {shown}",
                kind.name()
            );
            checked += 1;
        }
    }
    let declared: usize = VdevKind::ALL.iter().map(|k| k.decl().options.len()).sum();
    assert_eq!(checked, declared);
}

#[test]
fn a_declared_default_is_shown_and_in_the_json_when_not_written() {
    for &kind in VdevKind::ALL {
        for o in kind.decl().options.iter().filter(|o| o.default.is_some()) {
            let vm = read(&config(kind, ""));
            let v = last_vdev(&vm);
            assert_eq!(v.options.get(o.name), None);
            let value = v.options.effective(o).expect("the default");
            assert!(v.options.shown().contains(&o.show(&value)));
            let json = serde_json::to_value(&v.options).expect("json");
            assert!(!json[o.key].is_null(), "{}: {json}", o.key);
        }
    }
}
