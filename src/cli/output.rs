//! Everything the command line prints. Results go to stdout, errors and waits to stderr.
//!
//! Every line passes through the credential filter ([`safemig::redact`]) and has control
//! sequences escaped. Nothing here can fail or panic: a closed pipe (`safemig -vv deploy
//! 2>&1 >/dev/null | head -2`) only means nobody reads the rest, and must not stop or hang
//! a deploy that holds the migration lock.

use std::io::Write;
use std::time::Duration;

use comfy_table::{Table, presets};

use safemig::Error;
use safemig::advice::{Advice, Target};
use safemig::check::CheckReport;
use safemig::deploy::{DryRun, Mode, Outcome};
use safemig::drill::{Attempt, Phase, Report as DrillReport};
use safemig::fleet::{Event as FleetEvent, FleetReport, Outcome as FleetOutcome, Stopped};
use safemig::lint::compose::Finding;
use safemig::lock::Wait;
use safemig::migrations::MigrationsDir;
use safemig::resolve::Resolved;
use safemig::sql::Statement;
use safemig::status::{HistoryTable, MigrationStatus, StatusReport, Verdict};
use safemig::supervisor::{Event, MigrationStep};
use safemig::text::{self, escaped};

pub struct Printer {
    out: Box<dyn Write>,
    /// The database as the person selected it: every command a `next:` line suggests is
    /// rendered on it.
    target: Target,
    /// Whether deploy's first line was printed: `run --on-failed=repair` deploys twice
    /// around a repair, and the folder and database are the same both times.
    header_printed: bool,
}

impl Printer {
    pub fn stdout() -> Self {
        Printer {
            out: Box::new(std::io::stdout()),
            target: Target::default(),
            header_printed: false,
        }
    }

    /// Sets the target the commands of `next:` lines carry, once the command knows it.
    pub fn set_target(&mut self, target: Target) {
        self.target = target;
    }

    /// Advice as printed on this printer's target.
    pub fn advice(&self, advice: &Advice) -> String {
        advice.render(&self.target)
    }

