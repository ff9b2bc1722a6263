//! `vmm::preflight`: every configuration this VMM refuses is found before
//! anything runs, located at the line and word concerned, with a V code and
//! a help; and the VM's assembly (`vmm::check`) stops on exactly the same
//! message, because both run the same checks. No KVM needed: the checks come
//! before /dev/kvm is opened.

const BASE: &str = "system probe
ram 0,0xa0000
rom 0xc0000,0x40000
ram 1m,31m
load /vm/probe.elf
cmdline \"hello\"
vdev ioapic loc 0xf8000000 intr apic name myioapic
vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-
vdev timer8254 intr myioapic:0
vdev mc146818
vdev pckeyboard
vdev progress
vdev 8259 loc 0x20
vdev 8259 loc 0xa0
";

/// One diagnostic as tested: code, `line:col` of its primary location, the
/// text there, the message and the help.
#[derive(Debug)]
struct Found {
    code: &'static str,
    at: String,
    text: String,
    message: String,
    help: String,
    secondary: Vec<String>,
}

/// Preflight `text`, which the qvmconf crate must accept without errors.
fn preflight(text: &str) -> (Vec<Found>, Result<(), String>) {
    let mut map = diag::SourceMap::new();
    let opts = qvmconf::Options {
        host_files: false,
        ..Default::default()
    };
    let (vm, diags) = qvmconf::load_source(&mut map, "t.qvmconf", text.as_bytes().to_vec(), &opts);
    assert!(
        !diags.iter().any(|d| d.is_error()),
        "qvmconf refused the test input: {diags:?}"
    );
    let vm = vm.expect("a VmConfig");
    let found = vmm::preflight(&vm)
        .into_iter()
        .map(|d| {
            let primary = d.primary.as_ref().expect("located");
            let loc = map.location(primary.span);
            Found {
                code: d.code.id,
                at: loc.trim_start_matches("t.qvmconf:").to_string(),
                text: map.snippet(primary.span).to_string(),
                message: d.message.clone(),
                help: d.help.clone().unwrap_or_default(),
                secondary: d
                    .secondary
                    .iter()
                    .map(|l| map.snippet(l.span).to_string())
                    .collect(),
            }
        })
        .collect();
    // what the VM's assembly says (before any host resource is touched)
    let built = vmm::spec_from_config(&vm, std::path::Path::new("/"))
        .and_then(|spec| vmm::check(&spec))
        .map_err(|e| e.to_string());
    (found, built)
}

/// `extra` added to the probe VM is refused with `code` at `at` (`line:col`)
/// on `text`; the assembly stops with the same message.
fn refused(extra: &str, code: &str, at: &str, text: &str) -> Found {
    let (mut found, built) = preflight(&format!("{BASE}{extra}\n"));
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = found.remove(0);
    assert_eq!(
        (f.code, f.at.as_str(), f.text.as_str()),
        (code, at, text),
        "{f:#?}"
    );
    assert!(!f.help.is_empty(), "{f:#?}");
    let err = built.expect_err("the assembly refuses it too");
    assert_eq!(err, format!("configuration: {}", f.message));
    f
}

/// `extra` added to the probe VM raises nothing.
fn accepted(extra: &str) {
    let (found, _) = preflight(&format!("{BASE}{extra}\n"));
    assert!(found.is_empty(), "{extra}: {found:#?}");
}

#[test]
fn the_probe_vm_passes() {
    accepted("");
}

#[test]
fn an_ioapic_line_beyond_23() {
    let f = refused(
        "vdev ser8250 loc 0x2f8 intr myioapic:40",
        "V0106",
        "15:29",
        "myioapic:40",
    );
    assert_eq!(f.message, "ser8250: ioapic line 40 (the ioapic has 24)");
    assert!(f.help.contains("0 to 23"), "{}", f.help);
    accepted("vdev ser8250 loc 0x2f8 intr myioapic:23");
}

#[test]
fn an_8259_line_beyond_15_or_the_cascade() {
    refused(
        "vdev ser8250 loc 0x2f8 intr 8259:2",
        "V0106",
        "15:29",
        "8259:2",
    );
    refused(
        "vdev ser8250 loc 0x2f8 intr 8259:16",
        "V0106",
        "15:29",
        "8259:16",
    );
    accepted("vdev ser8250 loc 0x2f8 intr 8259:3");
}

#[test]
fn a_second_ioapic() {
    let f = refused(
        "vdev ioapic loc 0xfec00000 intr apic name io2",
        "V0103",
        "15:1",
        "vdev ioapic",
    );
    // the first ioapic is pointed at too
    assert_eq!(f.secondary, ["vdev ioapic"]);
    // one ioapic, at KVM's own address, is fine
    let one = BASE.replace("loc 0xf8000000", "loc 0xfec00000");
    assert!(preflight(&one).0.is_empty());
}

