//! The commands a script command really runs: through wrappers (`on ...`,
//! `nice ...`, `nohup`, `exec`) and shells (`sh -c "..."`, `ksh -c '...'`).
//!
//! A shell's command string is split as a shell splits it, far enough to
//! find the programs it starts and their arguments: single and double
//! quotes, backslashes, `#` comments, the separators `;` `&` `&&` `|` `||`
//! `(` `)` and newlines. Redirections (`> /dev/null`, `2>&1`, `<file`) are
//! dropped with their target, and leading `VAR=value` assignments are
//! skipped. Expansions (`$x`, `` `cmd` ``, `$(cmd)`) are kept as written.

use crate::paths::basename;

/// Programs that run another program given after their own options, and
/// their options that take a value as the next word: `on -C 1 -p 20 qvm ...`,
/// `nice -n 5 qvm ...`.
pub const WRAPPERS: &[(&str, &[&str])] = &[
    (
        "on",
        &["-C", "-p", "-R", "-t", "-u", "-W", "-X", "-A", "-n", "-s"],
    ),
    ("nice", &["-n"]),
    ("nohup", &[]),
    ("exec", &[]),
];

/// Shells whose `-c STRING` is a command line.
pub const SHELLS: &[&str] = &["sh", "ksh", "bash", "dash", "esh", "fesh", "uesh"];

/// The program a wrapper runs and its arguments, if `program` is a wrapper
/// and names one.
pub fn unwrap_once<'e>(program: &str, args: &'e [String]) -> Option<(&'e str, &'e [String])> {
    let (_, valued) = WRAPPERS.iter().find(|(w, _)| *w == basename(program))?;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            return args.get(i + 1).map(|p| (p.as_str(), &args[i + 2..]));
        }
        if !a.starts_with('-') {
            return Some((a, &args[i + 1..]));
        }
        i += if valued.contains(&a) { 2 } else { 1 };
    }
    None
}

/// The command string of `sh -c STRING` (any of [`SHELLS`]; the `c` may be
/// grouped with other flags: `-ec`).
pub fn shell_string<'e>(program: &str, args: &'e [String]) -> Option<&'e str> {
    if !SHELLS.contains(&basename(program)) {
        return None;
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let flags = a.strip_prefix('-')?;
        if flags.starts_with('-') {
            return None;
        }
        if flags.contains('c') {
            return it.next().map(String::as_str);
        }
    }
    None
}

/// Every program a script command runs, with its arguments: the command
/// itself, or what its wrappers and shells run (at most 8 levels deep).
pub fn commands_run(program: &str, args: &[String]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    collect(program, args, 0, &mut out);
    out
}

fn collect(program: &str, args: &[String], depth: usize, out: &mut Vec<(String, Vec<String>)>) {
    if depth < 8 {
        if let Some((p, rest)) = unwrap_once(program, args) {
            return collect(p, rest, depth + 1, out);
        }
        if let Some(s) = shell_string(program, args) {
            for words in split(s) {
                if let Some((p, rest)) = words.split_first() {
                    collect(p, rest, depth + 1, out);
                }
            }
            return;
        }
    }
    out.push((program.to_string(), args.to_vec()));
}

