//! Families 3 to 7, with VMs built by hand (the qvmconf adapter has its own tests).

mod common;
use common::{check_with, host, vdev, vm, vm_file};
use hostcheck::{HostLoc, LoadFacts, PartitionUse, PassFacts, SafetyLevel};

const X86_BOOT: &str = "[virtual=x86_64,multiboot] boot = {\n    startup-x86 -v\n    [module=qvm module=aps] PATH=/proc/boot:/usr/bin procnto-smp-instr -v\n}\n";
const ARM_BOOT: &str = "[virtual=aarch64le,raw] boot = {\n    startup-imx8 -P1\n    [module=qvm] PATH=/proc/boot:/usr/bin procnto-smp-instr -v\n}\n";
const SAFE_BOOT: &str = "[virtual=aarch64le,raw] boot = {\n    startup-imx8 -P1\n    [module=qvm-safety module=aps-safety] PATH=/proc/boot:/usr/bin procnto-smp-instr-safety -v\n}\n";

const FILES: &str =
    "/usr/bin/qvm = qvm\n/vm/a.qvmconf = {\nsystem a\n}\n/vm/b.qvmconf = {\nsystem b\n}\n";
const TWO: &str = "    qvm @/vm/a.qvmconf &\n    qvm @/vm/b.qvmconf &\n";

fn files(extra: &str) -> String {
    format!("{FILES}{extra}")
}

// ---------------------------------------------------------------- family 3

#[test]
fn h0301_vdev_missing_names_vm_and_lines() {
    let src = host(
        Some(X86_BOOT),
        None,
        Some(&files("/lib/dll/vdev-ser8250.so = vdev-ser8250.so\n")),
    );
    let (map, r, f) = check_with(&src, None, |map| {
        let l = vm_file(
            map,
            "a.qvmconf",
            "system a\nvdev ser8250\nvdev virtio-blk\nvdev virtio-blk\n",
        );
        let mut a = vm("a", "/vm/a.qvmconf");
        a.vdevs = vec![
            vdev("ser8250", l[2], None),
            vdev("virtio-blk", l[3], None),
            vdev("virtio-blk", l[4], None),
        ];
        vec![a]
    });
    assert_eq!(f, ["H0301 a.qvmconf:3:1"]);
    let d = &r.diagnostics[0];
    assert_eq!(
        d.message,
        "VM `a` uses vdev `virtio-blk` but the image has no `vdev-virtio-blk.so`"
    );
    assert_eq!(map.location(d.secondary[0].span), "host.build:6:5");
}

#[test]
fn implicit_gic_on_aarch64_only() {
    let mk = |boot: &'static str| {
        let src = host(Some(boot), Some("    qvm @/vm/a.qvmconf &\n"), Some(FILES));
        check_with(&src, None, |map| {
            let l = vm_file(map, "a.qvmconf", "vdev gic\n");
            let mut a = vm("a", "/vm/a.qvmconf");
            a.vdevs = vec![vdev("gic", l[1], None)];
            vec![a]
        })
        .2
    };
    assert!(mk(ARM_BOOT).is_empty());
    assert_eq!(mk(X86_BOOT), ["H0301 a.qvmconf:1:1"]);
}

#[test]
fn h0302_unused_vdev_only_when_every_vm_is_known() {
    let src = host(
        Some(X86_BOOT),
        Some(TWO),
        Some(&files(
            "/lib/dll/vdev-ser8250.so = vdev-ser8250.so\n/lib/dll/vdev-hpet.so = vdev-hpet.so\n",
        )),
    );
    let build = |both: bool| {
        check_with(&src, None, move |map| {
            let l = vm_file(map, "a.qvmconf", "vdev ser8250\n");
            let mut a = vm("a", "/vm/a.qvmconf");
            a.vdevs = vec![vdev("ser8250", l[1], None)];
            let mut v = vec![a];
            if both {
                v.push(vm("b", "/vm/b.qvmconf"));
            }
            v
        })
        .2
    };
    assert_eq!(build(true), ["H0302 host.build:17:1"]);
    assert!(build(false).is_empty());
}