    /// How deploy settled a schema further on than an interrupted migration's journal.
    pub fn ahead(&mut self, ahead: &safemig::repair::Ahead) {
        use safemig::repair::Ahead;
        let text = match ahead {
            Ahead::Repaired {
                migration,
                verdict,
                log,
            } => format!(
                "The schema shows where `{}` stands (verdict {verdict}): {log}; deploying again.",
                safemig::text::escaped(migration)
            ),
            Ahead::RecordedApplied { names } => format!(
                "The schema is the whole folder's: recorded {} applied ({}); deploying again.",
                safemig::text::count(names.len(), "migration"),
                names
                    .iter()
                    .map(|n| format!("`{}`", safemig::text::escaped(n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.line(&text);
    }

    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{}", for_people(text));
    }

    /// JSON, with credentials masked inside its strings (masking the text could break it).
    pub fn json(&mut self, value: &impl serde::Serialize) {
        let mut value = serde_json::to_value(value).expect("reports serialize to JSON");
        redact_strings(&mut value);
        let text = serde_json::to_string_pretty(&value).expect("JSON values serialize");
        let _ = writeln!(self.out, "{text}");
    }

    /// One JSON value on a line of its own (event streams), credentials masked.
    pub fn json_line(&mut self, mut value: serde_json::Value) {
        redact_strings(&mut value);
        let _ = writeln!(self.out, "{value}");
    }

    pub fn error(&mut self, error: &Error) {
        let code = error
            .prisma_code()
            .map(|c| format!("[{c}]"))
            .unwrap_or_default();
        let mut text = format!("error{code}: {error}");
        if let Some(hint) = super::hints::hint(error) {
            text.push_str(&format!("\n  next: {}", self.advice(&hint)));
        }
        let _ = self.out.flush();
        stderr_line(&text);
    }

    pub fn lock_wait(&self, wait: &Wait<'_>, timeout: Duration) {
        stderr_line(&match wait {
            Wait::Busy { holder } => format!(
                "Waiting up to {}s for the migration lock{}, and longer while the holder makes progress…",
                timeout.as_secs_f32(),
                holder.map(|h| format!(", held by {h}")).unwrap_or_default()
            ),
            Wait::HolderWorking { holder, waited } => format!(
                "Still waiting for the migration lock after {:.0}s: {holder} is working.",
                waited.as_secs_f32()
            ),
        });
    }

    /// A lock-wait retry, on stderr: which migration (and statement) gave up waiting,
    /// what it waited for, and when it runs again.
    pub fn resuming(&mut self, name: &str, done: usize, total: usize) {
        self.line(&format!(
            "Resuming {}: {done} of {} were done before it was interrupted",
            escaped(name),
            text::count(total, "statement")
        ));
    }

    pub fn applied(&mut self, name: &str, mode: Mode, elapsed: Duration) {
        self.line(&format!(
            "Applied {} ({}, {} ms)",
            escaped(name),
            mode.as_str(),
            elapsed.as_millis()
        ));
    }

    pub fn deploy_summary(&mut self, outcome: &Outcome) {
        let text = match outcome.applied.len() {
            0 => format!(
                "No pending migrations; {} already applied.",
                outcome.already_applied
            ),
            n => format!(
                "{} applied; {} already applied.",
                text::count(n, "migration"),
                outcome.already_applied
            ),
        };
        self.line(&text);
    }

    /// A fleet deploy's progress: the plan, then each tenant as it finishes (current
    /// tenants only in the summary).
    pub fn fleet_event(&mut self, environment: &str, event: &FleetEvent<'_>, timeout: Duration) {
        match event {
            FleetEvent::WaitingForLock(wait) => self.lock_wait(wait, timeout),
            FleetEvent::Tenant { tenant, event } => super::deploy::tenant_event(tenant, event),
            FleetEvent::Planned {
                tenants,
                current,
                to_deploy,
                canaries,
            } => {
                let canaries = match canaries {
                    0 => String::new(),
                    n => format!("; {} first", text::count(*n, "canary")),
                };
                self.line(&format!(
                    "Environment `{}`: {}, {current} current, {to_deploy} to deploy{canaries}.",
                    escaped(environment),
                    text::count(*tenants, "tenant"),
                ))
            }
            FleetEvent::Finished(tenant) => {
                let canary = if tenant.canary { " (canary)" } else { "" };
                let what = match tenant.outcome {
                    FleetOutcome::Applied => format!(
                        "applied {} in {:.2}s",
                        text::count(tenant.applied.len(), "migration"),
                        tenant.elapsed_ms as f64 / 1000.0
                    ),
                    FleetOutcome::Current => return,
                    FleetOutcome::Failed => format!(
                        "FAILED (exit {}): {}",
                        tenant.exit_code,
                        first_line(tenant.error.as_deref().unwrap_or_default())
                    ),
                    FleetOutcome::Interrupted => "stopped at a safe point".into(),
                    FleetOutcome::NotReached => return,
                };
                self.line(&format!("  {}{canary}: {what}", escaped(&tenant.tenant)));
            }
        }
    }

    /// A fleet deploy's summary: the counts, why it stopped, each failure in full, and
    /// what to run next.
    pub fn fleet_summary(&mut self, report: &FleetReport, base: &Target) {
        let n = |outcome| report.count(outcome);
        self.line(&format!(
            "{} applied, {} current, {} failed, {} interrupted, {} not reached, in {:.1}s.",
            text::count(n(FleetOutcome::Applied), "tenant"),
            n(FleetOutcome::Current),
            n(FleetOutcome::Failed),
            n(FleetOutcome::Interrupted),
            n(FleetOutcome::NotReached),
            report.elapsed_ms as f64 / 1000.0
        ));
        if let Some(stopped) = report.stopped {
            self.line(&format!(
                "Stopped early: {}.",
                match stopped {
                    Stopped::Canary => "a canary failed, so no other tenant was started",
                    Stopped::Failure =>
                        "a tenant failed and --on-error is stop, so no other tenant was started",
                    Stopped::Signal =>
                        "a stop signal came; running tenants stopped at a safe point",
                    Stopped::LockLost =>
                        "the migration lock was lost (its holder's session ended), so no other tenant was started",
                }
            ));
        }
        let failed: Vec<_> = report
            .tenants
            .iter()
            .filter(|t| t.outcome == FleetOutcome::Failed)
            .collect();
        if !failed.is_empty() {
            self.line("Failed:");
            for tenant in &failed {
                self.line(&format!(
                    "  {} ({}, exit {}): {}",
                    escaped(&tenant.tenant),
                    tenant.target,
                    tenant.exit_code,
                    tenant.error.as_deref().unwrap_or_default()
                ));
            }
        }
        if report.code != safemig::ExitCode::Success {
            let fleet = base.clone().env(&report.environment);
            let again = Advice::text(", then run ")
                .run(&["deploy"])
                .then(" again: current tenants are skipped and interrupted ones resume");
            let next = match failed.first() {
                Some(tenant) => {
                    Advice::text("see what to do about the failure with ")
                        .run(&["status"])
                        .render(&fleet.clone().tenant(&tenant.tenant))
                        + &again.render(&fleet)
                }
                None => Advice::text("run ")
                    .run(&["deploy"])
                    .then(" again: current tenants are skipped and interrupted ones resume")
                    .render(&fleet),
            };
            stderr_line(&format!("next: {next}"));
        }
    }

    /// The line deploy starts with, once connected.
    pub fn deploy_header(&mut self, dir: &MigrationsDir, target: &str) {
        if std::mem::replace(&mut self.header_printed, true) {
            return;
        }
        self.line(&format!(
            "{} in {}; database: {target}",
            text::count(dir.migrations.len(), "migration"),
            text::path(&dir.path),
        ));
    }

    pub fn dry_run(&mut self, dry_run: &DryRun<'_>) {
        let (target, plan, provider) = match dry_run {
            DryRun::NoDatabase { target, migrations } => {
                self.line(&format!(
                    "{target} does not exist yet: deploy would create it and apply {}.",
                    text::count(*migrations, "migration")
                ));
                return;
            }
            DryRun::Plan {
                target,
                plan,
                provider,
            } => (target, plan, *provider),
        };
        self.line(&format!("Database: {target}"));
        if !plan.history_exists {
            self.line("Deploy would create the _prisma_migrations table.");
        }
        if plan.steps.is_empty() {
            self.line(&format!(
                "No pending migrations; {} already applied.",
                plan.applied
            ));
            return;
        }
        self.line(&format!(
            "Deploy would apply {} ({} already applied):",
            text::count(plan.steps.len(), "migration"),
            plan.applied
        ));
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        table.set_header(["Migration", "Mode", "Statements", "Why this mode"]);
        for step in &plan.steps {
            table.add_row([
                escaped(&step.migration.name).to_string(),
                step.mode.as_str().to_string(),
                step.profile.statements.to_string(),
                step.reason(provider),
            ]);
        }
        self.line(&render_table(&table));
    }

    pub fn status(&mut self, report: &StatusReport) {
        self.line(&render_status(report, &self.target));
    }

    /// A check report; `named`: its environments come from safemig.toml (their
    /// commands carry `--env`); `all`: every target, however many.
    pub fn check(&mut self, report: &CheckReport, base: &Target, named: bool, all: bool) {
        let text = super::check::render(report, base, named, all);
        self.line(&text);
    }

    pub fn split(&mut self, statements: &[Statement<'_>]) {
        for (i, statement) in statements.iter().enumerate() {
            self.line(&format!(
                "-- statement {} of {}, line {}, {}",
                i + 1,
                statements.len(),
                statement.line,
                statement.kind.as_str()
            ));
            self.line(&format!("{}\n", statement.sql));
        }
        self.line(&format!("{}.", text::count(statements.len(), "statement")));
    }

    pub fn split_json(&mut self, statements: &[Statement<'_>]) {
        let items: Vec<serde_json::Value> = statements
            .iter()
            .map(|s| {
                serde_json::json!({
                    "line": s.line,
                    "kind": s.kind,
                    "sql": s.sql,
                    "start": s.span.start,
                    "end": s.span.end,
                })
            })
            .collect();
        self.json(&items);
    }

    pub fn drill_attempt(&mut self, attempt: &Attempt, grace: Duration) {
        let ready = attempt
            .ready_seconds
            .map(|s| format!("ready after {s:.1}s"));
        let stop = attempt
            .stop_seconds
            .map(|s| format!("stopped in {s:.2}s of {}s", grace.as_secs_f32()));
        let (name, parts) = match attempt.phase {
            Phase::Restart => (
                format!("restart {}", attempt.restart),
                vec![ready.or(Some("never ready".into())), stop],
            ),
            Phase::DuringMigration => (
                "stop during the migration".into(),
                vec![
                    stop.map(|s| match attempt.exit_code {
                        Some(code) => format!("{s} (exit {code})"),
                        None => s,
                    }),
                    attempt
                        .migration
                        .as_ref()
                        .map(|m| format!("the migration {m}")),
                ],
            ),
            Phase::AfterMigrationStop => (
                "next start".into(),
                vec![
                    attempt
                        .migration
                        .as_ref()
                        .map(|m| format!("the migration {m}")),
                    ready.or(Some("never ready".into())),
                    stop,
                ],
            ),
        };
        let parts: Vec<String> = parts.into_iter().flatten().collect();
        let verdict = match &attempt.problem {
            None => "PASS".to_string(),
            Some(problem) => format!("FAIL: {problem}"),
        };
        self.line(&format!("{name}: {} — {verdict}", parts.join(", ")));
    }

    pub fn drill_summary(&mut self, report: &DrillReport) {
        let failed = report.attempts.iter().filter(|a| !a.passed).count();
        let during_migration = report
            .attempts
            .iter()
            .any(|a| a.phase == Phase::DuringMigration);
        let migration = if during_migration {
            format!(
                ", a running migration statement cancelled after {}s; the next start resumed the migration",
                report.budget.migration_deadline().as_secs_f64()
            )
        } else {
            String::new()
        };
        if report.passed {
            self.line(&format!(
                "PASS: all {} stops finished cleanly inside the {}s grace period (stop timeout {}s{migration}).",
                report.attempts.len(),
                report.budget.grace().duration.as_secs_f64(),
                report.budget.stop_timeout().as_secs_f64()
            ));
        } else {
            self.line(&format!(
                "FAIL: {failed} of {} stops were not clean; see above.",
                report.attempts.len()
            ));
        }
    }

    pub fn lint(&mut self, findings: &[Finding], files: usize) {
        for f in findings {
            self.line(&format!(
                "{}:{}: {} [{}] {}\n  why: {}\n  fix: {}",
                f.file, f.line, f.rule, f.service, f.message, f.why, f.fix
            ));
        }
        self.line(&format!(
            "{} in {}.",
            text::count(findings.len(), "finding"),
            text::count(files, "file")
        ));
    }

    /// What resolve wrote, and where: a command that writes names the database.
    pub fn resolved(&mut self, name: &str, resolved: &Resolved, database: &str) {
        let rolled = match resolved.rolled_back_rows {
            0 => String::new(),
            n => format!(" ({} marked rolled back)", text::count(n, "failed attempt")),
        };
        if resolved.recorded_applied {
            self.line(&format!(
                "Recorded {name} as applied{rolled} in {database}."
            ));
        } else {
            self.line(&format!(
                "Marked {name} rolled back{rolled} in {database}; the next deploy applies it again."
            ));
        }
    }
}

/// Text as it may reach a terminal or a log: credentials masked, control sequences
/// escaped.
pub fn for_people(text: &str) -> String {
    let text = safemig::redact::redact(text);
    safemig::text::without_control_sequences(&text).into_owned()
}

/// A line on stderr; a closed stderr is ignored (`eprintln!` would panic).
pub fn stderr_line(text: &str) {
    write_stderr_line(for_people(text));
}

/// Writes `line` and its newline to stderr in one `write`. Stderr is unbuffered, so
/// `writeln!` would issue a write per formatted piece (about 40 for a JSON event), and
/// under `run` the app writes to the same pipe: its lines would land inside ours. One
/// write of at most `PIPE_BUF` (4 KiB) bytes to a pipe is never interleaved.
fn write_stderr_line(mut line: String) {
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The warning for each script of `dir` that is not valid UTF-8, on stderr.
pub fn not_utf8_warnings(dir: &MigrationsDir) {
    for file in &dir.not_utf8 {
        stderr_line(&format!(
            "warning: {} is not valid UTF-8 (first invalid byte at offset {}): it is read with U+FFFD in place of invalid bytes, as Prisma reads it, and checksummed so",
            text::path(&file.path),
            file.offset
        ));
    }
}

/// A JSON line on stderr, credentials masked inside its strings.
pub fn stderr_json_line(mut value: serde_json::Value) {
    redact_strings(&mut value);
    write_stderr_line(value.to_string());
}

fn redact_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => *s = safemig::redact::redact(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_strings),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_strings),
        _ => {}
    }
}

/// The table without the padding comfy-table leaves at line ends.
pub(super) fn render_table(table: &Table) -> String {
    table
        .lines()
        .map(|line| line.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A supervisor event as a line of `run`'s text timeline.
pub fn describe(event: &Event) -> String {
    match event {
        Event::StopBudget {
            budget,
            migration_deadline_seconds,
        } => {
            let grace = budget.grace();
            let migration = migration_deadline_seconds
                .map(|s| format!(", a running migration statement is cancelled after {s}s"))
                .unwrap_or_default();
            format!(
                "stop budget: grace period {}s ({}); the app is SIGKILLed {}s after a stop signal{migration}",
                grace.duration.as_secs_f64(),
                grace.source,
                budget.stop_timeout().as_secs_f64()
            )
        }
        Event::DatabaseUnavailable {
            attempt,
            error,
            retry_in_seconds,
            waited_seconds,
            ..
        } => match retry_in_seconds {
            Some(retry) => format!(
                "waiting for the database (attempt {attempt}): {error}; next attempt in {retry:.1}s"
            ),
            None => format!(
                "gave up waiting for the database after {waited_seconds:.1}s and {attempt} attempts: {error}"
            ),
        },
        Event::DatabaseAvailable {
            database,
            attempts,
            waited_seconds,
        } => format!(
            "{database} accepts connections, after {waited_seconds:.1}s and {attempts} attempts"
        ),
        Event::Migrating { action, database } => match action {
            MigrationStep::Check => format!("checking the migrations of {database}"),
            MigrationStep::Deploy => format!("deploying pending migrations to {database}"),
        },
        Event::MigrationsVerified { detail } => format!("migrations verified: {detail}"),
        Event::MigrationRepaired {
            migration,
            decision,
        } => format!(
            "repaired failed migration {}: {}",
            safemig::text::escaped(migration),
            decision
        ),
        Event::MigrationsNotVerified { error } => {
            format!("WARNING migrations not verified, starting anyway (--on-failed=warn): {error}")
        }
        Event::Started { pid, command } => format!("started pid {pid}: {command}"),
        Event::SignalReceived { signal } => format!("received {signal}"),
        Event::Draining { seconds } => {
            format!("draining for {seconds:.1}s before passing the signal on")
        }
        Event::Forwarded { signal, to } => format!("forwarded {signal} to {to}"),
        Event::Waiting {
            main_child_running,
            elapsed_seconds,
            seconds_left,
        } => format!(
            "waiting for {} to exit ({elapsed_seconds:.1}s since the stop signal, SIGKILL in {seconds_left:.1}s)",
            if *main_child_running {
                "the app"
            } else {
                "the rest of its process group"
            }
        ),
        Event::ChildExited {
            code,
            signal,
            ran_seconds,
            after_stop_seconds,
        } => {
            let how = match signal {
                Some(signal) => format!("killed by {signal} (exit code {code})"),
                None => format!("exited with code {code}"),
            };
            match after_stop_seconds {
                Some(after) => format!("app {how}, {after:.3}s after the stop signal"),
                None => format!("app {how} after running {ran_seconds:.3}s"),
            }
        }
        Event::Escalated {
            process_group,
            after_seconds,
        } => format!(
            "deadline reached after {after_seconds:.3}s: sent SIGKILL to process group {process_group}"
        ),
        Event::OrphanReaped { pid } => format!("reaped orphaned process {pid}"),
        Event::Exiting { code, .. } => format!("exiting with code {code}"),
    }
}

/// The human status report.
pub fn render_status(report: &StatusReport, target: &Target) -> String {
    let mut out = format!(
        "Database: {}\nMigrations: {}\n",
        report.target,
        escaped(&report.migrations_dir)
    );
    match report.history_table {
        HistoryTable::NoDatabase => out.push_str("The database does not exist yet.\n"),
        HistoryTable::Missing => out.push_str("No _prisma_migrations table yet.\n"),
        HistoryTable::MissingInNonEmptyDatabase => out.push_str(
            "The database has tables but no _prisma_migrations table: deploy would refuse (P3005).\n",
        ),
        HistoryTable::Present => {}
    }
    if !report.migrations.is_empty() {
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        table.set_header(["Migration", "State", "Applied at (UTC)", "Note"]);
        for m in &report.migrations {
            table.add_row([
                escaped(&m.name).to_string(),
                m.state.as_str().replace('_', " "),
                applied_at(m),
                m.note.as_deref().map(for_people).unwrap_or_default(),
            ]);
        }
        out.push('\n');
        out.push_str(&render_table(&table));
        out.push_str("\n\n");
    }
    for note in &report.notes {
        out.push_str(&format!("Note: {note}.\n"));
    }
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(state, n)| format!("{n} {}", state.replace('_', " ")))
        .collect();
    if !counts.is_empty() {
        out.push_str(&format!("{}.\n", counts.join(", ")));
    }
    out.push_str(verdict_line(report));
    if let Some(next) = safemig::diagnosis::of_status(report) {
        out.push_str(&format!("\nnext: {}", next.render(target)));
    }
    out
}

/// The sentence that sums up a status report.
pub fn verdict_line(report: &StatusReport) -> &'static str {
    match report.verdict {
        Verdict::UpToDate => "Database is up to date.",
        Verdict::Pending => "Pending migrations.",
        Verdict::Failed => "A failed migration blocks deploy (P3009).",
        Verdict::Inconsistent => "The history disagrees with the migrations folder.",
        Verdict::HandedToPrismaNext => "Prisma 8 migrates this database now.",
        Verdict::BaselineNeeded => "Baseline needed (P3005).",
    }
}

fn applied_at(m: &MigrationStatus) -> String {
    m.finished_at
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The first line of a message, for a one-line progress report.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use safemig::database_url::DatabaseUrl;
    use safemig::status::State;
    use std::collections::BTreeMap;

    fn migration(name: &str, state: State, note: Option<&str>) -> MigrationStatus {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let finished = matches!(state, State::Applied | State::Modified | State::Missing);
        MigrationStatus {
            name: name.into(),
            state,
            in_folder: state != State::Missing,
            local_checksum: None,
            database_checksum: None,
            started_at: Some(at),
            finished_at: finished.then_some(at),
            rolled_back_at: None,
            applied_steps_count: Some(finished as u32),
            logs: None,
            progress: None,
            note: note.map(String::from),
            out_of_order: false,
        }
    }

    #[test]
    fn human_status_report() {
        let migrations = vec![
            migration("20240101000000_init", State::Applied, None),
            migration(
                "20240201000000_posts",
                State::Modified,
                Some("migration.sql changed after the migration was applied"),
            ),
            migration(
                "20240301000000_tags",
                State::Failed,
                Some("started but never finished"),
            ),
            migration("20240401000000_gone", State::Missing, None),
            migration("20240501000000_next", State::Pending, None),
        ];
        let report = StatusReport {
            format_version: 1,
            database: "postgresql://app:****@db:5432/app?schema=public".into(),
            target: "PostgreSQL database `app` (schema `public`) at db:5432".into(),
            provider: DatabaseUrl::parse(
                "postgresql://app@db:5432/app",
                std::path::Path::new("."),
                "--url",
            )
            .unwrap()
            .provider(),
            migrations_dir: "prisma/migrations".into(),
            history_table: HistoryTable::Present,
            verdict: Verdict::Failed,
            counts: {
                let mut c = BTreeMap::new();
                for m in &migrations {
                    *c.entry(m.state.as_str()).or_insert(0) += 1;
                }
                c
            },
            migrations,
            notes: Vec::new(),
            invalid_indexes: Vec::new(),
        };
        insta::assert_snapshot!(render_status(&report, &Target::default().env("staging")));
    }
}