#[test]
fn a_second_timer8254_at_another_port() {
    let f = refused(
        "vdev timer8254 loc 0x48 intr myioapic:2",
        "V0104",
        "15:1",
        "vdev timer8254",
    );
    assert_eq!(f.secondary, ["vdev timer8254"]);
}

#[test]
fn a_timer8254_away_from_port_0x40() {
    let moved = BASE.replace("vdev timer8254 intr", "vdev timer8254 loc 0x48 intr");
    let (found, built) = preflight(&moved);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].code, found[0].text.as_str()), ("V0105", "0x48"));
    assert_eq!(
        built.expect_err("refused"),
        format!("configuration: {}", found[0].message)
    );
    let explicit = BASE.replace("vdev timer8254 intr", "vdev timer8254 loc 0x40 intr");
    assert!(preflight(&explicit).0.is_empty());
}

#[test]
fn an_8259_away_from_0x20_and_0xa0() {
    let moved = BASE.replace("vdev 8259 loc 0xa0", "vdev 8259 loc 0x4d0");
    let (found, built) = preflight(&moved);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(
        (f.code, f.at.as_str(), f.text.as_str()),
        ("V0105", "14:15", "0x4d0")
    );
    assert!(f.help.contains("0xa0"), "{}", f.help);
    assert_eq!(
        built.expect_err("refused"),
        format!("configuration: {}", f.message)
    );
    accepted(""); // 0x20 and 0xa0
}

#[test]
fn intr_on_the_local_apics() {
    let f = refused(
        "vdev ser8250 loc 0x2f8 intr apic:4",
        "V0107",
        "15:29",
        "apic:4",
    );
    assert!(f.help.contains("intr myioapic:4"), "{}", f.help);
    accepted("vdev ser8250 loc 0x2f8 intr myioapic:5");
}

#[test]
fn more_than_254_cpus() {
    let (found, built) = preflight(&format!("{BASE}{}", "cpu\n".repeat(300)));
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    // pointed at the 255th `cpu` line (line 15 is the first)
    assert_eq!((f.code, f.at.as_str()), ("V0108", "269:1"));
    assert_eq!(f.message, "300 vCPUs (at most 254)");
    assert_eq!(
        built.expect_err("refused"),
        format!("configuration: {}", f.message)
    );
    accepted(&"cpu\n".repeat(254));
}

#[test]
fn vdevs_this_vmm_does_not_provide() {
    for (line, kind) in [("vdev vgpu-gvtg", "vgpu-gvtg"), ("vdev smmu", "smmu")] {
        let (found, built) = preflight(&format!("{BASE}{line}\n"));
        let codes: Vec<_> = found.iter().map(|f| (f.code, f.at.as_str())).collect();
        assert_eq!(codes, [("V0101", "15:1")], "{line}: {found:#?}");
        assert_eq!(found[0].text, line);
        assert!(found[0].help.contains("ser8250"), "{found:#?}");
        assert_eq!(
            built.expect_err("refused"),
            format!("configuration: vdev {kind} is not provided by this VMM yet")
        );
    }
    // every provided kind passes (the probe VM has them all)
    accepted("");
}

#[test]
fn pass_through_and_acpi_tables() {
    let f = refused(
        "pass loc mem:0xfe000000,0x1000,rw=0xfe000000",
        "V0102",
        "15:1",
        "pass",
    );
    assert!(f.message.contains("`pass`"), "{}", f.message);
    let (found, _) = preflight(&format!("{BASE}acpi load /vm/acpi.bin\n"));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].code, "V0102");
    assert_eq!(found[0].message, "`acpi load` is not supported by this VMM");
}

#[test]
fn overlapping_devices_found_by_the_bus() {
    // qvmconf refuses every overlap it can see (Q0201), so this check is
    // met through a VmSpec (vmm-run's input): a progress device inside the
    // relocated ioapic's register window
    let mut map = diag::SourceMap::new();
    let opts = qvmconf::Options {
        host_files: false,
        ..Default::default()
    };
    let (vm, _) = qvmconf::load_source(&mut map, "t.qvmconf", BASE.as_bytes().to_vec(), &opts);
    let spec =
        vmm::spec_from_config(&vm.expect("VmConfig"), std::path::Path::new("/")).expect("spec");
    let with = |base: u64| {
        let mut s = spec.clone();
        s.vdevs.push(vmm::spec::VdevSpec {
            loc: Some(vmm::spec::Loc {
                space: vmm::spec::Space::Mem,
                base,
                len: Some(16),
            }),
            ..vmm::spec::VdevSpec::new(vdev::VdevKind::Progress)
        });
        vmm::check(&s).map_err(|e| e.to_string())
    };
    let err = with(0xf800_00f0).expect_err("overlap");
    assert_eq!(
        err,
        "configuration: vdev progress: 0xf80000f0..0xf8000100 overlaps ioapic at 0xf8000000..0xf8000100"
    );
    // beside the window: the assembly goes on (and needs KVM and the image)
    let next = with(0xf800_0100);
    assert!(next.is_ok() || !next.as_ref().is_err_and(|e| e.contains("overlaps")));
}

