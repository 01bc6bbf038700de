//! Where the node's settings come from: the command line, then `ETHPEER_<FLAG>` environment
//! variables, then a TOML file (`--config FILE`), then the defaults; and `ethpeer
//! dumpconfig`, which writes the effective settings in the file's format. Every key of the
//! file is a long flag name (`port = 0`, `"http.addr" = "0.0.0.0"`, or as a table
//! `[http] addr = "0.0.0.0"`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// The subcommands whose flags are the node's (a file and environment apply to them, and
/// to the bare `ethpeer` that means `ethpeer node`).
const NODE_COMMANDS: [&str; 2] = ["node", "dumpconfig"];

/// Flags that are not settings: never read from a file or the environment, never dumped.
const NOT_SETTINGS: [&str; 3] = ["help", "version", "config"];

/// Largest configuration file read (ours: a full dump is about 3 KiB).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The environment variable of a long flag: `ETHPEER_` and the name in capitals with `.`
/// and `-` as `_` (`--http.addr` is `ETHPEER_HTTP_ADDR`).
pub fn env_name(long: &str) -> String {
    format!(
        "ETHPEER_{}",
        long.to_ascii_uppercase().replace(['.', '-'], "_")
    )
}

/// A setting's key in the file: its long flag, or for a flag with only a letter (`-v`) its
/// name; `None` for what is not a setting.
fn setting_key(arg: &clap::Arg) -> Option<String> {
    let key = match arg.get_long() {
        Some(long) => long.to_string(),
        None if arg.get_short().is_some() => arg.get_id().as_str().to_string(),
        None => return None,
    };
    (!NOT_SETTINGS.contains(&key.as_str())).then_some(key)
}

/// The command line as clap sees it, with an environment variable for each node flag.
fn command() -> clap::Command {
    let with_env = |cmd: clap::Command| {
        cmd.mut_args(|arg| match arg.get_long() {
            Some(long) if !NOT_SETTINGS.contains(&long) => {
                let name = env_name(long);
                arg.env(name)
            }
            _ => arg,
        })
    };
    let mut cmd = with_env(Cli::command());
    for name in NODE_COMMANDS {
        cmd = cmd.mut_subcommand(name, with_env);
    }
    cmd
}

/// Parses the command line, the environment and the `--config` file (in that order of
/// precedence). A bad file is a clap-style error naming the file and key.
pub fn parse(argv: Vec<OsString>) -> Result<(Cli, Option<ArgMatches>), clap::Error> {
    let given = argv.len();
    let argv = with_file_settings(argv)
        .map_err(|e| command().error(clap::error::ErrorKind::InvalidValue, format!("{e:#}")))?;
    let from_file = argv.len() > given;
    let matches = command()
        .try_get_matches_from(argv)
        .map_err(|e| match from_file {
            // Say where a bad value may have come from; clap's own text names the flag.
            true => {
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                command().error(
                    e.kind(),
                    format!(
                        "{} (settings of the --config file included)",
                        first.trim_start_matches("error: ")
                    ),
                )
            }
            false => e,
        })?;
    let cli = Cli::from_arg_matches(&matches)?;
    let dump = matches.subcommand_matches("dumpconfig").cloned();
    Ok((cli, dump))
}

/// `argv` with the file's settings inserted as flags where the node's flags go, except
/// those given on the command line or in the environment (which win).
fn with_file_settings(mut argv: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let sub = argv.get(1).and_then(|a| a.to_str()).map(str::to_string);
    let (position, cmd) = match sub.as_deref() {
        Some(name) if NODE_COMMANDS.contains(&name) => {
            (2, command().find_subcommand(name).cloned())
        }
        Some(name) if !name.starts_with('-') => return Ok(argv),
        _ => (1, Some(command())),
    };
    let Some(cmd) = cmd else { return Ok(argv) };
    let Some(path) = config_path(&argv[position.min(argv.len())..]) else {
        return Ok(argv);
    };
    let table = read_table(&path)?;
    let mut flags = Vec::new();
    for (key, value) in table {
        let arg = cmd
            .get_arguments()
            .find(|a| setting_key(a).as_deref() == Some(key.as_str()))
            .with_context(|| {
                format!(
                    "--config {}: unknown key {key:?} (`ethpeer dumpconfig` lists every key)",
                    path.display()
                )
            })?;
        if given_on_command_line(arg, &argv[position.min(argv.len())..])
            || std::env::var_os(env_name(&key)).is_some_and(|v| !v.is_empty())
        {
            continue;
        }
        flags.extend(
            as_flags(arg, &key, &value)
                .with_context(|| format!("--config {}: key {key:?}", path.display()))?,
        );
    }
    let position = position.min(argv.len());
    argv.splice(position..position, flags);
    Ok(argv)
}

/// `--config FILE`, `--config=FILE` or `ETHPEER_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut args = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(env_name("config"))
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The file as one flat table: nested tables become dotted keys (`[http] addr` is
/// `http.addr`).
fn read_table(path: &Path) -> anyhow::Result<Vec<(String, toml::Value)>> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .with_context(|| format!("--config {shown}: cannot read"))?
        .len();
    if size > MAX_CONFIG_BYTES {
        anyhow::bail!("--config {shown}: {size} bytes, more than {MAX_CONFIG_BYTES}");
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--config {shown}: cannot read"))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("--config {shown}: {}", e.message()))?;
    let mut flat = Vec::new();
    flatten("", table, &mut flat);
    Ok(flat)
}

fn flatten(prefix: &str, table: toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (key, value) in table {
        let key = match prefix.is_empty() {
            true => key,
            false => format!("{prefix}.{key}"),
        };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            value => out.push((key, value)),
        }
    }
}

