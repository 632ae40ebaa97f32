//! `lint compose`: compose-file settings that get an app SIGKILLed on every stop, or
//! started before its database.
//!
//! Runtime facts behind the rules (ARCHITECTURE.md, "safemig run"): Docker and Podman stop with SIGTERM and
//! SIGKILL after `stop_grace_period`, 10 s by default; `npm start`, `yarn start`, `sh -c`
//! and every shell-form `command`/`entrypoint` put a shell between the runtime and the app,
//! which does not pass SIGTERM on; Node as PID 1 without a handler ignores SIGTERM; a
//! `depends_on` without `condition: service_healthy` starts the app as soon as the
//! database's container starts, not once it accepts connections. The grace-period rule
//! ([`super::grace`]) and the start-order rule ([`super::depends`]) have modules of their own.

use crate::error::LintError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::entrypoint::SafemigRun;
use super::yaml::{self, Yaml};
use crate::Error;

/// Images that are a database server an app migrates.
pub(super) const DATABASES: &[&str] = &[
    "postgres",
    "postgresql",
    "postgis",
    "timescaledb",
    "mysql",
    "mariadb",
    "percona-server",
];

/// Images other than [`DATABASES`] that are infrastructure, not the app: their own init
/// handles stops.
const INFRASTRUCTURE: &[&str] = &[
    "redis",
    "valkey",
    "mongo",
    "nginx",
    "traefik",
    "caddy",
    "haproxy",
    "envoy",
    "rabbitmq",
    "memcached",
    "elasticsearch",
    "opensearch",
    "minio",
    "adminer",
    "pgadmin",
    "mailhog",
    "mailpit",
    "localstack",
    "zookeeper",
    "kafka",
];

/// Entrypoints that are an init or supervisor.
const INITS: &[&str] = &[
    "safemig",
    "tini",
    "dumb-init",
    "catatonit",
    "s6-svscan",
    "/init",
];

/// One problem, where it is, why it matters and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub file: String,
    pub line: usize,
    pub service: String,
    pub message: String,
    pub why: &'static str,
    pub fix: String,
}

/// A finding before it is placed in a file and service: what a rule returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Issue {
    pub rule: &'static str,
    pub line: usize,
    pub message: String,
    pub why: &'static str,
    pub fix: String,
}

pub const RULE_GRACE: &str = "SM101";
pub const RULE_SHELL: &str = "SM102";
pub const RULE_INIT: &str = "SM103";
pub const RULE_STOP_SIGNAL: &str = "SM104";
pub const RULE_DEPENDS: &str = "SM105";

/// Lints the compose files at `paths`, in order; the first one that cannot be read or
/// parsed stops it.
pub fn lint_files(paths: &[PathBuf]) -> Result<Vec<Finding>, Error> {
    let mut findings = Vec::new();
    for path in paths {
        let text = crate::files::read_text(path, crate::files::CONFIG_LIMIT)?;
        findings.extend(lint(path, &text)?);
    }
    Ok(findings)
}

/// Checks one compose file; the findings in the order of their lines.
pub fn lint(path: &Path, text: &str) -> Result<Vec<Finding>, Error> {
    let invalid = |reason: String| {
        Error::Lint(LintError::InvalidCompose {
            path: path.to_path_buf(),
            reason,
        })
    };
    let doc = yaml::parse(text).map_err(invalid)?;
    let Some(Yaml::Map { entries, .. }) = doc.get("services") else {
        return Err(invalid("it has no `services:` mapping".into()));
    };
    let file = path.display().to_string();
    let mut findings = Vec::new();
    for service in entries {
        let spec = &service.value;
        let mut issues = shell_forms(spec);
        if is_app(spec) {
            let run = SafemigRun::of(spec);
            issues.extend(missing_init(service, spec));
            if let Some(run) = &run {
                issues.extend(super::grace::check(service, run));
            }
            issues.extend(super::depends::check(spec, run.as_ref(), entries));
        }
        issues.extend(stop_signal(spec));
        findings.extend(issues.into_iter().map(|issue| Finding {
            rule: issue.rule,
            file: file.clone(),
            line: issue.line,
            service: service.key.clone(),
            message: issue.message,
            why: issue.why,
            fix: issue.fix,
        }));
    }
    findings.sort_by_key(|f| f.line);
    Ok(findings)
}

