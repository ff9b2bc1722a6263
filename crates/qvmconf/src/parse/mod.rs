//! The option stream → a [`VmConfig`] draft: every option read, typed and
//! placed in its context. Checks that need the whole configuration are in
//! `validate`.

mod context;
mod device;
mod top;
mod unknown;

use crate::codes;
use crate::config::*;
use crate::lexer::Token;
use crate::options;
use crate::schema::{self, Arity, CPU_OPTIONS, PASS_OPTIONS, TOP_OPTIONS, is_common};
use crate::value;
use diag::{Diagnostic, Span};
use vdev::decl::OptDecl;

/// What the parser learned besides the config itself, for validation.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// For each load: true when a `ram` came before it.
    pub load_after_ram: Vec<bool>,
    /// The first `ram` option.
    pub first_ram: Option<Span>,
    /// A `ram` option was written, valid or not (a bad one is its own
    /// error, not also "no RAM").
    pub ram_written: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    None,
    Vdev(usize),
    /// A misspelt vdev (Q0105): its options are skipped.
    Skip,
    /// A vdev hvhost does not know: its words are kept, unchecked.
    Foreign(usize),
    Cpu(usize),
    Pass(usize),
    Reserve(usize),
}

pub(crate) struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    pub diags: Vec<Diagnostic>,
    pub cfg: VmConfig,
    pub facts: Facts,
    ctx: Ctx,
    safety: (SafetyLevel, Option<Span>),
    /// Highest end of RAM/ROM so far (for placement without a start).
    high: u64,
    seen_system: Option<Span>,
    seen_cmdline: Option<Span>,
}

const CONTEXT_OPENERS: &[&str] = &["vdev", "cpu", "pass", "reserve"];

impl<'a> Parser<'a> {
    pub(crate) fn new(toks: &'a [Token], default_safety: SafetyLevel) -> Parser<'a> {
        Parser {
            toks,
            i: 0,
            diags: Vec::new(),
            cfg: VmConfig {
                system: None,
                arch: None,
                memory: Vec::new(),
                reserves: Vec::new(),
                cpus: Vec::new(),
                loads: Vec::new(),
                cmdline: None,
                passes: Vec::new(),
                vdevs: Vec::new(),
                foreign_vdevs: Vec::new(),
                unsupported: Unsupported::default(),
                tolerance_us: None,
                safety: default_safety,
                safety_span: None,
                logger: Logger::default(),
                dump: None,
                settings: Vec::new(),
                dryrun: false,
            },
            facts: Facts::default(),
            ctx: Ctx::None,
            safety: (default_safety, None),
            high: 0,
            seen_system: None,
            seen_cmdline: None,
        }
    }

    pub(crate) fn run(mut self) -> Self {
        while self.i < self.toks.len() {
            let t = &self.toks[self.i];
            self.i += 1;
            self.option(t);
        }
        self.cfg.safety = self.safety.0;
        self.cfg.safety_span = self.safety.1;
        self
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// The value of option `opt`, or a Q0103 diagnostic.
    fn value(&mut self, opt: &Token, what: &str) -> Option<&'a Token> {
        let next = self.toks.get(self.i);
        match next {
            Some(v) if v.quoted || !CONTEXT_OPENERS.contains(&v.text.as_str()) => {
                self.i += 1;
                Some(v)
            }
            _ => {
                self.err(
                    Diagnostic::new(&codes::Q0103, format!("`{}` needs {what}", opt.text))
                        .at(opt.span, format!("expects {what} after this")),
                );
                None
            }
        }
    }

    fn bad(&mut self, tok: &Token, opt: &str, reason: String) {
        self.err(
            Diagnostic::new(&codes::Q0104, format!("bad value for `{opt}`: {reason}"))
                .at(tok.span, "this value"),
        );
    }

    /// After an unknown word: skip words until one that is an option somewhere.
    fn skip_unknown(&mut self) {
        while let Some(t) = self.toks.get(self.i) {
            if !t.quoted && is_known_word(&t.text) {
                break;
            }
            self.i += 1;
        }
    }

    fn option(&mut self, t: &'a Token) {
        let word = if t.quoted { "" } else { t.text.as_str() };
        // Context options first.
        match self.ctx {
            Ctx::Vdev(v) => {
                if self.vdev_option(v, t) {
                    return;
                }
            }
            Ctx::Skip => {
                if !TOP_OPTIONS.contains(&word) {
                    return;
                }
            }
            Ctx::Foreign(f) => {
                if !TOP_OPTIONS.contains(&word) {
                    let w = Spanned::new(t.text.clone(), t.span);
                    self.cfg.foreign_vdevs[f].words.push(w);
                    return;
                }
            }
            Ctx::Cpu(c) => {
                if CPU_OPTIONS.contains(&word) {
                    self.cpu_option(c, t);
                    return;
                }
            }
            Ctx::Pass(p) => {
                if PASS_OPTIONS.contains(&word) {
                    self.pass_option(p, t, false);
                    return;
                }
            }
            Ctx::Reserve(r) => {
                if PASS_OPTIONS.contains(&word) {
                    self.pass_option(r, t, true);
                    return;
                }
            }
            Ctx::None => {}
        }
        self.top(t, word);
    }

    fn repeated_top(&mut self, t: &Token, prev: Span, opt: &str) {
        self.err(
            Diagnostic::new(
                &codes::Q0215,
                format!("`{opt}` is given twice; the last one is used"),
            )
            .at(t.span, "this one is used")
            .with(prev, "this one is ignored")
            .help(format!("keep one `{opt}`")),
        );
    }

    fn repeated(&mut self, t: &Token, prev: Span, what: &str) {
        self.err(
            Diagnostic::new(
                &codes::Q0110,
                format!("`{}` is given twice for {what}", t.text),
            )
            .at(t.span, "second time")
            .with(prev, "first time")
            .help(format!("keep one `{}`", t.text)),
        );
    }
}

/// A word that is an option in some context (where skipping stops).
fn is_known_word(w: &str) -> bool {
    TOP_OPTIONS.contains(&w)
        || is_common(w)
        || CPU_OPTIONS.contains(&w)
        || schema::is_device_option(w)
}
