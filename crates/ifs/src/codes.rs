//! Diagnostic codes of the IFS reader and writer.
//!
//! `I00xx`: reading an image. `I01xx`: writing one.

diag::declare_codes! {
    /// Neither `imagefs` nor a startup header was found.
    I0001 = "not-an-image", Error, "the file is not an IFS image";
    /// A header field points outside the file, or headers disagree.
    I0002 = "bad-header", Error, "a startup or image header is inconsistent or points outside the file";
    /// A directory entry is malformed, or its data lies outside the image.
    I0003 = "bad-dirent", Error, "a directory entry is malformed or its data lies outside the image";
    /// A region's words do not sum to zero.
    I0004 = "checksum-mismatch", Error, "a checksum does not match its region";
    /// A v2 trailer's SHA-512 does not match.
    I0005 = "sha512-mismatch", Error, "a SHA-512 digest does not match its region";
    /// The compressed image cannot be decompressed.
    I0006 = "decompress-failed", Error, "the compressed image is corrupt";
    /// An entry cannot be extracted safely.
    I0007 = "unsafe-path", Error, "an entry's path would be written outside the extraction directory";
    /// A rebuilt buildfile cannot give back every field of the image.
    I0008 = "rebuild-inexact", Warning, "the buildfile written for an image rebuilds it equal in content, not byte for byte";

    /// A file's contents are not on this machine.
    I0101 = "contents-unavailable", Error, "a file's contents are not available";
    /// A host file cannot be read, or changed during the build.
    I0102 = "host-file-unreadable", Error, "a host file cannot be read or changed during the build";
    /// The image is larger than the format or `image=` allows.
    I0103 = "image-too-large", Error, "the image is too large";
    /// The boot script cannot be compiled.
    I0104 = "script-compile", Error, "the boot script cannot be compiled";
    /// A `filter=` command failed.
    I0105 = "filter-failed", Error, "a filter command failed";
    /// The linker for a relocatable boot program is not installed.
    I0106 = "linker-missing", Error, "the linker of a boot program is not installed";
    /// A boot program cannot be linked or used.
    I0107 = "boot-program", Error, "a startup or bootstrap program cannot be used";
    /// Writing the output failed.
    I0108 = "output-failed", Error, "the image could not be written";
}