/// SM102: a shell or package manager between the runtime and the app.
fn shell_forms(spec: &Yaml) -> Vec<Issue> {
    let mut issues = Vec::new();
    for key in ["command", "entrypoint"] {
        let Some(entry) = spec.entry(key) else {
            continue;
        };
        if let Some(problem) = signal_swallowing(&entry.value) {
            // A shell line that migrates before it starts the app (`npx prisma migrate
            // deploy && node server.js`): the fix must not drop the migration silently.
            let migrates = words(&entry.value).join(" ").contains("migrate deploy");
            let fix = if migrates {
                format!(
                    "let safemig run take over the migration (it deploys, crash-safe, before it starts the app) and start the program itself: entrypoint: [\"safemig\", \"run\", \"--\"] and {}: [\"node\", \"server.js\"]",
                    if key == "entrypoint" { "command" } else { key }
                )
            } else {
                format!(
                    "use the exec form and start the program itself: {key}: [\"node\", \"server.js\"]"
                )
            };
            issues.push(Issue {
                rule: RULE_SHELL,
                line: entry.line,
                message: format!("`{key}` {problem}"),
                why: "a shell or package manager between the runtime and the app does not pass SIGTERM on: the app is SIGKILLed at the end of the grace period, mid-request and mid-migration",
                fix,
            });
        }
    }
    issues
}

/// SM103: an app with neither an init nor a supervisor as its entrypoint.
fn missing_init(service: &yaml::Entry, spec: &Yaml) -> Option<Issue> {
    let entrypoint = spec.entry("entrypoint");
    let init = spec.get("init").and_then(Yaml::as_str) == Some("true");
    let uses_init = init || entrypoint.is_some_and(|e| first_word(&e.value).is_some_and(is_init));
    (!uses_init).then(|| Issue {
        rule: RULE_INIT,
        line: entrypoint.map_or(service.line, |e| e.line),
        message: "the app does not run under an init or supervisor".into(),
        why: "as PID 1 the app must reap zombies and handle SIGTERM itself; Node and most runtimes ignore SIGTERM as PID 1 unless the app installs a handler",
        fix: "entrypoint: [\"safemig\", \"run\", \"--\"] (migrates, forwards signals, stops before the deadline), or init: true".into(),
    })
}

/// SM104: a stop signal apps do not take as "shut down".
fn stop_signal(spec: &Yaml) -> Option<Issue> {
    let entry = spec.entry("stop_signal")?;
    let sig = entry
        .value
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let sig = if sig.starts_with("SIG") {
        sig
    } else {
        format!("SIG{sig}")
    };
    (!matches!(sig.as_str(), "SIGTERM" | "SIGINT")).then(|| Issue {
        rule: RULE_STOP_SIGNAL,
        line: entry.line,
        message: format!("stop_signal {sig} is not a signal apps treat as \"shut down\""),
        why: "Node, Prisma and most servers shut down gracefully on SIGTERM or SIGINT; with another signal the app either dies at once (SIGKILL) or ignores it until the runtime SIGKILLs it",
        fix: "remove stop_signal (SIGTERM is the default), or set it to SIGINT".into(),
    })
}

/// Whether a service is the app, not infrastructure: it is built here, or its image is not
/// a well-known server.
fn is_app(spec: &Yaml) -> bool {
    if spec.get("build").is_some() {
        return true;
    }
    image_name(spec)
        .is_none_or(|name| !DATABASES.contains(&name) && !INFRASTRUCTURE.contains(&name))
}