#[test]
fn h0304_only_when_ld_library_path_is_set_and_misses_the_vdev() {
    let run = |script: &str| {
        let src = host(
            Some(X86_BOOT),
            Some(script),
            Some(&files("/opt/qvm/dll/vdev-ser8250.so = vdev-ser8250.so\n")),
        );
        check_with(&src, None, |map| {
            let l = vm_file(map, "a.qvmconf", "vdev ser8250\n");
            let mut a = vm("a", "/vm/a.qvmconf");
            a.vdevs = vec![vdev("ser8250", l[1], None)];
            vec![a]
        })
        .2
    };
    let qvm = "    qvm @/vm/a.qvmconf &\n";
    // Set script-wide, without the vdev's directory.
    assert_eq!(
        run(&format!("    LD_LIBRARY_PATH=/proc/boot:/lib\n{qvm}")),
        ["H0304 a.qvmconf:1:1"]
    );
    // Set on the qvm line itself, without it.
    assert_eq!(
        run("    LD_LIBRARY_PATH=/proc/boot qvm @/vm/a.qvmconf &\n"),
        ["H0304 a.qvmconf:1:1"]
    );
    // Naming the directory, on the line or script-wide: found.
    assert!(run("    LD_LIBRARY_PATH=/opt/qvm/dll qvm @/vm/a.qvmconf &\n").is_empty());
    assert!(run(&format!("    LD_LIBRARY_PATH=/lib:/opt/qvm/dll\n{qvm}")).is_empty());
    // Not set: the default library path is not known, nothing is said.
    assert!(run(qvm).is_empty());
}

#[test]
fn h0303_pci_support_without_pci_pass() {
    let src = host(
        Some(X86_BOOT),
        None,
        Some(&files(
            "/lib/dll/pci/pci_server-qvm_support.so = pci/pci_server-qvm_support.so\n",
        )),
    );
    let (_, _, f) = check_with(&src, None, |_| vec![vm("a", "/vm/a.qvmconf")]);
    assert_eq!(f, ["H0303 host.build:15:1"]);
    let (_, _, f) = check_with(&src, None, |map| {
        let l = vm_file(map, "a.qvmconf", "pass loc pci:0:3.0\n");
        let mut a = vm("a", "/vm/a.qvmconf");
        a.pass = vec![pass(
            HostLoc::PciAddr {
                bus: 0,
                dev: 3,
                func: Some(0),
            },
            None,
            l[1],
        )];
        vec![a]
    });
    assert!(f.is_empty(), "{f:?}");
}

// ---------------------------------------------------------------- family 4

fn pass(loc: HostLoc, intr: Option<u32>, span: diag::Span) -> PassFacts {
    PassFacts {
        loc: Some(loc),
        intr,
        span,
    }
}

#[test]
fn h0401_pci_pass_without_support() {
    let src = host(Some(X86_BOOT), None, Some(FILES));
    let (_, _, f) = check_with(&src, None, |map| {
        let l = vm_file(map, "a.qvmconf", "system a\npass loc pci:0x8086/0x1234\n");
        let mut a = vm("a", "/vm/a.qvmconf");
        a.pass = vec![pass(
            HostLoc::PciId {
                vendor: 0x8086,
                device: 0x1234,
            },
            None,
            l[2],
        )];
        vec![a]
    });
    assert_eq!(f, ["H0401 a.qvmconf:2:1"]);
}

