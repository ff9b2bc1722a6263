//! The build's progress bar on stderr: drawn only on a terminal (and not
//! under `-q`), from the image writer's [`ifs::Meter`], redrawn every
//! 100 ms by a thread of its own so that it moves while an image is
//! compressed in memory. A build that ends within the first 100 ms draws
//! nothing.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use ifs::Meter;

/// How often the bar is redrawn.
const PERIOD: Duration = Duration::from_millis(100);

/// Runs `work`, showing `meter` on stderr while it runs when stderr is a
/// terminal and `-q` was not given.
pub(crate) fn while_running<T>(meter: &Meter, work: impl FnOnce() -> T) -> T {
    if crate::output::quiet() || !std::io::stderr().is_terminal() {
        return work();
    }
    let start = Instant::now();
    std::thread::scope(|s| {
        let (stop, stopped) = channel::<()>();
        let drawer = s.spawn(move || {
            let mut drawn = false;
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(PERIOD) {
                draw(&bar(meter.done(), meter.total(), start.elapsed()));
                drawn = true;
            }
            if drawn {
                draw(&bar(meter.done(), meter.total(), start.elapsed()));
                eprintln!();
            }
        });
        let result = work();
        drop(stop);
        // The drawer only prints; if it panicked, the build's result stands.
        let _ = drawer.join();
        result
    })
}

fn draw(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\r{line}");
    let _ = e.flush();
}

/// The bar for `done` of `total` after `elapsed`: 20 cells, the percentage
/// (never past 100) and the seconds so far.
fn bar(done: u64, total: u64, elapsed: Duration) -> String {
    let pct = if total == 0 {
        0
    } else {
        (u128::from(done.min(total)) * 100 / u128::from(total)) as usize
    };
    let filled = pct / 5;
    format!(
        "[{}{}] {pct:>3}%  {:.1} s",
        "#".repeat(filled),
        " ".repeat(20 - filled),
        elapsed.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::bar;
    use std::time::Duration;

    #[test]
    fn the_bar_is_sized_from_the_total_and_stops_at_100() {
        let t = Duration::from_millis(1500);
        assert_eq!(bar(0, 200, t), "[                    ]   0%  1.5 s");
        assert_eq!(bar(50, 200, t), "[#####               ]  25%  1.5 s");
        assert_eq!(bar(222, 200, t), "[####################] 100%  1.5 s");
        assert_eq!(
            bar(u64::MAX, u64::MAX, t),
            "[####################] 100%  1.5 s"
        );
        assert_eq!(bar(5, 0, t), "[                    ]   0%  1.5 s");
    }
}
