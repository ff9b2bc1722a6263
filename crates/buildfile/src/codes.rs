//! Diagnostic codes of the buildfile front end.
//!
//! `B01xx`: syntax. `B02xx`: resolving entries and host files. `B03xx`: the
//! boot block and the boot script.

diag::declare_codes! {
    /// `[a] [b] file`.
    B0101 = "missing-filename", Error, "two attribute lists before one file name";
    /// `[` without `]`.
    B0102 = "unterminated-attribute-list", Error, "an attribute list is never closed";
    /// `{` without `}`.
    B0103 = "unterminated-inline-file", Error, "an inline file is never closed";
    /// An attribute name mkifs does not have.
    B0104 = "unknown-attribute", Error, "an unknown attribute";
    /// An abbreviation that fits several attribute names.
    B0105 = "ambiguous-attribute", Error, "an abbreviated attribute name fits several attributes";
    /// `+uid`, `compress=x` on a boolean, ...
    B0106 = "attribute-form", Error, "a boolean attribute given a value, or a value attribute used as a boolean";
    /// More than two names on an entry line.
    B0107 = "improper-filename", Error, "improper filename specification";
    /// `"` without its closing quote.
    B0108 = "unterminated-quote", Error, "a quoted string is never closed";
    /// `${` without `}`.
    B0109 = "unterminated-variable", Error, "a variable reference is never closed";
    /// Text after `{` on its line.
    B0110 = "inline-on-brace-line", Error, "inline contents start on the line of the opening brace";
    /// `=` with a missing side.
    B0111 = "missing-host-name", Error, "a target or host name is missing around `=`";
    /// A mkqnx6fsimg buildfile.
    B0112 = "not-an-mkifs-buildfile", Error, "the file is a buildfile for mkqnx6fsimg, not mkifs";
    /// `@VAR@` or `__VAR__` placeholders.
    B0113 = "template-placeholders", Error, "the file is a template with placeholders";
    /// `#include`, `#if defined`, ...
    B0114 = "preprocessor-template", Error, "the file is a C-preprocessor template";
    /// `{` with no name.
    B0115 = "inline-without-name", Error, "inline contents without a file name";
    /// A word in an attribute list that is no attribute.
    B0116 = "malformed-attribute", Error, "a malformed attribute, or attributes after the file name";

    /// A host file that does not exist, under `-optional`.
    B0201 = "missing-host-file", Error, "a host file does not exist";
    /// A host file that does not exist, under `+optional` (skipped).
    B0202 = "host-file-skipped", Warning, "a host file does not exist and the entry is left out";
    /// `[virtual=...]` alone on its line.
    B0203 = "boot-attribute-alone", Error, "virtual= or physical= is not on the boot block's line";
    /// `[type=link] name` with no target.
    B0204 = "link-without-target", Error, "a symbolic link without a target";
    /// An attribute value that is not valid for the attribute.
    B0205 = "invalid-attribute-value", Error, "an attribute value is not valid";
    /// `+compress` with `ram=`.
    B0206 = "compress-split-image", Error, "a split image (ram=) cannot be compressed";
    /// An unset `${VAR}`.
    B0207 = "unset-variable", Info, "a variable is not set and expands to nothing";
    /// `${A}` that expands to itself.
    B0208 = "variable-loop", Error, "variable expansion does not end";
    /// Two entries with the same target path.
    B0209 = "duplicate-target", Warning, "two entries have the same path in the image: both are written, as mkifs does";
    /// A host file that exists but cannot be read.
    B0210 = "host-file-unreadable", Error, "a host file cannot be read";
    /// The `.boot` file cannot be found or read.
    B0211 = "bootfile-missing", Error, "the bootfile named by virtual= or physical= cannot be found";
    /// A `.boot` file whose header is wrong.
    B0212 = "bootfile-invalid", Error, "the bootfile's header is not valid";
    /// A second boot block.
    B0213 = "second-boot-block", Error, "a second boot block";
    /// A boot block given as a host file.
    B0214 = "boot-block-not-inline", Error, "a boot block must be written inline";
    /// A directory that cannot be read while including it.
    B0215 = "host-directory-unreadable", Error, "a host directory cannot be read";
    /// A path that leaves the image root.
    B0216 = "target-outside-image", Error, "a target path leaves the image";
    /// Several `[+script]` files.
    B0217 = "several-scripts", Info, "several boot scripts are joined into one";
    /// `[+include]` nested too deep.
    B0218 = "include-loop", Error, "buildfiles include each other without end";
    /// `ram=`: a split image, which the writer does not build yet.
    B0219 = "split-image-unsupported", Error, "split images (ram=) are not supported yet";
    /// A followed symbolic link inside a host directory points nowhere.
    B0220 = "dangling-link", Error, "a symbolic link in a host directory points nowhere";
    /// `keepsection=`, `+relocs`, `phys_align=`, `autoso=`: read, not applied.
    B0221 = "attribute-not-applied", Warning, "an attribute that changes the image is accepted but not applied";
    /// `+keeplinked`: the image is the same; the `.sym` file is not written.
    B0222 = "linked-copy-not-kept", Info, "+keeplinked is accepted; the image is the same, but no linked copy is kept";

    /// A boot block with no program.
    B0301 = "no-startup-program", Error, "a boot block without a startup program";
    /// More than 4 bootstrap programs.
    B0302 = "too-many-bootstrap", Error, "more than 4 bootstrap programs";
    /// A built-in command given the wrong arguments.
    B0303 = "builtin-arguments", Error, "a built-in boot script command has wrong arguments";
    /// An unknown script modifier.
    B0304 = "unknown-modifier", Error, "an unknown boot script modifier";
    /// A modifier value that is not valid.
    B0305 = "invalid-modifier-value", Error, "a boot script modifier value is not valid";
    /// An APS partition limit exceeded.
    B0306 = "aps-partition-limit", Error, "an adaptive-partitioning limit is exceeded";
    /// `sched_aps=NAME` before `sched_aps NAME ...`.
    B0307 = "unknown-aps-partition", Error, "a command is placed in a partition that does not exist";
    /// A boot block line with attributes or variables but no program at its end.
    B0308 = "boot-line-incomplete", Error, "a boot block line is not followed by a program";
    /// Modifiers and environment with no command.
    B0309 = "script-line-incomplete", Warning, "a script line has a trailing `&` or modifiers but no command";
    /// A `waitfor`/`reopen` timeout that is stored rounded or clamped.
    B0310 = "timeout-rounded", Warning, "a waitfor or reopen timeout is stored rounded to tenths or clamped";
    /// `a | b`, `a && b`, `a; b`, `a > f` in the boot script.
    B0311 = "shell-construct", Warning, "a boot script line uses shell syntax, which the boot script passes as plain words";
}
