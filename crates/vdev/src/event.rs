//! A small epoll event loop for device threads: file descriptors are
//! registered with a handler each, and the thread waits in `epoll_wait`
//! until one of them is readable, until a deadline, or until the loop is
//! stopped through its eventfd. Nothing sleeps and nothing polls.
//!
//! A handler runs on the loop's thread when its descriptor is readable (or
//! hung up, or in error) and says what happens next ([`Flow`]); through
//! [`Control`] it can pause its own descriptor (or another one) and resume
//! it later, for back-pressure: a reader whose buffer is full pauses its
//! source, and an eventfd signalled by the consumer resumes it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

/// What the loop does after a handler ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep the descriptor registered.
    Continue,
    /// Unregister the descriptor and drop its handler.
    Remove,
    /// Stop the loop, as [`Stopper::stop`] does.
    Stop,
}

/// Names one registered descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Token(usize);

/// Why [`EventLoop::poll`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Handlers ran.
    Ready,
    /// The timeout passed with nothing ready.
    Timeout,
    /// The loop was stopped (it stays stopped).
    Stopped,
}

/// Requests a handler makes of its loop.
pub struct Control {
    me: Token,
    changes: Vec<(Token, bool)>,
}

impl Control {
    /// The descriptor whose handler is running.
    pub fn token(&self) -> Token {
        self.me
    }

    /// Stop waiting for `token`'s descriptor until [`Control::resume`].
    pub fn pause(&mut self, token: Token) {
        self.changes.push((token, false));
    }

    /// Wait for `token`'s descriptor again.
    pub fn resume(&mut self, token: Token) {
        self.changes.push((token, true));
    }
}

type Handler = Box<dyn FnMut(&mut Control) -> Flow + Send>;

struct Entry {
    fd: RawFd,
    handler: Handler,
}

/// Stops an [`EventLoop`] from any thread (or a signal handler's thread):
/// a write to the loop's eventfd.
#[derive(Clone)]
pub struct Stopper(Arc<EventFd>);

impl Stopper {
    /// Stop the loop for good; its thread returns from `run` or `poll`.
    pub fn stop(&self) {
        // An eventfd write fails only when the counter would overflow, and
        // then the loop is already woken.
        let _ = self.0.write(1);
    }
}

/// The loop. Token 0 is its own stop eventfd.
pub struct EventLoop {
    epoll: Epoll,
    stop: Arc<EventFd>,
    entries: Vec<Option<Entry>>,
    stopped: bool,
}

const STOP: u64 = 0;

impl EventLoop {
    /// An empty loop.
    pub fn new() -> io::Result<EventLoop> {
        let epoll = Epoll::new()?;
        let stop = Arc::new(EventFd::new(EFD_NONBLOCK)?);
        epoll.ctl(
            ControlOperation::Add,
            stop.as_raw_fd(),
            EpollEvent::new(EventSet::IN, STOP),
        )?;
        Ok(EventLoop {
            epoll,
            stop,
            entries: Vec::new(),
            stopped: false,
        })
    }

    /// A handle that stops this loop.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.stop.clone())
    }

    /// Call `handler` whenever `fd` is readable. The descriptor must stay
    /// open while it is registered (the handler usually owns it).
    pub fn add(
        &mut self,
        fd: &impl AsRawFd,
        handler: impl FnMut(&mut Control) -> Flow + Send + 'static,
    ) -> io::Result<Token> {
        let fd = fd.as_raw_fd();
        let token = Token(self.entries.len());
        self.epoll
            .ctl(ControlOperation::Add, fd, Self::event(token, true))?;
        self.entries.push(Some(Entry {
            fd,
            handler: Box::new(handler),
        }));
        Ok(token)
    }

    /// Handlers still registered.
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.is_some()).count()
    }

    /// True when no handler is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn event(token: Token, on: bool) -> EpollEvent {
        let set = if on { EventSet::IN } else { EventSet::empty() };
        EpollEvent::new(set, token.0 as u64 + 1)
    }

    /// Wait (at most `timeout`; `None`: without limit) for descriptors to be
    /// ready and run their handlers once.
    pub fn poll(&mut self, timeout: Option<Duration>) -> io::Result<Wake> {
        if self.stopped {
            return Ok(Wake::Stopped);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut events = vec![EpollEvent::default(); self.entries.len() + 1];
        let n = loop {
            let ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    // round up: a deadline 0.4 ms away is not "now"
                    i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
                }
            };
            match self.epoll.wait(ms, &mut events) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let ready = &events[..n];
        // a stop wins over anything else ready at the same time
        if ready.iter().any(|e| e.data() == STOP) {
            self.stopped = true;
            return Ok(Wake::Stopped);
        }
        if n == 0 {
            return Ok(Wake::Timeout);
        }
        for e in ready {
            if self.dispatch(Token(e.data() as usize - 1))? == Flow::Stop {
                self.stopped = true;
                return Ok(Wake::Stopped);
            }
        }
        Ok(Wake::Ready)
    }

    fn dispatch(&mut self, token: Token) -> io::Result<Flow> {
        let Some(entry) = self.entries.get_mut(token.0).and_then(Option::as_mut) else {
            return Ok(Flow::Continue); // removed by an earlier handler this round
        };
        let mut ctl = Control {
            me: token,
            changes: Vec::new(),
        };
        let flow = (entry.handler)(&mut ctl);
        for (t, on) in ctl.changes {
            if let Some(Some(e)) = self.entries.get(t.0) {
                self.epoll
                    .ctl(ControlOperation::Modify, e.fd, Self::event(t, on))?;
            }
        }
        if flow == Flow::Remove
            && let Some(e) = self.entries[token.0].take()
        {
            self.epoll
                .ctl(ControlOperation::Delete, e.fd, EpollEvent::default())?;
        }
        Ok(flow)
    }

    /// Run handlers until the loop is stopped or no handler is left.
    pub fn run(&mut self) -> io::Result<()> {
        while !self.is_empty() {
            if self.poll(None)? == Wake::Stopped {
                break;
            }
        }
        Ok(())
    }

    /// Run the loop on a thread of its own, named `name`, until the
    /// returned guard is dropped (or no handler is left).
    pub fn spawn(mut self, name: &str) -> io::Result<Running> {
        let stop = self.stopper();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _ = self.run();
            })?;
        Ok(Running(stop))
    }
}

