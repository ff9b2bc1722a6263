//! Running the bootfile's `filter=` program over a written image, as mkifs
//! does, and writing an image with it: to a file atomically (see
//! [`crate::atomic`]), or to a stream through a temporary file when a
//! filter must run first. A failing filter is an I0105 error located at the
//! bootfile's `filter=` setting and at the buildfile line naming the
//! bootfile; the output is left untouched.

use crate::atomic::{AtomicFile, TempFile};
use crate::{Built, PostFilter, Prepared, WriteError};
use diag::SourceMap;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

/// How [`write_file`] writes the image's bytes (a caller may show progress).
pub type WriteImage<'w> = dyn FnOnce(Prepared, &mut dyn Write) -> Result<Built, WriteError> + 'w;

/// Writes the image to `out`: streamed, or through a temporary file when
/// the bootfile's filter must run on it first.
pub fn write_stream(
    prepared: Prepared,
    site: &FilterSite,
    out: &mut dyn Write,
) -> Result<Built, WriteError> {
    if prepared.postfilter.is_none() {
        let mut w = BufWriter::with_capacity(1 << 20, out);
        let b = prepared.write_to(&mut w)?;
        w.flush().map_err(WriteError::Output)?;
        return Ok(b);
    }
    let dir = std::env::temp_dir();
    let tmp = TempFile::new_in(&dir, "hvhost-image").map_err(WriteError::Output)?;
    let mut w = BufWriter::with_capacity(1 << 20, tmp.file());
    let b = prepared.write_to(&mut w)?;
    w.flush().map_err(WriteError::Output)?;
    drop(w);
    let result = match &b.postfilter {
        Some(pf) => run_filter(
            pf,
            tmp.path(),
            || TempFile::new_in(&dir, "hvhost-image"),
            site,
        )?,
        None => None,
    }
    .unwrap_or(tmp);
    let mut f = result.file();
    f.seek(std::io::SeekFrom::Start(0))
        .and_then(|_| std::io::copy(&mut f, out))
        .map_err(WriteError::Output)?;
    Ok(b)
}

/// Writes the image to `path` atomically (see [`AtomicFile`]) with
/// `write`, then runs the bootfile's filter on it.
pub fn write_file(
    prepared: Prepared,
    path: &Path,
    site: &FilterSite,
    write: Box<WriteImage<'_>>,
) -> Result<Built, WriteError> {
    let mut out = AtomicFile::create(path).map_err(WriteError::Output)?;
    let mut w = BufWriter::with_capacity(1 << 20, out.file());
    let built = write(prepared, &mut w)?;
    w.flush()
        .map_err(|e| WriteError::Output(diag::io::with_path("write", path, &e)))?;
    drop(w);
    if let Some(pf) = &built.postfilter
        && let Some(t) = run_filter(pf, out.temp_path(), || out.new_temp(), site)?
    {
        out.replace(t);
    }
    out.commit().map_err(WriteError::Output)?;
    Ok(built)
}

/// Where the bootfile's filter comes from and what it runs on, for its
/// diagnostics.
pub struct FilterSite {
    /// The bootfile.
    bootfile: PathBuf,
    /// The output as the user named it.
    output: PathBuf,
    /// The bootfile's `filter=` setting (the bootfile is added to the
    /// source map), or the buildfile's boot line when it cannot be found.
    span: diag::Span,
    /// The buildfile line that names the bootfile.
    named: diag::Span,
}

impl FilterSite {
    /// The filter site of `m`'s bootfile, writing to `output` (as the user
    /// named it); the bootfile is added to `map` when it sets a filter.
    pub fn new(map: &mut SourceMap, m: &buildfile::Manifest, output: &Path) -> FilterSite {
        let boot = m.boot.as_ref();
        let named = boot.map(|b| b.span).unwrap_or_default();
        let bootfile = boot
            .and_then(|b| b.bootfile.as_ref())
            .map(|b| b.path.clone())
            .unwrap_or_default();
        let span = std::fs::read(&bootfile)
            .ok()
            .and_then(|bytes| {
                let (start, end) = filter_setting(&bytes)?;
                let file = map.add(bootfile.display().to_string(), bytes);
                Some(diag::Span::new(file, start, end))
            })
            .unwrap_or(named);
        FilterSite {
            bootfile,
            output: output.to_path_buf(),
            span,
            named,
        }
    }
}

/// The byte range of the `filter=` setting in a bootfile's header: from
/// `filter=` (at the start of a word) to the end of its line.
fn filter_setting(b: &[u8]) -> Option<(usize, usize)> {
    let key = b"filter=";
    let header_end = b.iter().position(|&c| c == b']').unwrap_or(b.len());
    let start = (0..header_end).find(|&i| {
        b[i..].starts_with(key)
            && (i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'\n' | b'\r' | b'['))
    })?;
    let end = b[start..]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(b.len(), |n| start + n);
    Some((start, end))
}

/// Runs the bootfile's filter on the written image at `image`; returns the
/// new file that holds the result for `%I` filters (made by `new_temp`),
/// `None` when the filter rewrote `image` itself.
fn run_filter(
    pf: &PostFilter,
    image: &Path,
    new_temp: impl FnOnce() -> std::io::Result<TempFile>,
    site: &FilterSite,
) -> Result<Option<TempFile>, WriteError> {
    let fail = |why: String| WriteError::BootFilter {
        bootfile: site.bootfile.clone(),
        output: site.output.clone(),
        filter: pf.template.clone(),
        why,
        span: site.span,
        named: site.named,
    };
    let out = if pf.uses_intermediate() {
        Some(new_temp().map_err(|e| fail(e.to_string()))?)
    } else {
        None
    };
    let target = out.as_ref().map(|o| o.path()).unwrap_or(image);
    let cmd = pf.command(target, image);
    let prog = cmd.split_whitespace().next().unwrap_or("");
    if crate::link::find_program(prog).is_none() {
        return Err(fail(format!("its program `{prog}` is not installed")));
    }
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .status()
        .map_err(|e| fail(diag::io::reason(&e)))?;
    if !st.success() {
        return Err(fail(format!("`{cmd}` exited with {st}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::filter_setting;

    #[test]
    fn the_filter_setting_is_found_only_as_a_word_of_the_header() {
        let b = b"[virtual=x86_64 filter=gzip -9 %I\n]\nstartup\n";
        let (s, e) = filter_setting(b).expect("a filter setting");
        assert_eq!(&b[s..e], b"filter=gzip -9 %I");
        assert_eq!(filter_setting(b"[xfilter=a]\n"), None);
        assert_eq!(filter_setting(b"[virtual=x86_64]\nfilter=a\n"), None);
    }
}
