//! The options of `cpu`, `pass` and `reserve`.

use super::*;

impl<'a> Parser<'a> {
    pub(super) fn cpu_option(&mut self, c: usize, t: &'a Token) {
        let word = t.text.as_str();
        let Some(v) = self.value(t, "a value") else {
            return;
        };
        let span = v.span;
        match word {
            "sched" => match value::sched(&v.text) {
                Ok(s) => self.cfg.cpus[c].sched = Some(Spanned::new(s, span)),
                Err(e) => self.bad(v, "sched", e),
            },
            "runmask" => match value::cpu_list(&v.text) {
                Ok(l) if l.iter().all(|&n| n < 64) => {
                    self.cfg.cpus[c].runmask = l;
                    self.cfg.cpus[c].runmask_span = Some(span);
                }
                Ok(_) => self.bad(v, "runmask", "host CPU numbers are 0–63".into()),
                Err(e) => self.bad(v, "runmask", e),
            },
            "partition" => self.cfg.cpus[c].partition = Some(Spanned::new(v.text.clone(), span)),
            _ => self.cfg.cpus[c].cluster = Some(Spanned::new(v.text.clone(), span)),
        }
    }

    pub(super) fn pass_option(&mut self, p: usize, t: &'a Token, reserve: bool) {
        let word = t.text.as_str();
        let Some(v) = self.value(
            t,
            if word == "loc" {
                "a location"
            } else {
                "an interrupt"
            },
        ) else {
            return;
        };
        if word == "loc" {
            let loc = if reserve {
                value::location(&v.text, Space::Mem, 0).and_then(|l| match l {
                    Location::Region { len: 0, .. } => {
                        Err("a reserved region needs a length (`addr,len`)".into())
                    }
                    l => Ok(l),
                })
            } else {
                value::pass_location(&v.text)
            };
            let prev = if reserve {
                self.cfg.reserves[p].loc.as_ref().map(|l| l.span)
            } else {
                self.cfg.passes[p].loc.as_ref().map(|l| l.span)
            };
            if let Some(prev) = prev {
                self.repeated(
                    t,
                    prev,
                    if reserve {
                        "one `reserve`"
                    } else {
                        "one `pass`"
                    },
                );
                return;
            }
            match loc {
                Ok(l) => {
                    let l = Spanned::new(l, v.span);
                    if reserve {
                        self.cfg.reserves[p].loc = Some(l);
                    } else {
                        self.cfg.passes[p].loc = Some(l);
                    }
                }
                Err(e) => self.bad(v, "loc", e),
            }
        } else {
            match value::intr(&v.text, !reserve) {
                Ok(i) => {
                    let i = Spanned::new(i, v.span);
                    if reserve {
                        self.cfg.reserves[p].intr.push(i);
                    } else {
                        self.cfg.passes[p].intr.push(i);
                    }
                }
                Err(e) => self.bad(v, "intr", e),
            }
        }
    }
}