#[test]
fn no_low_ram_for_the_boot_structures() {
    let high = BASE.replace("ram 0,0xa0000\n", "");
    let (found, built) = preflight(&high);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    // pointed at the first memory line (now the rom)
    assert_eq!((f.code, f.at.as_str()), ("V0111", "2:1"));
    assert!(f.help.contains("ram 0,0xa0000"), "{}", f.help);
    assert_eq!(
        built.expect_err("refused"),
        format!("configuration: {}", f.message)
    );
    accepted(""); // with ram 0,0xa0000
}

#[test]
fn no_image_to_boot() {
    let data_only = BASE.replace("load /vm/probe.elf", "data load 0x200000,/vm/blob");
    let (found, built) = preflight(&data_only);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!((f.code, f.at.as_str()), ("V0112", "5:1"));
    assert_eq!(f.message, "no bootable image: add a `load` line");
    assert_eq!(
        built.expect_err("refused"),
        format!("configuration: {}", f.message)
    );
    accepted("initrd load /vm/initrd.img"); // beside an image
}

#[test]
fn memory_this_vmm_cannot_map() {
    let odd = BASE.replace("ram 1m,31m", "ram 1m,0x1f00800");
    let (found, built) = preflight(&odd);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!((f.code, f.at.as_str()), ("V0113", "4:1"), "{f:#?}");
    assert!(f.message.contains("multiples of 4 KiB"), "{}", f.message);
    assert_eq!(
        built.expect_err("refused"),
        format!("configuration: {}", f.message)
    );
    accepted(""); // whole pages
}

#[test]
fn a_command_line_beyond_64_kib() {
    let long = BASE.replace(
        "cmdline \"hello\"",
        &format!("cmdline \"{}\"", "a".repeat(70_000)),
    );
    let (found, built) = preflight(&long);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!((f.code, f.at.as_str()), ("V0114", "6:9"), "{}", f.message);
    assert_eq!(
        built.expect_err("refused"),
        format!("configuration: {}", f.message)
    );
    let fits = BASE.replace(
        "cmdline \"hello\"",
        &format!("cmdline \"{}\"", "a".repeat(60_000)),
    );
    assert!(preflight(&fits).0.is_empty());
}

#[test]
fn every_problem_is_reported_at_once() {
    let (found, _) = preflight(&format!(
        "{BASE}vdev ser8250 loc 0x2f8 intr myioapic:40\nvdev vgpu-gvtg\nvdev ioapic name io2\n{}",
        "cpu\n".repeat(255)
    ));
    let mut codes: Vec<_> = found.iter().map(|f| f.code).collect();
    codes.sort();
    assert_eq!(codes, ["V0101", "V0103", "V0106", "V0108"], "{found:#?}");
}

#[test]
fn every_code_has_its_explanation() {
    for c in vmm::codes::ALL {
        assert!(
            c.explanation
                .starts_with(&format!("# {}: {}\n", c.id, c.summary)),
            "{}",
            c.id
        );
        assert!(c.explanation.contains("Wrong") && c.explanation.contains("Right"));
    }
}

#[test]
fn v0101_explains_the_vdevs_the_declarations_provide_and_refuse() {
    let text = include_str!("../explain/V0101.md");
    // "... The KVM VMM of hvhost provides `8259`, ... and `progress`. ..."
    let at = text
        .find("hvhost provides")
        .expect("the list of provided vdevs");
    let provides = &text[at..at + text[at..].find(". ").expect("the sentence's end")];
    let before = &text[..at];
    for k in vdev::VdevKind::ALL {
        let named = format!("`{}`", k.name());
        match k.hvhost() {
            vdev::Applied::Refused => assert!(
                before.contains(k.name()) && !provides.contains(&named),
                "V0101.md: {} is not provided",
                k.name()
            ),
            _ => assert!(provides.contains(&named), "V0101.md: {named} is provided"),
        }
    }
}