/// True for `NAME=value` with a shell variable name.
fn assignment(w: &str) -> bool {
    w.split_once('=').is_some_and(|(n, _)| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The state of [`split`]: the commands so far and the word being read.
struct Splitter {
    commands: Vec<Vec<String>>,
    /// Words of the current command.
    words: Vec<String>,
    word: String,
    in_word: bool,
    /// The word so far is an unquoted assignment (skipped when leading).
    assign: bool,
    /// The next word is a redirection's target: dropped.
    drop_next: bool,
}

impl Splitter {
    fn end_word(&mut self) {
        if !self.in_word {
            return;
        }
        let w = std::mem::take(&mut self.word);
        self.in_word = false;
        if self.drop_next {
            self.drop_next = false;
        } else if !(self.words.is_empty() && self.assign) {
            self.words.push(w);
        }
        self.assign = false;
    }

    fn end_command(&mut self) {
        self.end_word();
        self.drop_next = false;
        if !self.words.is_empty() {
            self.commands.push(std::mem::take(&mut self.words));
        }
    }

    /// A `'...'` string from `i` (after the quote); returns where it ends.
    fn single(&mut self, chars: &[char], mut i: usize) -> usize {
        self.in_word = true;
        while i < chars.len() && chars[i] != '\'' {
            self.word.push(chars[i]);
            i += 1;
        }
        i + 1
    }

    /// A `"..."` string from `i` (after the quote), where a backslash
    /// escapes `$`, `` ` ``, `"`, `\` and a newline; returns where it ends.
    fn double(&mut self, chars: &[char], mut i: usize) -> usize {
        self.in_word = true;
        while i < chars.len() && chars[i] != '"' {
            if chars[i] == '\\'
                && i + 1 < chars.len()
                && matches!(chars[i + 1], '$' | '`' | '"' | '\\' | '\n')
            {
                i += 1;
            }
            self.word.push(chars[i]);
            i += 1;
        }
        i + 1
    }

    /// A redirection operator from `i` (after its first `>` or `<`); its
    /// target word is dropped. Returns where the operator ends.
    fn redirect(&mut self, chars: &[char], mut i: usize) -> usize {
        // An fd number written just before the operator belongs to it.
        if self.in_word && self.word.chars().all(|c| c.is_ascii_digit()) && !self.assign {
            self.word.clear();
            self.in_word = false;
        } else {
            self.end_word();
        }
        // `>>`, `>|`, `<>`, `<<`: one operator.
        if matches!(chars.get(i), Some('>' | '|' | '<')) {
            i += 1;
        }
        // `>&2`, `2>&1`, `<&-`: duplicating a descriptor, no file.
        if chars.get(i) == Some(&'&') {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '-') {
                i += 1;
            }
        } else {
            self.drop_next = true;
        }
        i
    }

    /// An ordinary character of a word.
    fn push(&mut self, c: char) {
        if !self.in_word {
            self.in_word = true;
            self.assign = false;
        }
        self.word.push(c);
        if c == '=' && !self.assign && assignment(&self.word) {
            self.assign = true;
        }
    }
}

/// Splits a shell command string into simple commands, each a list of
/// words (redirections and leading assignments removed).
pub fn split(text: &str) -> Vec<Vec<String>> {
    let mut o = Splitter {
        commands: Vec::new(),
        words: Vec::new(),
        word: String::new(),
        in_word: false,
        assign: false,
        drop_next: false,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            ' ' | '\t' => o.end_word(),
            '\n' | ';' | '|' | '&' | '(' | ')' => o.end_command(),
            '#' if !o.in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' => i = o.single(&chars, i),
            '"' => i = o.double(&chars, i),
            '\\' => {
                if let Some(&n) = chars.get(i) {
                    i += 1;
                    if n != '\n' {
                        o.in_word = true;
                        o.word.push(n);
                    }
                }
            }
            '>' | '<' => i = o.redirect(&chars, i),
            c => o.push(c),
        }
    }
    o.end_command();
    o.commands
}

/// The program a command really runs and its arguments: itself, or the
/// program its wrappers (`on`, `nice`, `nohup`, `exec`) run. Shells
/// (`sh -c "..."`) are not looked into here: see [`commands_run`].
pub fn real_command<'e>(program: &'e str, args: &'e [String]) -> (&'e str, &'e [String]) {
    let (mut p, mut a) = (program, args);
    for _ in 0..8 {
        match unwrap_once(p, a) {
            Some((q, b)) => (p, a) = (q, b),
            None => break,
        }
    }
    (p, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split(
                "devb-sdmmc-bcm2712 sdio addr=0x1000fff000,irq=305 disk name=sd > /dev/null 2>&1"
            ),
            [s(&[
                "devb-sdmmc-bcm2712",
                "sdio",
                "addr=0x1000fff000,irq=305",
                "disk",
                "name=sd"
            ])]
        );
        assert_eq!(
            split(
                "A=1 B='x y' on -p 10 devc-ser8250 '0x3e8,5' >/dev/null 2>&1; echo \"a \\\"b\\\"\" # c\nls <in"
            ),
            [
                s(&["on", "-p", "10", "devc-ser8250", "0x3e8,5"]),
                s(&["echo", "a \"b\""]),
                s(&["ls"])
            ]
        );
        assert_eq!(
            split("slay x && io-usb-otg -d hcd-xhci &"),
            [s(&["slay", "x"]), s(&["io-usb-otg", "-d", "hcd-xhci"])]
        );
        assert_eq!(split("a 2>>log b"), [s(&["a", "b"])]);
        assert_eq!(split(""), Vec::<Vec<String>>::new());
    }

    #[test]
    fn unwraps_wrappers_and_shells() {
        let got = commands_run(
            "sh",
            &s(&[
                "-c",
                "devb-sdmmc-bcm2712 sdio addr=0x1000fff000 > /dev/null 2>&1",
            ]),
        );
        assert_eq!(
            got,
            [(
                "devb-sdmmc-bcm2712".to_string(),
                s(&["sdio", "addr=0x1000fff000"])
            )]
        );
        let got = commands_run(
            "on",
            &s(&["-p", "10", "ksh", "-ec", "nice -n 5 devc-ser8250 0x3f8,4"]),
        );
        assert_eq!(got, [("devc-ser8250".to_string(), s(&["0x3f8,4"]))]);
        // Not a wrapper, or a wrapper with nothing to run: the command itself.
        assert_eq!(
            commands_run("ksh", &s(&["-i"])),
            [("ksh".to_string(), s(&["-i"]))]
        );
        assert_eq!(
            commands_run("on", &s(&["-d"])),
            [("on".to_string(), s(&["-d"]))]
        );
    }
}
