//! Reading the container's output so that a killed monitor loses none of it.
//!
//! A plain read(2) takes the bytes out of the pipe: a monitor killed between that read and
//! the log write would lose them, although its keeper holds the pipe for the adopter. So
//! the output pipes are read in three steps: tee(2) copies what the pipe holds into a
//! private scratch pipe without consuming it; the copy is logged and sent to attach
//! clients; only then are those bytes consumed from the container's pipe. A monitor killed
//! at any point before the consuming read leaves them in the pipe, for its adopter to log
//! (at worst twice, if the kill falls between the log write and the consuming read: a few
//! instructions; never lost). A pty master is not a pipe: it is read plainly.

use std::os::fd::AsFd;

use rustix::io::Errno;
use rustix::pipe::SpliceFlags;

use super::{Monitor, pipe};
use crate::error::Result;

const CHUNK: usize = 32 * 1024;

impl Monitor<'_> {
    /// Reads container output until EOF or until the pipe is empty; false when the stream
    /// is finished.
    pub(super) fn read_output(&mut self, idx: usize) -> Result<bool> {
        if self.tty {
            return self.read_output_plain(idx);
        }
        if self.scratch.is_none() {
            let (r, w) = pipe()?;
            super::nonblocking(r.as_fd());
            self.scratch = Some((r, w));
        }
        let mut buf = vec![0u8; CHUNK];
        loop {
            let (fd, stream) = (&self.outputs[idx].0, self.outputs[idx].1);
            let Some((sr, sw)) = &self.scratch else {
                return self.read_output_plain(idx);
            };
            let n = match rustix::pipe::tee(fd, sw, CHUNK, SpliceFlags::NONBLOCK) {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(Errno::AGAIN) => return Ok(true),
                Err(Errno::INTR) => continue,
                // Not a pipe after all (an adopted descriptor of another kind).
                Err(Errno::INVAL) => return self.read_output_plain(idx),
                Err(_) => return Ok(false),
            };
            // The copy: all of it is in the scratch pipe (it was empty, and holds 64 KiB).
            let mut got = 0;
            while got < n {
                match rustix::io::read(sr, &mut buf[got..n]) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(Errno::INTR) => {}
                    Err(_) => break,
                }
            }
            let data = buf[..got].to_vec();
            self.log.write(stream, &data)?;
            self.broadcast(stream, &data);
            // Now consume what was logged (nobody else reads this pipe: the keeper only
            // holds it).
            let fd = &self.outputs[idx].0;
            let mut left = got;
            while left > 0 {
                match rustix::io::read(fd, &mut buf[..left]) {
                    Ok(0) => break,
                    Ok(k) => left -= k,
                    Err(Errno::INTR) => {}
                    Err(_) => break,
                }
            }
        }
    }

    /// read(2) until EAGAIN or EOF (pty masters).
    fn read_output_plain(&mut self, idx: usize) -> Result<bool> {
        let mut buf = [0u8; CHUNK];
        loop {
            let (fd, stream) = (&self.outputs[idx].0, self.outputs[idx].1);
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.log.write(stream, &buf[..n])?;
                    let data = buf[..n].to_vec();
                    self.broadcast(stream, &data);
                }
                Err(nix::errno::Errno::EAGAIN) => return Ok(true),
                Err(nix::errno::Errno::EINTR) => continue,
                // A pty master reads EIO once the last slave is closed.
                Err(_) => return Ok(false),
            }
        }
    }
}
