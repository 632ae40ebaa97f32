//! SM105: an app that can start before its database accepts connections.
//!
//! A plain `depends_on: [db]` starts the app once the database's container has started,
//! which on a first `compose up` is seconds before the database accepts connections
//! (its image initialises the volume on a server that listens on no port). Either compose
//! waits (`condition: service_healthy`, with a healthcheck on the database) or the app
//! does (`safemig run` waits by default, `--wait-for-database`).

use super::compose::{DATABASES, Issue, RULE_DEPENDS, image_name};
use super::entrypoint::SafemigRun;
use super::yaml::{Entry, Yaml};

/// The findings for the app `spec` (whose `safemig run`, if any, is `run`) among
/// `services`.
pub(super) fn check(spec: &Yaml, run: Option<&SafemigRun>, services: &[Entry]) -> Vec<Issue> {
    let waits = run.is_some_and(|run| run.waits_for_database);
    let mut issues = Vec::new();
    for (name, line, condition) in dependencies(spec) {
        let Some(database) = services.iter().find(|s| s.key == name) else {
            continue;
        };
        let Some(image) = image_name(&database.value).filter(|i| DATABASES.contains(i)) else {
            continue;
        };
        let healthy = condition.as_deref() == Some("service_healthy");
        if healthy && !has_healthcheck(&database.value) {
            issues.push(Issue {
                rule: RULE_DEPENDS,
                line,
                message: format!(
                    "`depends_on: {name}` waits for {name} to be healthy, but {name} has no healthcheck"
                ),
                why: "the condition can never be met: compose does not start the app (\"container … has no healthcheck configured\")",
                fix: format!("on {name}: {}", healthcheck(image)),
            });
        } else if !healthy && !waits {
            issues.push(Issue {
                rule: RULE_DEPENDS,
                line,
                message: format!(
                    "`depends_on: {name}` without `condition: service_healthy`, and the app does not wait for its database"
                ),
                why: "compose starts the app as soon as the database's container starts; on a first start the database initialises its volume for seconds first, and a migration or app that connects meanwhile fails",
                fix: format!(
                    "depends_on: {{ {name}: {{ condition: service_healthy }} }}, and on {name}: {}; or let `safemig run` wait for it (its default: --wait-for-database 60)",
                    healthcheck(image)
                ),
            });
        }
    }
    issues
}

/// `depends_on` as (service, line, condition): a list of names (condition
/// `service_started`), or a mapping of names to their options.
fn dependencies(spec: &Yaml) -> Vec<(String, usize, Option<String>)> {
    match spec.get("depends_on") {
        Some(Yaml::Seq { items, .. }) => items
            .iter()
            .filter_map(|item| Some((item.as_str()?.to_string(), item.line(), None)))
            .collect(),
        Some(Yaml::Map { entries, .. }) => entries
            .iter()
            .map(|e| {
                let condition = e.value.get("condition").and_then(Yaml::as_str);
                (e.key.clone(), e.line, condition.map(String::from))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A `healthcheck` that is there and not disabled.
fn has_healthcheck(spec: &Yaml) -> bool {
    let Some(check) = spec.get("healthcheck") else {
        return false;
    };
    let disabled = check.get("disable").and_then(Yaml::as_str) == Some("true");
    let none = match check.get("test") {
        Some(Yaml::Seq { items, .. }) => items.first().and_then(Yaml::as_str) == Some("NONE"),
        _ => false,
    };
    !disabled && !none
}

/// A healthcheck that passes once the image's server accepts connections on the network:
/// the official images initialise on a server without one, so it fails until then.
fn healthcheck(image: &str) -> &'static str {
    match image {
        "mariadb" => {
            "healthcheck: { test: [\"CMD\", \"healthcheck.sh\", \"--connect\", \"--innodb_initialized\"], interval: 5s, retries: 20 }"
        }
        "mysql" | "percona-server" => {
            "healthcheck: { test: [\"CMD\", \"mysqladmin\", \"ping\", \"-h\", \"127.0.0.1\"], interval: 5s, retries: 20 }"
        }
        _ => {
            "healthcheck: { test: [\"CMD-SHELL\", \"pg_isready -h 127.0.0.1\"], interval: 5s, retries: 20 }"
        }
    }
}
