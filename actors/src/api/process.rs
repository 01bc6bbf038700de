//! Process metrics next to ours, under the names Prometheus client libraries use
//! (`process_resident_memory_bytes`, `process_open_fds`, `process_cpu_seconds_total`,
//! `process_threads`), plus CPU time per thread (`ethpeer_thread_cpu_seconds_total`, by
//! thread name and id), read from Linux's `/proc/self` at scrape time. Elsewhere (or when
//! `/proc` is not mounted) the families are left out.

use std::path::Path;

use crate::exposition::Exposition;

/// Clock ticks per second of `/proc`'s CPU times: Linux's `USER_HZ`, fixed at 100 by its
/// ABI on every architecture we build for (what `getconf CLK_TCK` prints).
pub const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Bytes per page for `/proc/self/statm` (4 KiB on x86-64 and the usual aarch64 kernels;
/// RSS is read from `/proc/self/status` in kB, so this is only a fallback).
pub const PAGE_SIZE: u64 = 4096;

/// Threads reported one by one at most (bounds the scrape if something spawns many; the
/// node runs about 15).
pub const MAX_THREADS_REPORTED: usize = 256;

/// CPU seconds of one thread.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadCpu {
    /// Thread id.
    pub tid: u32,
    /// Its name (`comm`, at most 15 bytes as the kernel keeps it).
    pub name: String,
    /// User plus system time, seconds.
    pub seconds: f64,
}

/// The fields of a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line we use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Threads of the process (field 20).
    pub threads: u64,
    /// Resident pages (field 24).
    pub rss_pages: u64,
}

/// Parses a `stat` line: the name in parentheses may hold spaces and parentheses, so the
/// fields are counted after the last `)`.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is fields[N - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let ticks = field(14)?.checked_add(field(15)?)?;
    Some(Stat {
        cpu_seconds: ticks as f64 / CLOCK_TICKS_PER_SECOND,
        threads: field(20)?,
        rss_pages: field(24)?,
    })
}

/// `VmRSS` of a `/proc/self/status` text, in bytes.
pub fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// CPU time of each thread of this process.
pub fn threads() -> Vec<ThreadCpu> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut out: Vec<ThreadCpu> = tasks
        .filter_map(Result::ok)
        .take(MAX_THREADS_REPORTED)
        .filter_map(|task| {
            let tid: u32 = task.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let name = std::fs::read_to_string(task.path().join("comm")).ok()?;
            Some(ThreadCpu {
                tid,
                name: name.trim().to_string(),
                seconds: parse_stat(&stat)?.cpu_seconds,
            })
        })
        .collect();
    out.sort_by_key(|t| t.tid);
    out
}

/// Renders the process families into `out`.
pub fn render(out: &mut Exposition) {
    let root = Path::new("/proc/self");
    let Some(stat) = std::fs::read_to_string(root.join("stat"))
        .ok()
        .as_deref()
        .and_then(parse_stat)
    else {
        return;
    };
    let rss = std::fs::read_to_string(root.join("status"))
        .ok()
        .as_deref()
        .and_then(parse_rss)
        .unwrap_or(stat.rss_pages.saturating_mul(PAGE_SIZE));
    out.gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        rss,
    );
    if let Ok(fds) = std::fs::read_dir(root.join("fd")) {
        out.gauge(
            "process_open_fds",
            "Open file descriptors.",
            fds.count() as u64,
        );
    }
    out.gauge("process_threads", "Threads of the process.", stat.threads);
    let mut text = String::new();
    text.push_str("# HELP process_cpu_seconds_total User and system CPU time, seconds.\n");
    text.push_str("# TYPE process_cpu_seconds_total counter\n");
    text.push_str(&format!("process_cpu_seconds_total {}\n", stat.cpu_seconds));
    text.push_str(
        "# HELP ethpeer_thread_cpu_seconds_total User and system CPU time of each thread, \
         seconds (see the README for which thread does what).\n",
    );
    text.push_str("# TYPE ethpeer_thread_cpu_seconds_total counter\n");
    for thread in threads() {
        let name: String = thread
            .name
            .chars()
            .map(|c| match c {
                '"' | '\\' | '\n' => '_',
                c => c,
            })
            .collect();
        text.push_str(&format!(
            "ethpeer_thread_cpu_seconds_total{{thread=\"{name}\",tid=\"{}\"}} {}\n",
            thread.tid, thread.seconds
        ));
    }
    out.raw(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        // A real line's shape (proc(5)); the name holds a space and a parenthesis.
        let line = "4242 (a b) c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 13 0 \
                    123456 1000000000 2560 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.cpu_seconds, 3.0);
        assert_eq!(stat.threads, 13);
        assert_eq!(stat.rss_pages, 2560);
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
        assert_eq!(
            parse_rss("Name:\tx\nVmRSS:\t  2048 kB\n"),
            Some(2 * 1024 * 1024)
        );
        assert_eq!(parse_rss("VmRSS: lots"), None);
    }

    #[test]
    fn this_process_reports_itself() {
        let mut out = Exposition::new();
        render(&mut out);
        let text = out.into_text();
        for family in [
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_threads ",
            "process_cpu_seconds_total ",
            "ethpeer_thread_cpu_seconds_total{thread=",
        ] {
            assert!(text.contains(family), "{family} missing from\n{text}");
        }
        assert!(!threads().is_empty());
    }
}