/// Whether the command line sets `arg` (by its long name, an alias or its short letter).
fn given_on_command_line(arg: &clap::Arg, args: &[OsString]) -> bool {
    let mut names: Vec<String> = arg
        .get_long_and_visible_aliases()
        .unwrap_or_default()
        .into_iter()
        .map(str::to_string)
        .collect();
    names.extend(
        arg.get_all_aliases()
            .unwrap_or_default()
            .into_iter()
            .map(str::to_string),
    );
    let short = arg.get_short();
    args.iter().filter_map(|a| a.to_str()).any(|a| {
        let long = a
            .strip_prefix("--")
            .map(|rest| rest.split('=').next().unwrap_or(rest));
        match long {
            Some(long) => names.iter().any(|n| n == long),
            None => short.is_some_and(|s| a.starts_with('-') && a[1..].starts_with(s)),
        }
    })
}

/// One file setting as command-line flags.
fn as_flags(arg: &clap::Arg, key: &str, value: &toml::Value) -> anyhow::Result<Vec<OsString>> {
    let flag = format!("--{key}");
    let scalar = |value: &toml::Value| -> anyhow::Result<String> {
        match value {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(n) => Ok(n.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            toml::Value::Boolean(b) => Ok(b.to_string()),
            other => anyhow::bail!(
                "expected a string, number or boolean, found {}",
                other.type_str()
            ),
        }
    };
    match (arg.get_action(), value) {
        (ArgAction::SetTrue, toml::Value::Boolean(true)) => Ok(vec![flag.into()]),
        (ArgAction::SetTrue, toml::Value::Boolean(false)) => Ok(Vec::new()),
        (ArgAction::SetTrue, other) => {
            anyhow::bail!("expected true or false, found {}", other.type_str())
        }
        (ArgAction::Count, toml::Value::Integer(n)) => {
            let n = usize::try_from(*n).context("expected a count from 0 to 255")?;
            let short = arg.get_short().context("a count flag without a letter")?;
            Ok((0..n.min(255))
                .map(|_| format!("-{short}").into())
                .collect())
        }
        (_, toml::Value::Array(items)) => {
            if arg.get_value_delimiter().is_none() {
                anyhow::bail!("takes one value, not a list");
            }
            let items: Vec<String> = items.iter().map(scalar).collect::<Result<_, _>>()?;
            Ok(vec![format!("{flag}={}", items.join(",")).into()])
        }
        (_, value) => Ok(vec![format!("{flag}={}", scalar(value)?).into()]),
    }
}

/// `ethpeer dumpconfig`: the effective settings of `matches` as TOML, loadable with
/// `--config`: what the command line, environment or a file set as keys, every other flag
/// as a commented-out line with its default (so a loaded dump keeps following defaults).
pub fn dump(matches: &ArgMatches) -> anyhow::Result<String> {
    let cmd = command();
    let sub = cmd
        .find_subcommand("dumpconfig")
        .context("the dumpconfig command")?;
    let (mut set, mut defaults) = (String::new(), String::new());
    for arg in sub.get_arguments() {
        let Some(long) = setting_key(arg) else {
            continue;
        };
        let id = arg.get_id().as_str();
        let Some(value) = setting(arg, id, matches) else {
            continue;
        };
        let mut one = toml::Table::new();
        one.insert(long, value);
        let line = toml::to_string(&one).context("TOML")?;
        match matches.value_source(id) {
            Some(clap::parser::ValueSource::DefaultValue) | None => {
                defaults.push_str("# ");
                defaults.push_str(&line);
            }
            Some(_) => set.push_str(&line),
        }
    }
    Ok(format!(
        "# ethpeer's effective settings (`ethpeer dumpconfig`); load with --config FILE.\n\
         # Every key is a long flag; the command line and ETHPEER_<FLAG> variables win.\n\
         {set}\n# Defaults:\n{defaults}"
    ))
}

/// One flag's value as TOML, `None` when it has none (an optional flag not given).
fn setting(arg: &clap::Arg, id: &str, matches: &ArgMatches) -> Option<toml::Value> {
    match arg.get_action() {
        ArgAction::SetTrue => Some(toml::Value::Boolean(matches.get_flag(id))),
        ArgAction::Count => Some(toml::Value::Integer(i64::from(matches.get_count(id)))),
        _ => {
            let values: Vec<toml::Value> = matches
                .get_raw(id)?
                .map(|v| typed(&v.to_string_lossy()))
                .collect();
            match (arg.get_value_delimiter().is_some(), values.len()) {
                (false, 1) => values.into_iter().next(),
                _ => Some(toml::Value::Array(values)),
            }
        }
    }
}

/// A flag's text as the TOML type a person would write: a number, a boolean or a string.
fn typed(text: &str) -> toml::Value {
    if let Ok(n) = text.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    match text {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(text.to_string()),
    }
}
