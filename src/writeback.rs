//! Files whose pages go to disk while they are written: every few megabytes a helper thread
//! syncs what is written so far, so the sync before a commit has little left to do.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;

/// Bytes written between two background syncs.
const EVERY: u64 = 8 * 1024 * 1024;

/// A buffered file that syncs itself in the background as it grows.
pub struct SyncingFile {
    file: BufWriter<File>,
    /// Bytes written since the last background sync was asked for.
    since: u64,
    syncer: Option<Syncer>,
}

/// A helper thread that syncs one file's data whenever it is woken.
pub struct Syncer {
    wake: mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl SyncingFile {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> io::Result<SyncingFile> {
        let f = File::create(path)?;
        let syncer = Syncer::start(f.try_clone()?);
        Ok(SyncingFile {
            file: BufWriter::with_capacity(256 * 1024, f),
            since: 0,
            syncer,
        })
    }

    /// Writes what is buffered and syncs the file's data and metadata to disk.
    pub fn finish(mut self) -> io::Result<()> {
        self.file.flush()?;
        if let Some(s) = self.syncer.take() {
            s.stop();
        }
        self.file.get_ref().sync_all()
    }
}

impl Syncer {
    /// A thread that syncs `file` whenever it is woken. None when no thread can be started:
    /// then the file is synced only by whoever owns it.
    pub fn start(file: File) -> Option<Syncer> {
        // one wake-up kept while a sync runs; more would sync the same pages again
        let (wake, asked) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("mapper-sync".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    // an early sync only spreads the work; its errors surface in the
                    // owner's own sync
                    let _ = file.sync_data();
                }
            })
            .ok()?;
        Some(Syncer { wake, thread })
    }

    /// Asks for a sync (none is queued while one is already asked for: it covers these
    /// bytes too).
    pub fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    /// Stops the thread, after the sync in progress if there is one.
    pub fn stop(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}

impl SyncingFile {
    /// Counts `n` more bytes written, and wakes the syncer every [`EVERY`] bytes.
    fn grew(&mut self, n: usize) {
        self.since += n as u64;
        if self.since >= EVERY {
            self.since = 0;
            if let Some(s) = &self.syncer {
                s.wake();
            }
        }
    }
}

impl Write for SyncingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.grew(n);
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // the buffer's own write_all (one call, not a loop of `write`)
        self.file.write_all(buf)?;
        self.grew(buf.len());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_written_is_in_the_file_after_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut f = SyncingFile::create(&path).unwrap();
        let line = vec![b'x'; 999];
        let mut expected = 0;
        // past two background syncs
        while expected < 2 * EVERY as usize + 12345 {
            f.write_all(&line).unwrap();
            f.write_all(b"\n").unwrap();
            expected += line.len() + 1;
        }
        f.finish().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, expected);
    }
}
