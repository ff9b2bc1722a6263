//! Diagnostic codes of the qvmconf front end.
//!
//! `Q01xx`: reading the option stream (syntax, option names and values).
//! `Q02xx`: validating the VM (memory map, interrupts, PCI, architecture,
//! host files).

diag::declare_codes! {
    /// `"` without its closing quote.
    Q0101 = "unterminated-quote", Error, "a quoted string is never closed";
    /// A word that is no option in its context.
    Q0102 = "unknown-option", Error, "an unknown option";
    /// An option at the end of the stream without its value.
    Q0103 = "missing-value", Error, "an option is missing its value";
    /// A value qvm cannot read (number, location, interrupt, keyword, range).
    Q0104 = "bad-value", Error, "an option's value is malformed or out of range";
    /// `vdev foo` for a device hvhost does not know.
    Q0105 = "unknown-vdev", Error, "an unknown vdev";
    /// `loc`, `intr`, `sched` with no `vdev`, `cpu`, `pass` or `reserve` before it.
    Q0106 = "option-without-context", Error, "an option that needs a context appears before any";
    /// `@VAR@` placeholders of a template.
    Q0107 = "template-placeholders", Error, "the file is a template with placeholders";
    /// `@file` that cannot be read.
    Q0108 = "include-unreadable", Error, "an @file cannot be read";
    /// `@file` nesting that never ends.
    Q0109 = "include-loop", Error, "@files include each other";
    /// A single-valued option given twice.
    Q0110 = "repeated-option", Error, "an option that takes one value is given twice";
    /// `fdt`, `initrd`, `acpi`, `data` not followed by `load`.
    Q0111 = "load-type-without-load", Error, "a load type is not followed by `load`";
    /// `vdev foo` for a vendor's own vdev hvhost does not know.
    Q0112 = "unchecked-vdev", Warning, "a vdev hvhost does not know: its options are not checked";

    /// Two of ram, rom, reserve, vdev loc, pass loc overlap.
    Q0201 = "overlapping-regions", Error, "two regions of the guest overlap";
    /// `load` (or another user of guest memory) before any `ram`.
    Q0202 = "memory-before-ram", Error, "guest memory is used before any `ram`";
    /// A VM with a `load` and no `ram`.
    Q0203 = "no-ram", Error, "the VM has no RAM";
    /// `intr foo:4` with no PIC named `foo`.
    Q0204 = "unknown-pic", Error, "an interrupt names a PIC that does not exist";
    /// Two devices on one interrupt line.
    Q0205 = "interrupt-shared", Error, "one interrupt line is used twice";
    /// A guest PCI address on a bus other than 0.
    Q0206 = "pci-bus-not-zero", Error, "a guest PCI address is not on bus 0";
    /// Two users of one PCI address.
    Q0207 = "pci-conflict", Error, "one guest PCI address is used twice";
    /// More PCI devices than free slots on bus 0.
    Q0208 = "pci-slots-exhausted", Error, "no free PCI slot is left on bus 0";
    /// x86-only things with ARM ones.
    Q0209 = "arch-mix", Error, "the configuration mixes architectures";
    /// Two vdevs with one `name`.
    Q0210 = "duplicate-vdev-name", Error, "two vdevs have the same name";
    /// A host file named by `load` or `hostdev` that does not exist.
    Q0211 = "host-file-missing", Error, "a host file does not exist";
    /// A load that does not fit in guest RAM.
    Q0212 = "load-outside-ram", Error, "a loaded file is not inside guest RAM";
    /// A device without an option it cannot work without.
    Q0213 = "missing-required-option", Error, "a vdev is missing an option it needs";
    /// A region of zero length, or one that wraps past the end of the address space.
    Q0214 = "bad-region", Error, "a region is empty or wraps around the address space";
    /// Something qvm accepts but that probably does not do what was meant.
    Q0215 = "suspicious-config", Warning, "the configuration is valid but probably wrong";
}

/// Whether an error with this code is about a host file that is not on
/// this machine (qvm's exit 64, a failure before the guest started) rather
/// than about the configuration itself (exit 65).
pub fn is_host_file(code: &diag::Code) -> bool {
    *code == Q0211
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_code_is_explained_with_examples() {
        for c in super::ALL {
            let head = format!("# {}: {}\n", c.id, c.summary);
            assert!(c.explanation.starts_with(&head), "{}: heading", c.id);
            assert!(
                c.explanation.contains("\nWrong:\n"),
                "{}: wrong example",
                c.id
            );
            assert!(
                c.explanation.contains("\nRight:\n"),
                "{}: right example",
                c.id
            );
            assert!(c.id.starts_with('Q'), "{}", c.id);
        }
        assert_eq!(super::ALL.len(), 27);
    }
}