/// A loop running on its own thread ([`EventLoop::spawn`]); dropping it
/// stops the loop.
pub struct Running(Stopper);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::Mutex;
    use std::sync::mpsc::channel;

    #[test]
    fn a_handler_runs_when_its_pipe_is_readable_and_is_removed_at_eof() {
        let (mut r, mut w) = std::io::pipe().expect("pipe");
        let mut lp = EventLoop::new().expect("loop");
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let fd = r.as_raw_fd();
        lp.add(&fd, move |_| {
            let mut buf = [0u8; 64];
            match r.read(&mut buf) {
                Ok(0) | Err(_) => Flow::Remove,
                Ok(n) => {
                    sink.lock().expect("lock").extend_from_slice(&buf[..n]);
                    Flow::Continue
                }
            }
        })
        .expect("add");
        assert_eq!(
            lp.poll(Some(Duration::from_millis(20))).expect("poll"),
            Wake::Timeout
        );
        w.write_all(b"abc").expect("write");
        drop(w);
        lp.run().expect("run");
        assert_eq!(&*got.lock().expect("lock"), b"abc");
        assert!(lp.is_empty(), "removed at end of file");
    }

    #[test]
    fn a_stop_from_another_thread_ends_run_and_wins_over_ready_input() {
        let (r, mut w) = std::io::pipe().expect("pipe");
        let mut lp = EventLoop::new().expect("loop");
        let calls = Arc::new(Mutex::new(0));
        let c = calls.clone();
        lp.add(&r, move |_| {
            *c.lock().expect("lock") += 1;
            Flow::Continue
        })
        .expect("add");
        let stop = lp.stopper();
        let (tx, rx) = channel();
        let t = std::thread::spawn(move || {
            let start = Instant::now();
            lp.run().expect("run");
            tx.send(start.elapsed()).expect("send");
            lp
        });
        std::thread::sleep(Duration::from_millis(50));
        stop.stop();
        let waited = rx.recv_timeout(Duration::from_secs(5)).expect("stopped");
        assert!(waited >= Duration::from_millis(40), "{waited:?}");
        let mut lp = t.join().expect("thread");
        // once stopped, ready input is not read any more
        w.write_all(b"x").expect("write");
        assert_eq!(lp.poll(None).expect("poll"), Wake::Stopped);
        assert_eq!(*calls.lock().expect("lock"), 0);
        drop(r);
    }

    #[test]
    fn a_paused_descriptor_waits_until_resumed() {
        let (mut r, mut w) = std::io::pipe().expect("pipe");
        let room = Arc::new(EventFd::new(EFD_NONBLOCK).expect("eventfd"));
        let mut lp = EventLoop::new().expect("loop");
        let reads = Arc::new(Mutex::new(0));
        let n = reads.clone();
        let src = lp
            .add(&r.as_raw_fd(), move |ctl| {
                let mut b = [0u8; 1];
                let _ = r.read(&mut b);
                *n.lock().expect("lock") += 1;
                let me = ctl.token();
                ctl.pause(me);
                Flow::Continue
            })
            .expect("add");
        let room2 = room.clone();
        lp.add(&*room, move |ctl| {
            let _ = room2.read();
            ctl.resume(src);
            Flow::Continue
        })
        .expect("add");
        w.write_all(b"12").expect("write");
        let short = Some(Duration::from_millis(20));
        assert_eq!(lp.poll(short).expect("poll"), Wake::Ready);
        assert_eq!(lp.poll(short).expect("poll"), Wake::Timeout, "paused");
        assert_eq!(*reads.lock().expect("lock"), 1);
        room.write(1).expect("room");
        assert_eq!(lp.poll(short).expect("poll"), Wake::Ready); // resumes
        assert_eq!(lp.poll(short).expect("poll"), Wake::Ready); // reads
        assert_eq!(*reads.lock().expect("lock"), 2);
    }
}
