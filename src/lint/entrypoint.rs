//! What a service's `safemig run` says about its stop budget and its database wait, read
//! from its `entrypoint` and `command` (compose runs the command after the entrypoint) and
//! its `environment`.

use std::time::Duration;

use super::compose::words;
use super::yaml::Yaml;
use crate::supervisor::{GracePeriod, GraceSource};

/// A service whose entrypoint (or command) is `safemig run`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SafemigRun {
    /// The line of the `entrypoint` (or `command`) that starts it.
    pub line: usize,
    /// `--stop-timeout`.
    pub stop_timeout: Option<Duration>,
    /// The grace period declared to it: `--grace-period`, else `SAFEMIG_GRACE_PERIOD` in
    /// the service's `environment`.
    pub grace: Option<GracePeriod>,
    /// A declaration this cannot read (`SAFEMIG_GRACE_PERIOD: ${GRACE}`): what safemig is
    /// told is unknown, so nothing is said about it.
    pub grace_unknown: bool,
    /// Whether it waits for its database before migrating: unless `--migrate=off` or
    /// `--wait-for-database 0`.
    pub waits_for_database: bool,
}

impl SafemigRun {
    /// The service's `safemig run`, if it has one.
    pub fn of(spec: &Yaml) -> Option<SafemigRun> {
        let entry = spec.entry("entrypoint").or_else(|| spec.entry("command"))?;
        let mut all = words(&entry.value);
        if entry.key == "entrypoint"
            && let Some(command) = spec.get("command")
        {
            all.extend(words(command));
        }
        let is_safemig = all.first().is_some_and(|w| w.ends_with("safemig"));
        if !is_safemig || all.get(1).map(String::as_str) != Some("run") {
            return None;
        }
        let options = Options::of(&all[2..]);
        let seconds = |flag| {
            options
                .value(flag)
                .and_then(|v| crate::text::seconds(v).ok())
        };
        let (grace, grace_unknown) = match seconds("--grace-period") {
            Some(duration) => (
                Some(GracePeriod {
                    duration,
                    source: GraceSource::Flag,
                }),
                false,
            ),
            None => from_environment(spec),
        };
        Some(SafemigRun {
            line: entry.line,
            stop_timeout: seconds("--stop-timeout"),
            grace,
            grace_unknown,
            waits_for_database: options.value("--migrate") != Some("off")
                && seconds("--wait-for-database") != Some(Duration::ZERO),
        })
    }
}

/// `safemig run`'s options, before the `--` that starts the app's command.
struct Options<'a>(&'a [String]);

impl<'a> Options<'a> {
    fn of(words: &'a [String]) -> Options<'a> {
        let end = words.iter().position(|w| w == "--").unwrap_or(words.len());
        Options(&words[..end])
    }

    /// The value of `flag`, written `--flag value` or `--flag=value`; the last one wins,
    /// as clap takes it.
    fn value(&self, flag: &str) -> Option<&'a str> {
        let words = self.0;
        words.iter().enumerate().rev().find_map(|(i, word)| {
            match word.strip_prefix(flag)?.strip_prefix('=') {
                Some(value) => Some(value),
                None if word == flag => words.get(i + 1).map(String::as_str),
                None => None,
            }
        })
    }
}

/// `SAFEMIG_GRACE_PERIOD` from the service's `environment` (a mapping, or a list of
/// `NAME=value`), and whether it is there but unreadable.
fn from_environment(spec: &Yaml) -> (Option<GracePeriod>, bool) {
    let value = match spec.get("environment") {
        Some(map @ Yaml::Map { .. }) => map.get(GracePeriod::ENV).and_then(Yaml::as_str),
        Some(Yaml::Seq { items, .. }) => items.iter().find_map(|item| {
            item.as_str()?
                .strip_prefix(GracePeriod::ENV)?
                .strip_prefix('=')
        }),
        _ => None,
    };
    let Some(value) = value else {
        return (None, false);
    };
    match crate::text::seconds(value) {
        Ok(duration) => (
            Some(GracePeriod {
                duration,
                source: GraceSource::Environment,
            }),
            false,
        ),
        Err(_) => (None, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(yaml: &str) -> Option<SafemigRun> {
        let doc = super::super::yaml::parse(yaml).unwrap();
        SafemigRun::of(doc.get("app").unwrap())
    }

    #[test]
    fn options_from_the_entrypoint_and_the_command() {
        let run = service(
            "app:\n  entrypoint: [\"/usr/local/bin/safemig\", \"run\", \"--stop-timeout=20\"]\n  command: [\"--grace-period\", \"30\", \"--\", \"node\", \"--stop-timeout\", \"1\"]\n",
        )
        .unwrap();
        assert_eq!(run.line, 2);
        assert_eq!(run.stop_timeout, Some(Duration::from_secs(20)));
        assert_eq!(run.grace.unwrap().duration, Duration::from_secs(30));
        assert_eq!(run.grace.unwrap().source, GraceSource::Flag);
        assert!(run.waits_for_database);
    }

    #[test]
    fn the_grace_period_from_the_environment() {
        let map = service(
            "app:\n  entrypoint: [\"safemig\", \"run\", \"--\"]\n  environment:\n    SAFEMIG_GRACE_PERIOD: \"45\"\n",
        )
        .unwrap();
        assert_eq!(map.grace.unwrap().duration, Duration::from_secs(45));
        assert_eq!(map.grace.unwrap().source, GraceSource::Environment);
        let list = service(
            "app:\n  entrypoint: [\"safemig\", \"run\", \"--\"]\n  environment:\n    - SAFEMIG_GRACE_PERIOD=15\n",
        )
        .unwrap();
        assert_eq!(list.grace.unwrap().duration, Duration::from_secs(15));
        let unknown = service(
            "app:\n  entrypoint: [\"safemig\", \"run\", \"--\"]\n  environment:\n    SAFEMIG_GRACE_PERIOD: ${GRACE}\n",
        )
        .unwrap();
        assert_eq!((unknown.grace, unknown.grace_unknown), (None, true));
    }

    #[test]
    fn no_wait_without_a_database_step_or_with_a_zero_wait() {
        for entrypoint in [
            "[\"safemig\", \"run\", \"--migrate=off\", \"--\"]",
            "[\"safemig\", \"run\", \"--wait-for-database\", \"0\", \"--\"]",
        ] {
            let run = service(&format!("app:\n  entrypoint: {entrypoint}\n")).unwrap();
            assert!(!run.waits_for_database, "{entrypoint}");
        }
        assert_eq!(
            service("app:\n  entrypoint: [\"tini\", \"--\"]\n  command: [\"safemig\", \"run\"]\n"),
            None
        );
        assert!(service("app:\n  command: [\"safemig\", \"run\", \"--\", \"node\"]\n").is_some());
    }
}
