//! Linking relocatable startup and kernel programs with the `linker=`
//! template of the buildfile or bootfile, as mkifs does.
//!
//! Template codes: `%t` text address, `%d` data address (0: data follows
//! text), `%h` address of the file's start, `%i` the input object, `%o` the
//! output file, `%^i` the input's directory, `%%` a percent sign;
//! `%(x==N,text%)` and `%(x!=N,text%)` keep `text` when variable `x` (`t`,
//! `d`, `h`, or `f`: 0 for startup, 1 for bootstrap programs) compares so;
//! `%[M text %]` repeats `text` for every `module=` with `%n` its name. A
//! leading `(cpu;...)` selector is ignored. Addresses are hexadecimal
//! without `0x`. Modules are linked as `-lmod_<name>`: when the template has
//! no `%[M ... %]`, `-lmod_<name>` is appended for each.

use std::path::{Path, PathBuf};

/// Values of the template's variables.
#[derive(Debug, Clone, Default)]
pub struct LinkVars {
    /// `%t`.
    pub text: u64,
    /// `%d`.
    pub data: u64,
    /// `%h`.
    pub header: u64,
    /// `%f`: 0 startup, 1 bootstrap.
    pub f: u64,
    /// `%i`.
    pub input: PathBuf,
    /// `%o`.
    pub output: PathBuf,
    /// Module names.
    pub modules: Vec<String>,
}

impl LinkVars {
    fn num(&self, c: char) -> Option<u64> {
        Some(match c {
            't' => self.text,
            'd' => self.data,
            'h' => self.header,
            'f' => self.f,
            _ => return None,
        })
    }

    fn text_of(&self, c: char, module: Option<&str>) -> Option<String> {
        if let Some(n) = self.num(c) {
            return Some(format!("{n:x}"));
        }
        match c {
            'i' => Some(self.input.display().to_string()),
            'o' => Some(self.output.display().to_string()),
            'n' => module.map(str::to_string),
            _ => None,
        }
    }
}

/// Expands a linker template into words.
pub fn expand(template: &str, v: &LinkVars) -> Result<Vec<String>, String> {
    let mut t = template.trim_start();
    if t.starts_with('(')
        && let Some(end) = t.find(')')
    {
        t = &t[end + 1..];
    }
    let chars: Vec<char> = t.chars().collect();
    let (s, _) = expand_until(&chars, 0, v, None, None)?;
    let mut words: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    if !t.contains("%[M") {
        words.extend(v.modules.iter().map(|m| format!("-lmod_{m}")));
    }
    Ok(words)
}

/// Expands from `i` until the closing `%<close>` (or the end when `close`
/// is `None`); returns the text and the index after the closer.
fn expand_until(
    c: &[char],
    mut i: usize,
    v: &LinkVars,
    close: Option<char>,
    module: Option<&str>,
) -> Result<(String, usize), String> {
    let mut out = String::new();
    while i < c.len() {
        if c[i] != '%' {
            out.push(c[i]);
            i += 1;
            continue;
        }
        let Some(&k) = c.get(i + 1) else {
            return Err("the template ends with `%`".into());
        };
        i += 2;
        match k {
            '%' => out.push('%'),
            ')' | ']' if Some(k) == close => return Ok((out, i)),
            '(' => {
                // var op number , body %)
                let comma = c[i..]
                    .iter()
                    .position(|&x| x == ',')
                    .ok_or("`%(` without a `,`")?;
                let cond: String = c[i..i + comma].iter().collect();
                let (body, next) = expand_until(c, i + comma + 1, v, Some(')'), module)?;
                if condition(&cond, v)? {
                    out.push_str(&body);
                }
                i = next;
            }
            '[' => {
                if c.get(i) != Some(&'M') {
                    return Err("`%[` must be followed by `M`".into());
                }
                // Find the body once per module (and once to skip it).
                let (_, next) = expand_until(c, i + 1, v, Some(']'), Some(""))?;
                for m in &v.modules {
                    let (body, _) = expand_until(c, i + 1, v, Some(']'), Some(m))?;
                    out.push_str(&body);
                }
                i = next;
            }
            '^' => {
                let Some(&x) = c.get(i) else {
                    return Err("the template ends with `%^`".into());
                };
                i += 1;
                let p = v
                    .text_of(x, module)
                    .ok_or(format!("unknown code `%^{x}`"))?;
                let dir = Path::new(&p)
                    .parent()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
                out.push_str(if dir.is_empty() { "." } else { &dir });
            }
            x => out.push_str(&v.text_of(x, module).ok_or(format!("unknown code `%{x}`"))?),
        }
    }
    match close {
        Some(x) => Err(format!(
            "`%{}` is never closed",
            if x == ')' { '(' } else { '[' }
        )),
        None => Ok((out, i)),
    }
}

fn condition(cond: &str, v: &LinkVars) -> Result<bool, String> {
    let cond = cond.trim();
    let (var, op, num) = if let Some((a, b)) = cond.split_once("==") {
        (a, true, b)
    } else if let Some((a, b)) = cond.split_once("!=") {
        (a, false, b)
    } else {
        return Err(format!("condition `{cond}` is neither `x==N` nor `x!=N`"));
    };
    let var = var.trim();
    let x = var
        .chars()
        .next()
        .and_then(|c| v.num(c))
        .ok_or(format!("unknown variable `{var}` in `{cond}`"))?;
    let n = crate_parse_num(num.trim()).ok_or(format!("`{num}` is not a number"))?;
    Ok((x == n) == op)
}

fn crate_parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Finds a program as the shell would: a path with `/` as it is, else along `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> LinkVars {
        LinkVars {
            text: 0x401000,
            data: 0,
            header: 0x400000,
            f: 1,
            input: "/sdk/boot/sys/procnto".into(),
            output: "/tmp/out".into(),
            modules: vec!["qvm".into(), "aps".into()],
        }
    }

    #[test]
    fn gnu_ld_style_template() {
        let t = "aarch64-unknown-nto-qnx8.0.0-ld -T$QNX_TARGET/nto.link %(h!=0, -Ttext 0x%t%)%(d!=0, -Tdata 0x%d%) -o%o %i %[M -L%^i -uinit_%n -lmod_%n%]";
        assert_eq!(
            expand(t, &vars()).unwrap().join(" "),
            "aarch64-unknown-nto-qnx8.0.0-ld -T$QNX_TARGET/nto.link -Ttext 0x401000 -o/tmp/out /sdk/boot/sys/procnto -L/sdk/boot/sys -uinit_qvm -lmod_qvm -L/sdk/boot/sys -uinit_aps -lmod_aps"
        );
    }

    #[test]
    fn ldrel_style_template_with_selector() {
        let t = "(3,6;2;0x4001)ldrel -s!* -p %(f==0,-l -t 0x%t%)%(f!=0,-x -b 0x%h%) %(d!=0, -d 0x%d%) %i %o";
        assert_eq!(
            expand(t, &vars()).unwrap().join(" "),
            "ldrel -s!* -p -x -b 0x400000 /sdk/boot/sys/procnto /tmp/out -lmod_qvm -lmod_aps"
        );
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(expand("ld %(t==0,x", &vars()).is_err());
        assert!(expand("ld %q", &vars()).is_err());
        assert!(expand("ld %", &vars()).is_err());
    }
}
