//! Gives back the memory the monitor needed only to start its container.
//!
//! Starting a container runs a lot of code (the runtime, SQLite, JSON) that the monitor's
//! steady state (a poll loop moving bytes) never runs again, yet those pages stay mapped and
//! count in its resident set. After each start the monitor drops them: the heap is trimmed,
//! and resident pages of its read-only file mappings (program and library code and
//! constants) are unmapped with MADV_DONTNEED; they are shared page cache, so the few the
//! loop touches again come back from there without I/O. Mappings with private modified
//! pages (relocated data) are never touched: discarding those would lose data.

/// One mapping of /proc/self/smaps worth dropping: (start, length).
fn droppable(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, usize, bool)> = None;
    let mut flush = |cur: &mut Option<(usize, usize, bool)>, anon: u64, rss: u64| {
        if let Some((start, end, ok)) = cur.take()
            && ok
            && anon == 0
            && rss > 0
        {
            out.push((start, end - start));
        }
    };
    let (mut anon, mut rss) = (0u64, 0u64);
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        {
            flush(&mut cur, anon, rss);
            anon = 0;
            rss = 0;
            let perms = f.next().unwrap_or("");
            let path = f.nth(3).unwrap_or("");
            // Private, not writable, backed by a file (not [vdso], [vvar], anonymous...).
            let ok = perms.starts_with('r')
                && perms.as_bytes().get(1) == Some(&b'-')
                && perms.ends_with('p')
                && path.starts_with('/');
            cur = Some((start, end, ok));
            continue;
        }
        let kb = || {
            line.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1)
        };
        match first {
            "Anonymous:" => anon = kb(),
            "Rss:" => rss = kb(),
            _ => {}
        }
    }
    flush(&mut cur, anon, rss);
    out
}

/// The part of the stack mapping well below the current stack pointer: (start, length).
fn unused_stack(smaps: &str) -> Option<(usize, usize)> {
    let line = smaps.lines().find(|l| l.ends_with("[stack]"))?;
    let (a, _) = line.split_whitespace().next()?.split_once('-')?;
    let start = usize::from_str_radix(a, 16).ok()?;
    let here = 0u8;
    let sp = std::ptr::addr_of!(here) as usize;
    // Leave 16 KiB below this frame for the calls that follow.
    let end = (sp.checked_sub(16 * 1024)?) & !4095;
    (end > start).then(|| (start, end - start))
}

/// Trims the heap and the stack, and drops the resident pages of read-only file mappings.
///
/// Called right before the monitor sleeps in poll(2): between the first madvise and the
/// return, nothing calls into libc or allocates (madvise is a raw system call through
/// rustix), so the code that runs afterwards until the next wake-up is only this function's
/// tail and the poll itself.
pub(crate) fn trim() {
    const MAX: usize = 128;
    let mut ranges = [(0usize, 0usize); MAX];
    let mut n = 0;
    {
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
            return;
        };
        if let Some(r) = unused_stack(&smaps) {
            ranges[n] = r;
            n += 1;
        }
        for r in droppable(&smaps).into_iter().take(MAX - n) {
            ranges[n] = r;
            n += 1;
        }
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    for &(start, len) in &ranges[..n] {
        // SAFETY: each range is either the stack below the current stack pointer (with a
        // margin; no live frame is there and the pages come back zeroed) or a private,
        // read-only file mapping without modified pages (its content comes back unchanged
        // from the file).
        let _ =
            unsafe { rustix::mm::madvise(start as *mut _, len, rustix::mm::Advice::LinuxDontNeed) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_clean_read_only_file_mappings() {
        let smaps = "\
55d0a0000000-55d0a0100000 r-xp 00001000 08:01 123 /usr/bin/berth-monitor
Rss:                 400 kB
Anonymous:             0 kB
55d0a0100000-55d0a0200000 r--p 00101000 08:01 123 /usr/bin/berth-monitor
Rss:                  40 kB
Anonymous:            12 kB
55d0a0200000-55d0a0201000 rw-p 00201000 08:01 123 /usr/bin/berth-monitor
Rss:                   4 kB
Anonymous:             4 kB
7f0000000000-7f0000010000 r--p 00000000 08:01 9 /usr/lib/libc.so.6
Rss:                  64 kB
Anonymous:             0 kB
7f0000020000-7f0000030000 r--p 00000000 00:00 0 [vvar]
Rss:                   8 kB
Anonymous:             0 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
Rss:                 100 kB
Anonymous:           100 kB
";
        assert_eq!(
            droppable(smaps),
            vec![(0x55d0a0000000, 0x100000), (0x7f0000000000, 0x10000)]
        );
    }

    #[test]
    fn trimming_ourselves_is_harmless() {
        trim();
        // Code and constants come back from the file.
        let v: Vec<String> = (0..100).map(|i| format!("{i}")).collect();
        assert_eq!(v.join("").len(), 190);
        assert!(
            unused_stack("7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]\n").is_none()
        );
    }
}