#[test]
fn h0402_device_passed_to_two_vms() {
    let src = host(Some(ARM_BOOT), Some(TWO), Some(FILES));
    let run = |b_start: u64, b_intr: Option<u32>| {
        check_with(&src, None, move |map| {
            let la = vm_file(map, "a.qvmconf", "pass loc mem:0xe6e88000,0x1000\n");
            let lb = vm_file(map, "b.qvmconf", "system b\npass loc mem:...\n");
            let mut a = vm("a", "/vm/a.qvmconf");
            a.pass = vec![pass(
                HostLoc::Mem {
                    start: 0xe6e88000,
                    len: 0x1000,
                },
                Some(40),
                la[1],
            )];
            let mut b = vm("b", "/vm/b.qvmconf");
            b.pass = vec![pass(
                HostLoc::Mem {
                    start: b_start,
                    len: 0x100,
                },
                b_intr,
                lb[2],
            )];
            vec![a, b]
        })
    };
    let (map, r, f) = run(0xe6e88f00, None);
    assert_eq!(f, ["H0402 b.qvmconf:2:1"]);
    // Each VM's own range is named.
    assert_eq!(
        r.diagnostics[0].message,
        "VM `a` is given mem:0xe6e88000,0x1000 and VM `b` is given mem:0xe6e88f00,0x100, which overlap"
    );
    assert_eq!(
        map.location(r.diagnostics[0].secondary[0].span),
        "a.qvmconf:1:1"
    );
    let (_, r, f) = run(0xe6e90000, Some(40));
    assert_eq!(f, ["H0402 b.qvmconf:2:1"]);
    assert!(r.diagnostics[0].message.starts_with("host interrupt 40"));
    let (_, _, f) = run(0xe6e90000, Some(41));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn h0403_host_driver_claims_passed_device() {
    let script = |drv: &str| format!("    {drv} &\n    qvm @/vm/a.qvmconf &\n");
    let run = |drv: &str, boot: &'static str, loc: HostLoc, intr: Option<u32>| {
        let src = host(Some(boot), Some(&script(drv)), Some(FILES));
        check_with(&src, None, move |map| {
            let l = vm_file(map, "a.qvmconf", "pass ...\n");
            let mut a = vm("a", "/vm/a.qvmconf");
            a.pass = vec![pass(loc, intr, l[1])];
            vec![a]
        })
    };
    let com1 = HostLoc::Io {
        start: 0x3f8,
        len: 8,
    };
    let (map, r, f) = run("devc-ser8250 -e -b115200 0x3f8,4", X86_BOOT, com1, Some(4));
    assert_eq!(f, ["H0403 host.build:6:5"]);
    assert_eq!(
        map.location(r.diagnostics[0].secondary[0].span),
        "a.qvmconf:1:1"
    );
    assert!(
        r.diagnostics[0].message.contains("`0x3f8,4`"),
        "{}",
        r.diagnostics[0].message
    );
    // The host keeps COM2: clean.
    let (_, _, f) = run("devc-ser8250 -e -b115200 0x2f8,3", X86_BOOT, com1, Some(4));
    assert!(f.is_empty(), "{f:?}");
    // Through `on`.
    let (_, _, f) = run("on -p 21 devc-ser8250 -e 0x3f8,4", X86_BOOT, com1, Some(4));
    assert_eq!(f, ["H0403 host.build:6:5"]);
    // Only the interrupt is shared.
    let (_, _, f) = run("devc-ser8250 -e 0x2f8,4", X86_BOOT, com1, Some(4));
    assert_eq!(f, ["H0403 host.build:6:5"]);
    // spi base= on AArch64.
    let spi = HostLoc::Mem {
        start: 0x2008000,
        len: 0x4000,
    };
    let (_, _, f) = run(
        "spi-master -d mx51ecspi base=0x2008000,irq=63",
        ARM_BOOT,
        spi,
        None,
    );
    assert_eq!(f, ["H0403 host.build:6:5"]);
    // PCI ids on a network driver.
    let nic = HostLoc::PciId {
        vendor: 0x8086,
        device: 0x10d3,
    };
    let (_, _, f) = run(
        "io-pkt-v6-hc -d e1000 vid=0x8086,did=0x10d3",
        X86_BOOT,
        nic,
        None,
    );
    assert_eq!(f, ["H0401 a.qvmconf:1:1", "H0403 host.build:6:5"]);
}

#[test]
fn h0404_driver_of_the_passed_kind() {
    let src = host(
        Some(X86_BOOT),
        Some("    io-usb-otg -d hcd-xhci &\n    qvm @/vm/a.qvmconf &\n"),
        Some(&files(
            "/lib/dll/pci/pci_server-qvm_support.so = pci/pci_server-qvm_support.so\n",
        )),
    );
    let run = |dev: u8| {
        check_with(&src, None, move |map| {
            let l = vm_file(map, "a.qvmconf", "pass loc pci:0:20.0\n");
            let mut a = vm("a", "/vm/a.qvmconf");
            a.pass = vec![pass(
                HostLoc::PciAddr {
                    bus: 0,
                    dev,
                    func: Some(0),
                },
                None,
                l[1],
            )];
            vec![a]
        })
        .2
    };
    assert_eq!(run(20), ["H0404 host.build:6:5"]);
    assert!(run(3).is_empty());
}

