//! Progress bars on a terminal (one spinner per stream), and a way for log lines to be
//! printed above them without breaking them.

use std::sync::RwLock;

/// The bars of the run in progress, if it shows any (one run per process shows bars).
static ACTIVE: RwLock<Option<indicatif::MultiProgress>> = RwLock::new(None);

/// Runs `f` (which writes to the terminal) with the bars hidden, then draws them again; with
/// no bars on screen it just runs `f`. Log writers call this for each line.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bars = ACTIVE.read().ok().and_then(|g| g.clone());
    match bars {
        Some(m) => m.suspend(f),
        None => f(),
    }
}

/// Progress bars on a terminal, nothing otherwise.
pub(super) struct Progress {
    multi: Option<indicatif::MultiProgress>,
}

impl Progress {
    pub(super) fn new(on: bool) -> Self {
        let multi = on.then(indicatif::MultiProgress::new);
        if let (Some(m), Ok(mut g)) = (&multi, ACTIVE.write()) {
            *g = Some(m.clone());
        }
        Progress { multi }
    }

    pub(super) fn bar(&self, name: &str) -> Option<indicatif::ProgressBar> {
        let m = self.multi.as_ref()?;
        let b = m.add(indicatif::ProgressBar::new_spinner());
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {prefix:>28} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.set_prefix(name.to_owned());
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(b)
    }

    pub(super) fn clear(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
            if let Ok(mut g) = ACTIVE.write() {
                *g = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_run_with_and_without_bars_and_the_bars_go_away() {
        assert_eq!(suspend(|| 1), 1);
        let p = Progress::new(true);
        let bar = p.bar("candidates").unwrap();
        assert!(ACTIVE.read().unwrap().is_some(), "bars on screen are known");
        assert_eq!(suspend(|| 2), 2);
        bar.finish_and_clear();
        p.clear();
        assert!(
            ACTIVE.read().unwrap().is_none(),
            "cleared bars are forgotten"
        );
        assert!(Progress::new(false).bar("x").is_none());
    }
}
