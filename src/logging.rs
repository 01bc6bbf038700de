//! Logging set-up from the flags: level (`--verbosity`, `-v…`, `RUST_LOG`), line format
//! (`--log.format`) and destination (`--log.file`). Everything logs through `log`;
//! env_logger writes it (no second logging stack: `tracing` would add a subscriber and
//! spans we do not use, while env_logger's format hook gives the three formats).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::cli::LogFormat;

/// The log settings of one run.
#[derive(Debug, Clone, Copy)]
pub struct LogSettings<'a> {
    /// geth's 0-5 (from `--verbosity` or the count of `-v`); `None`: info.
    pub level: Option<u8>,
    /// The line format.
    pub format: LogFormat,
    /// Where lines go (stderr when `None`).
    pub file: Option<&'a Path>,
}

/// geth's verbosity as a `log` filter: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
pub fn level_filter(verbosity: u8) -> log::LevelFilter {
    match verbosity {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

/// Installs the logger. `RUST_LOG`, when set, refines the level per module.
pub fn init(settings: LogSettings<'_>) -> anyhow::Result<()> {
    let mut builder = env_logger::Builder::new();
    let level = level_filter(settings.level.unwrap_or(3));
    builder.filter_level(level);
    // The Kafka client logs every reconnect attempt (ten a second while a broker is
    // away) at info and warn: the sink says what matters once, so it speaks at debug.
    let kafka = if level >= log::LevelFilter::Debug {
        level
    } else {
        level.min(log::LevelFilter::Error)
    };
    builder.filter_module("rskafka", kafka);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let format = settings.format;
    builder.format(move |buf, record| {
        let line = render(format, &now_rfc3339(), record);
        writeln!(buf, "{line}")
    });
    if let Some(path) = settings.file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("--log.file: cannot open {}", path.display()))?;
        builder.target(env_logger::Target::Pipe(Box::new(file)));
    }
    builder
        .try_init()
        .context("a logger is already installed")?;
    Ok(())
}

/// One record as a line of `format` (without the newline).
pub fn render(format: LogFormat, time: &str, record: &log::Record<'_>) -> String {
    let level = record.level();
    let target = record.target();
    let message = record.args().to_string();
    match format {
        LogFormat::Terminal => format!("{time} {level:<5} {target}: {message}"),
        LogFormat::Logfmt => format!(
            "t={time} lvl={} target={} msg={}",
            level.as_str().to_ascii_lowercase(),
            logfmt_value(target),
            logfmt_value(&message)
        ),
        LogFormat::Json => serde_json::json!({
            "t": time,
            "lvl": level.as_str().to_ascii_lowercase(),
            "target": target,
            "msg": message,
        })
        .to_string(),
    }
}

/// A logfmt value: bare when it has no space, quote or `=`, else quoted with escapes.
fn logfmt_value(value: &str) -> String {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control());
    match bare {
        true => value.to_string(),
        // Debug formatting quotes and escapes quotes, backslashes and control characters.
        false => format!("{value:?}"),
    }
}

/// The wall clock as RFC 3339 UTC with milliseconds, e.g. `2026-12-05T17:00:00.123Z`.
fn now_rfc3339() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since.as_secs(), since.subsec_millis())
}

/// `secs` since the epoch as RFC 3339 UTC with milliseconds.
fn rfc3339(secs: u64, millis: u32) -> String {
    let (date, clock) = ethpeer_actors::feed::arrivals::civil(secs);
    format!("{date}T{clock}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        // 2026-12-05T16:58:13Z, this session's first `date`.
        assert_eq!(rfc3339(1_796_489_893, 7), "2026-12-05T16:58:13.007Z");
        // A leap day.
        assert_eq!(rfc3339(951_782_400, 999), "2000-02-29T00:00:00.999Z");
    }

    #[test]
    fn each_format_renders_one_parseable_line() {
        let args = format_args!("peer connected: \"x\" a=b");
        let record = log::Record::builder()
            .args(args)
            .level(log::Level::Warn)
            .target("ethpeer_actors::node")
            .build();
        let t = "2026-12-05T17:00:00.000Z";
        assert_eq!(
            render(LogFormat::Terminal, t, &record),
            "2026-12-05T17:00:00.000Z WARN  ethpeer_actors::node: peer connected: \"x\" a=b"
        );
        assert_eq!(
            render(LogFormat::Logfmt, t, &record),
            "t=2026-12-05T17:00:00.000Z lvl=warn target=ethpeer_actors::node \
             msg=\"peer connected: \\\"x\\\" a=b\""
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(LogFormat::Json, t, &record)).unwrap();
        assert_eq!(json["lvl"], "warn");
        assert_eq!(json["msg"], "peer connected: \"x\" a=b");
        assert_eq!(level_filter(0), log::LevelFilter::Off);
        assert_eq!(level_filter(3), log::LevelFilter::Info);
        assert_eq!(level_filter(9), log::LevelFilter::Trace);
    }
}