// ---------------------------------------------------------------- family 5

#[test]
fn safety_host_components() {
    let clean = files(
        "/lib/dll/vdev-pl011-safety.so = vdev-pl011-safety.so\n/proc/boot/smmuman-safety = smmuman-safety\n",
    );
    let (_, _, f) = check_with(&host(Some(SAFE_BOOT), None, Some(&clean)), None, |_| {
        Vec::new()
    });
    assert!(f.is_empty(), "{f:?}");
    let bad_boot = "[virtual=aarch64le,raw] boot = {\n    startup-imx8 -P1\n    [module=qvm-safety module=aps] PATH=/proc/boot:/usr/bin procnto-smp-instr -v\n}\n";
    let bad = files("/lib/dll/vdev-pl011.so = vdev-pl011.so\n/proc/boot/smmuman = smmuman\n");
    let (_, _, f) = check_with(&host(Some(bad_boot), None, Some(&bad)), None, |_| {
        Vec::new()
    });
    assert_eq!(
        f,
        [
            "H0501 host.build:15:1",
            "H0503 host.build:16:1",
            "H0502 host.build:3:5",
            "H0504 host.build:3:24",
        ]
    );
}

#[test]
fn safety_levels_in_order() {
    // A safety host: the default level is `required`.
    let src = host(
        Some(SAFE_BOOT),
        None,
        Some(&files(
            "/lib/dll/vdev-pl011-safety.so = vdev-pl011-safety.so\n/lib/dll/vdev-virtio-console.so = vdev-virtio-console.so\n/lib/dll/vdev-shmem.so = vdev-shmem.so\n/lib/dll/vdev-virtio-net.so = vdev-virtio-net.so\n",
        )),
    );
    let (map, r, f) = check_with(&src, None, |map| {
        let l = vm_file(
            map,
            "a.qvmconf",
            "vdev pl011\nvdev virtio-console\nsafety warn\nvdev shmem\nsafety none\nvdev virtio-net\n",
        );
        let mut a = vm("a", "/vm/a.qvmconf");
        a.vdevs = vec![
            vdev("pl011", l[1], None),
            vdev("virtio-console", l[2], None),
            vdev("shmem", l[4], Some((SafetyLevel::Warn, l[3]))),
            vdev("virtio-net", l[6], Some((SafetyLevel::None, l[5]))),
        ];
        vec![a]
    });
    let vm_level: Vec<&String> = f.iter().filter(|s| s.contains("a.qvmconf")).collect();
    assert_eq!(vm_level, ["H0505 a.qvmconf:2:1", "H0506 a.qvmconf:4:1"]);
    // The image-level rule names the three normal vdevs.
    assert_eq!(f.iter().filter(|s| s.starts_with("H0501")).count(), 3);
    let warn = r.diagnostics.iter().find(|d| d.code.id == "H0506").unwrap();
    assert_eq!(map.location(warn.secondary[1].span), "a.qvmconf:3:1");

    // Not a safety host: `none` by default, `required` where written; the
    // last line governs the kernel.
    let src = host(
        Some(ARM_BOOT),
        None,
        Some(&files("/lib/dll/vdev-pl011.so = vdev-pl011.so\n")),
    );
    let (_, _, f) = check_with(&src, None, |map| {
        let l = vm_file(map, "a.qvmconf", "vdev pl011\nsafety required\n");
        let mut a = vm("a", "/vm/a.qvmconf");
        a.vdevs = vec![vdev("pl011", l[1], None)];
        a.last_safety = Some(hostcheck::Safety {
            level: SafetyLevel::Required,
            span: l[2],
        });
        vec![a]
    });
    assert_eq!(f, ["H0505 a.qvmconf:2:1"]);
}

#[test]
fn h0507_safety_variants_on_a_normal_host() {
    let src = host(
        Some(ARM_BOOT),
        None,
        Some(&files(
            "/lib/dll/vdev-pl011-safety.so = vdev-pl011-safety.so\n",
        )),
    );
    let (_, _, f) = check_with(&src, None, |_| Vec::new());
    assert_eq!(f, ["H0507 host.build:15:1"]);
}