/// The name of a service's image without registry, owner, tag or digest:
/// `docker.io/library/mariadb:10.11` → `mariadb`.
pub(super) fn image_name(spec: &Yaml) -> Option<&str> {
    let image = spec.get("image").and_then(Yaml::as_str)?;
    let name = image.rsplit('/').next().unwrap_or(image);
    Some(name.split([':', '@']).next().unwrap_or(name))
}

/// The words of a command in exec form, or the string of a shell-form one.
pub(super) fn words(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Seq { items, .. } => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        Yaml::Scalar { value, .. } => value.split_whitespace().map(String::from).collect(),
        Yaml::Map { .. } => Vec::new(),
    }
}

fn first_word(value: &Yaml) -> Option<String> {
    words(value).into_iter().next()
}

fn is_init(word: String) -> bool {
    let base = word.rsplit('/').next().unwrap_or(&word);
    INITS
        .iter()
        .any(|init| word == *init || base == init.trim_start_matches('/'))
}

/// Why a command keeps SIGTERM from the app, if it does.
fn signal_swallowing(value: &Yaml) -> Option<String> {
    let words = words(value);
    let joined = words.join(" ");
    for (runner, sub) in [
        ("npm", "start"),
        ("npm", "run"),
        ("yarn", "start"),
        ("yarn", "run"),
        ("pnpm", "start"),
    ] {
        let pattern = format!("{runner} {sub}");
        if joined.contains(&pattern) {
            return Some(format!(
                "runs `{pattern}`, which does not forward SIGTERM to the app"
            ));
        }
    }
    if let Yaml::Scalar { value, .. } = value
        && !value.trim_start().starts_with("exec ")
    {
        return Some(format!(
            "is in shell form (`{value}`): it runs under `/bin/sh -c`, which does not forward SIGTERM"
        ));
    }
    let shell = words
        .first()
        .map(|w| w.rsplit('/').next().unwrap_or(w).to_string());
    if matches!(shell.as_deref(), Some("sh" | "bash" | "ash" | "dash"))
        && words.get(1).map(String::as_str) == Some("-c")
    {
        let script = words.get(2).map(String::as_str).unwrap_or_default();
        if !script.trim_start().starts_with("exec ") {
            return Some(format!(
                "runs `{} -c` without `exec`: the shell stays PID 1 and does not forward SIGTERM",
                words[0]
            ));
        }
    }
    None
}

/// Compose durations: `30s`, `1m30s`, `1500ms`, `2h`, or plain seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let mut total = 0.0;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number.parse().ok()?;
        number.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('u' | 'µ', Some('s')) => {
                chars.next();
                0.000_001
            }
            ('n', Some('s')) => {
                chars.next();
                0.000_000_001
            }
            ('h', _) => 3600.0,
            ('m', _) => 60.0,
            ('s', _) => 1.0,
            _ => return None,
        };
        total += value * unit;
    }
    if !number.is_empty() {
        return None;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fix for a shell line that migrates and then starts the app says that
    /// `safemig run` takes the migration over, rather than dropping it.
    #[test]
    fn a_shell_line_that_migrates_keeps_its_migration() {
        let compose = "services:\n  app:\n    image: app\n    entrypoint: [\"safemig\", \"run\", \"--\"]\n    command: sh -c \"npx prisma migrate deploy && node server.js\"\n";
        let findings = lint(Path::new("compose.yaml"), compose).unwrap();
        let shell = findings.iter().find(|f| f.rule == RULE_SHELL).unwrap();
        assert!(
            shell.fix.contains("safemig run take over the migration"),
            "{}",
            shell.fix
        );
        let plain = "services:\n  app:\n    image: app\n    entrypoint: [\"safemig\", \"run\", \"--\"]\n    command: npm start\n";
        let findings = lint(Path::new("compose.yaml"), plain).unwrap();
        let shell = findings.iter().find(|f| f.rule == RULE_SHELL).unwrap();
        assert!(shell.fix.starts_with("use the exec form"), "{}", shell.fix);
    }

    #[test]
    fn compose_durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("ten"), None);
    }
}