// ---------------------------------------------------------------- family 6

#[test]
fn aps_partitions() {
    let part = |map: &mut diag::SourceMap| {
        let l = vm_file(map, "a.qvmconf", "cpu partition guests\n");
        let mut a = vm("a", "/vm/a.qvmconf");
        a.partitions = vec![PartitionUse {
            name: "guests".into(),
            span: l[1],
        }];
        vec![a]
    };
    // Created before: clean.
    let src = host(
        Some(X86_BOOT),
        Some("    sched_aps guests 40 100\n    qvm @/vm/a.qvmconf &\n"),
        Some(FILES),
    );
    let (_, _, f) = check_with(&src, None, part);
    assert!(f.is_empty(), "{f:?}");
    // Created after the VM starts.
    let src = host(
        Some(X86_BOOT),
        Some("    qvm @/vm/a.qvmconf &\n    sched_aps guests 40 100\n"),
        Some(FILES),
    );
    let (map, r, f) = check_with(&src, None, part);
    assert_eq!(f, ["H0602 a.qvmconf:1:1"]);
    assert_eq!(
        map.location(r.diagnostics[0].secondary[1].span),
        "host.build:7:5"
    );
    // No APS in the kernel.
    let src = host(
        Some(ARM_BOOT),
        Some("    sched_aps guests 40 100\n    qvm @/vm/a.qvmconf &\n"),
        Some(FILES),
    );
    let (_, _, f) = check_with(&src, None, part);
    assert_eq!(f, ["H0601 a.qvmconf:1:1"]);
}

// ---------------------------------------------------------------- family 7

#[test]
fn guest_images() {
    let src = host(
        Some(X86_BOOT),
        None,
        Some(&files(
            "/vm/images/guest.ifs = {\nx\n}\n[type=dir] /vm/images/dir\n",
        )),
    );
    let (map, r, f) = check_with(&src, None, |map| {
        let l = vm_file(
            map,
            "a.qvmconf",
            "load /vm/images/guest.ifs\nload /data/linux/Image\nload /vm/images/dir\nload /proc/boot/nope\n",
        );
        let mut a = vm("a", "/vm/a.qvmconf");
        a.loads = [
            "/vm/images/guest.ifs",
            "/data/linux/Image",
            "/vm/images/dir",
            "/proc/boot/nope",
        ]
        .iter()
        .enumerate()
        .map(|(i, p)| LoadFacts {
            path: p.to_string(),
            span: l[i + 1],
        })
        .collect();
        vec![a]
    });
    assert_eq!(
        f,
        [
            "H0701 a.qvmconf:2:1",
            "H0702 a.qvmconf:3:1",
            "H0702 a.qvmconf:4:1"
        ]
    );
    assert_eq!(r.diagnostics[0].severity, diag::Severity::Info);
    assert!(r.diagnostics[0].message.contains("`/data/linux/Image`"));
    let _ = map;
}

// ---------------------------------------------------------------- family 2 with VMs

#[test]
fn h0208_vm_of_another_architecture() {
    let run = |arch: hostcheck::Arch| {
        let src = host(Some(X86_BOOT), None, Some(FILES));
        check_with(&src, None, move |map| {
            let l = vm_file(map, "a.qvmconf", "vdev pl011 loc 0x1c090000 intr gic:37\n");
            let mut a = vm("a", "/vm/a.qvmconf");
            a.arch = Some(hostcheck::ArchFacts {
                arch,
                reason: "vdev pl011".into(),
                span: l[1],
            });
            vec![a]
        })
    };
    let (map, r, f) = run(hostcheck::Arch::Aarch64);
    assert_eq!(f, ["H0208 a.qvmconf:1:1"]);
    assert_eq!(
        r.diagnostics[0].message,
        "VM `a` is an aarch64 VM (vdev pl011) but the host is x86_64"
    );
    assert_eq!(
        map.location(r.diagnostics[0].secondary[0].span),
        "host.build:6:5"
    );
    let (_, _, f) = run(hostcheck::Arch::X86_64);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn h0701_names_the_mount_that_provides_the_image() {
    let run = |script: &str| {
        let src = host(Some(X86_BOOT), Some(script), Some(FILES));
        check_with(&src, None, |map| {
            let l = vm_file(map, "a.qvmconf", "load /data/linux/Image\n");
            let mut a = vm("a", "/vm/a.qvmconf");
            a.loads = vec![LoadFacts {
                path: "/data/linux/Image".into(),
                span: l[1],
            }];
            vec![a]
        })
    };
    let (map, r, f) = run("    mount -t qnx6 /dev/hd0t177 /data\n    qvm @/vm/a.qvmconf &\n");
    assert_eq!(f, ["H0701 a.qvmconf:1:1"]);
    assert_eq!(
        map.location(r.diagnostics[0].secondary[0].span),
        "host.build:6:5"
    );
    assert!(r.diagnostics[0].help.is_none());
    // Mounted only after the VM starts, or elsewhere: no mount named.
    for script in [
        "    qvm @/vm/a.qvmconf &\n    mount -t qnx6 /dev/hd0t177 /data\n",
        "    mount -t qnx6 /dev/hd0t177 /database\n    qvm @/vm/a.qvmconf &\n",
    ] {
        let (_, r, f) = run(script);
        assert_eq!(f, ["H0701 a.qvmconf:1:1"]);
        assert_eq!(r.diagnostics[0].secondary.len(), 1, "{script}");
        assert!(r.diagnostics[0].help.is_some());
    }
}

#[test]
fn h0404_serial_driver_without_ports_and_com_port_passed() {
    let run = |drv: &str| {
        let src = host(
            Some(X86_BOOT),
            Some(&format!("    {drv} &\n    qvm @/vm/a.qvmconf &\n")),
            Some(FILES),
        );
        check_with(&src, None, |map| {
            let l = vm_file(map, "a.qvmconf", "pass loc io:0x3f8,8\n");
            let mut a = vm("a", "/vm/a.qvmconf");
            a.pass = vec![pass(
                HostLoc::Io {
                    start: 0x3f8,
                    len: 8,
                },
                None,
                l[1],
            )];
            vec![a]
        })
        .2
    };
    // Default ports: it may take COM1.
    assert_eq!(run("devc-ser8250 -e -b115200"), ["H0404 host.build:6:5"]);
    // It names COM2 only: nothing to say.
    assert!(run("devc-ser8250 -e -b115200 0x2f8,3").is_empty());
    // Another kind of driver: nothing to say.
    assert!(run("devb-ahci").is_empty());
}

#[test]
fn h0301_is_a_warning_when_an_assumed_directory_may_hold_the_vdev() {
    // `/lib/dll = SDK/lib/dll` under --no-host-files without the SDK: the
    // entry is assumed, and may be the directory holding the vdev.
    let src = host(
        Some(X86_BOOT),
        None,
        Some(&files("/lib/dll = /nonexistent/sdk/lib/dll\n")),
    );
    let (map, r, f) = check_with(&src, None, |map| {
        let l = vm_file(map, "a.qvmconf", "vdev ser8250\n");
        let mut a = vm("a", "/vm/a.qvmconf");
        a.vdevs = vec![vdev("ser8250", l[1], None)];
        vec![a]
    });
    assert_eq!(f, ["H0301 a.qvmconf:1:1"]);
    assert_eq!(r.diagnostics[0].severity, diag::Severity::Warning);
    assert_eq!(
        map.location(r.diagnostics[0].secondary[0].span),
        "host.build:15:1"
    );
    // Elsewhere than on the library path: an error.
    let src = host(
        Some(X86_BOOT),
        None,
        Some(&files("/opt/stuff = /nonexistent/sdk/stuff\n")),
    );
    let (_, r, f) = check_with(&src, None, |map| {
        let l = vm_file(map, "a.qvmconf", "vdev ser8250\n");
        let mut a = vm("a", "/vm/a.qvmconf");
        a.vdevs = vec![vdev("ser8250", l[1], None)];
        vec![a]
    });
    assert_eq!(f, ["H0301 a.qvmconf:1:1"]);
    assert_eq!(r.diagnostics[0].severity, diag::Severity::Error);
}
