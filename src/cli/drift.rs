//! `safemig drift`: [`safemig::drift::compare`] of the database with the migrations
//! folder, another database or a snapshot, printed grouped by object or as JSON.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use safemig::check::{self, CheckOptions, CheckReport};
use safemig::config::environments::{DriftAgainst, Environments};
use safemig::drift::history::Side;
use safemig::drift::{self, Finding, HistoryDifference, Report, Request, Source, Verdict};
use safemig::environment::{self, Prepared, PreparedDrift};
use safemig::interrupt::Interrupt;
use safemig::schema::{Detail, Difference, ObjectKey, ObjectKind};
use safemig::text::escaped;
use safemig::{Error, ExitCode};

use super::output::Printer;
use super::signals::{Policy, StopSignals};
use super::{ProjectArgs, parse_seconds};

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// What to compare the database with: another database's URL (staging against
    /// production) or a file from `safemig snapshot` [default: the migrations folder,
    /// replayed into a scratch database]
    #[arg(long, value_name = "URL|FILE")]
    against: Option<String>,

    /// The server to make the scratch database on; its login needs CREATE DATABASE
    /// [default: the server of --url]
    #[arg(long, value_name = "URL")]
    shadow_url: Option<String>,

    /// Replay the migrations folder even when a cached replay of the same migrations
    /// exists, and write the fresh one over it (the cache is in $SAFEMIG_CACHE_DIR, else
    /// ~/.cache/safemig)
    #[arg(long)]
    no_cache: bool,

    /// Print the report as JSON (format: docs/reference/json.md)
    #[arg(long)]
    json: bool,

    /// Print the DDL that would bring the database to the other side's schema instead of
    /// the report (never run by drift; what it cannot write safely is listed as comments)
    #[arg(long, conflicts_with = "json")]
    sql: bool,

    /// On SIGTERM/SIGINT, seconds the replay's running statement may go on before it is
    /// cancelled; the scratch database is dropped either way
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = parse_seconds)]
    deadline: Duration,

    #[command(flatten)]
    detail: DetailArgs,

    #[command(flatten)]
    pub(super) project: ProjectArgs,
}

/// `--include`: the opt-in attributes, for drift and snapshot.
#[derive(Debug, Clone, Default, Args)]
pub(super) struct DetailArgs {
    /// Also take these into account (comma-separated); they often differ between
    /// environments on purpose: privileges, owners, comments (PostgreSQL), column-order
    /// (every engine)
    #[arg(long, value_name = "WHAT", value_delimiter = ',', value_enum)]
    include: Vec<Include>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Include {
    Privileges,
    Owners,
    Comments,
    ColumnOrder,
}

impl DetailArgs {
    pub(super) fn detail(&self) -> Detail {
        let has = |what| self.include.contains(&what);
        Detail {
            privileges: has(Include::Privileges),
            owners: has(Include::Owners),
            comments: has(Include::Comments),
            column_order: has(Include::ColumnOrder),
        }
    }
}

/// Exit 0 with no drift, 14 with drift.
pub async fn drift(
    mut args: DriftArgs,
    before: ProjectArgs,
    printer: &mut Printer,
    signals: &StopSignals,
) -> Result<ExitCode, Error> {
    let interrupt = Interrupt::new(args.deadline);
    signals.set(Policy::Stop(interrupt.clone()));
    let project = std::mem::take(&mut args.project).or(before);
    printer.set_target(project.target());
    // `--sql` writes one database's DDL: over tenants it needs --tenant naming one.
    if !args.sql
        && let Some(environment) = project.fleet()?
    {
        let base = project.folder_target();
        return tenants(environment, &args).await.map(|report| {
            if args.json {
                printer.json(&safemig::diagnosis::check_json(&report, &base, true));
            } else {
                printer.check(&report, &base, true, false);
            }
            report.exit_code()
        });
    }
    let ctx = project.context()?;
    let (right, configured_shadow, labels) = against(&args, &project, &ctx)?;
    // The folder is the right side, or else only names the migration each difference was
    // last named in: two databases, or a database and a snapshot, compare without one.
    let dir = if matches!(right, Source::Folder) || ctx.project.migrations_dir.exists() {
        Some(super::migrations(&ctx)?)
    } else {
        None
    };
    let shadow = match args.shadow_url.as_deref() {
        Some(raw) => Some(ctx.project.other_url(raw, "--shadow-url")?),
        None => configured_shadow,
    };
    let cache = super::cache(args.no_cache);
    let request = Request {
        left: Source::Database(ctx.url.clone()),
        right,
        folder: dir.as_ref(),
        shadow,
        cache,
        wait: ctx.lock.timeout,
        converge: args.sql,
        detail: args.detail.detail(),
        interrupt,
    };
    let report = drift::compare(&request).await?;
    if let Some(script) = &report.converge {
        let header = format!(
            "Brings {} to the schema of {}",
            report.left.description, report.right.description
        );
        printer.line(drift::render_script(script, &header).trim_end());
    } else if args.json {
        let mut value = serde_json::to_value(&report).expect("reports serialize");
        value["next"] = safemig::diagnosis::of_drift(&report)
            .map(|n| printer.advice(&n))
            .into();
        printer.json(&value);
    } else {
        let mut text = render(&report, &labels);
        if let Some(next) = safemig::diagnosis::of_drift(&report) {
            text += &format!("\nnext: {}", printer.advice(&next));
        }
        printer.line(&text);
    }
    Ok(report.verdict.exit_code())
}

/// Drift of each tenant `environment` selects against `--against` (by default the
/// folder, replayed once and cached), as `check` reports it.
async fn tenants(mut environment: Prepared, args: &DriftArgs) -> Result<CheckReport, Error> {
    let base = std::path::Path::new(".");
    let (against, description) = match &args.against {
        None => (Source::Folder, "the migrations folder".to_string()),
        Some(raw) if raw.contains("://") || raw.starts_with("file:") => {
            let url = safemig::database_url::DatabaseUrl::parse(raw, base, "--against")?;
            let description = url.describe();
            (Source::Database(url), description)
        }
        Some(path) => (
            Source::Snapshot(PathBuf::from(path)),
            format!(
                "the snapshot {}",
                safemig::text::path(std::path::Path::new(path))
            ),
        ),
    };
    let shadow = args
        .shadow_url
        .as_deref()
        .map(|raw| safemig::database_url::DatabaseUrl::parse(raw, base, "--shadow-url"))
        .transpose()?;
    environment.drift = Some(PreparedDrift {
        against,
        shadow,
        description,
        environment: None,
        every: None,
    });
    let options = CheckOptions {
        cache: super::cache(args.no_cache),
        ..CheckOptions::default()
    };
    Ok(CheckReport::new(vec![
        check::run(&environment, &options).await,
    ]))
}

/// How the human report names its two sides.
pub struct Labels {
    pub left: String,
    pub right: String,
}

impl Default for Labels {
    fn default() -> Self {
        Labels {
            left: "database".into(),
            right: "folder".into(),
        }
    }
}

/// What the database is compared with, the server to replay the folder on when the
/// environment configures one, and how the report names the sides: `--against` (a URL,
/// a snapshot file, `folder`, `environment:NAME`, `snapshot:PATH`), else the comparison
/// `--env`'s environment configures, else the folder.
fn against(
    args: &DriftArgs,
    project: &ProjectArgs,
    ctx: &safemig::context::Context,
) -> Result<(Source, Option<safemig::database_url::DatabaseUrl>, Labels), Error> {
    let left = project
        .database
        .env
        .clone()
        .unwrap_or_else(|| "database".into());
    let labels = |right: &str| Labels {
        left: left.clone(),
        right: right.into(),
    };
    let keyword = match args.against.as_deref() {
        Some(text) => DriftAgainst::parse(text, std::path::Path::new("."))
            .map_err(|reason| invalid_against(text, reason))?,
        None => None,
    };
    match (args.against.as_deref(), keyword) {
        (_, Some(against)) => {
            let environments = Environments::require(project.config.environments())?;
            let lookup = |name: &str| std::env::var(name).ok();
            let lookup = environment::with_dotenv(&ctx.project, &lookup);
            let (source, _) =
                environment::against(&environments, "--against", &against, &ctx.project, &lookup)?;
            let right = match &against {
                DriftAgainst::Environment(other) => other.as_str(),
                DriftAgainst::Snapshot(_) => "snapshot",
                DriftAgainst::Folder => "folder",
            };
            Ok((source, None, labels(right)))
        }
        (Some(raw), None) if raw.contains("://") || raw.starts_with("file:") => Ok((
            Source::Database(ctx.project.other_url(raw, "--against")?),
            None,
            labels("other database"),
        )),
        (Some(path), None) => Ok((
            Source::Snapshot(PathBuf::from(path)),
            None,
            labels("snapshot"),
        )),
        (None, None) => match project.environment_drift()? {
            Some(drift) => {
                let right = match &drift.against {
                    Source::Database(_) => drift.description.clone(),
                    Source::Snapshot(_) => "snapshot".into(),
                    Source::Folder => "folder".into(),
                };
                Ok((drift.against, drift.shadow, labels(&right)))
            }
            None => Ok((Source::Folder, None, labels("folder"))),
        },
    }
}

fn invalid_against(text: &str, reason: String) -> Error {
    Error::Config(safemig::error::ConfigError::InvalidUrl {
        origin: format!("--against {}", safemig::text::shell_arg(text)),
        reason,
    })
}

/// The human report: both sides, then each differing object with its attributes, the
/// history, and the verdict.
pub fn render(report: &Report, labels: &Labels) -> String {
    let (left, right) = (labels.left.as_str(), labels.right.as_str());
    let mut out = render_sides(report, left, right);
    out.push_str(&render_differences(report, left, right));
    if let Some(history) = &report.history {
        out.push('\n');
        if history.is_empty() {
            out.push_str("History: the same.\n");
        } else {
            out.push_str("History:\n");
            for difference in history {
                out.push_str(&format!("  {}\n", history_line(difference, left, right)));
            }
        }
    }
    out.push('\n');
    out.push_str(&render_compared(report));
    out.push_str(&render_verdict(report));
    out
}

/// What is compared with what, and the pending migrations left out of the comparison.
fn render_sides(report: &Report, left: &str, right: &str) -> String {
    let cached = match report.right.cached {
        Some(true) => " (replayed earlier, from the cache)",
        Some(false) => " (replayed into a scratch database)",
        None => "",
    };
    let mut out = format!(
        "Comparing {left}: {}\n     with {right}: {}{cached}\n",
        report.left.description, report.right.description
    );
    if !report.pending.is_empty() {
        out.push_str(&format!(
            "  up to the migrations its history applied; {} pending ({}) not compared: deploy applies {}\n",
            safemig::text::count(report.pending.len(), "migration"),
            report
                .pending
                .iter()
                .map(|n| escaped(n).to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if report.pending.len() == 1 { "it" } else { "them" }
        ));
    }
    out
}

/// Each differing object once, then each of its changed attributes with both sides' values.
fn render_differences(report: &Report, left: &str, right: &str) -> String {
    let mut out = String::new();
    let mut previous = None;
    for finding in &report.differences {
        let object = finding.difference.object();
        if part_of_a_whole_table(report, &finding.difference) {
            continue;
        }
        if previous != Some(object) {
            out.push('\n');
            out.push_str(&render_object(report, finding, left, right));
            previous = Some(object);
        }
        if let Difference::Changed {
            attribute,
            left: l,
            right: r,
            ..
        } = &finding.difference
        {
            let width = left.len().max(right.len()) + 1;
            out.push_str(&format!(
                "  {}\n    {:width$} {}\n    {:width$} {}\n",
                escaped(attribute),
                format!("{left}:"),
                value(l.as_deref()),
                format!("{right}:"),
                value(r.as_deref()),
            ));
        }
    }
    out
}

/// How many objects were compared, and how many of them (by kind) by their whole text.
fn render_compared(report: &Report) -> String {
    let mut out = format!("Compared {} objects", report.compared);
    if !report.compared_by_text.is_empty() {
        let mut kinds: std::collections::BTreeMap<ObjectKind, usize> = Default::default();
        for key in &report.compared_by_text {
            *kinds.entry(key.kind).or_default() += 1;
        }
        let kinds: Vec<String> = kinds
            .into_iter()
            .map(|(kind, n)| match (n, kind.as_str()) {
                (1, name) => format!("1 {name}"),
                (n, name) if name.ends_with('x') => format!("{n} {name}es"),
                (n, name) => format!("{n} {name}s"),
            })
            .collect();
        out.push_str(&format!(
            "; {} by their whole definition text ({}; --json names them)",
            report.compared_by_text.len(),
            kinds.join(", ")
        ));
    }
    out.push_str(".\n");
    out
}

/// The verdict's line, counting differences and the objects they are in.
fn render_verdict(report: &Report) -> String {
    let objects = {
        let mut keys: Vec<_> = report
            .differences
            .iter()
            .map(|f| f.difference.object())
            .collect();
        keys.dedup();
        keys.len()
    };
    match report.verdict {
        Verdict::Same if report.history.is_none() => {
            "No drift: the same schema (neither side has a migration history).".to_string()
        }
        Verdict::Same => "No drift: the same schema and history.".to_string(),
        Verdict::SameSchemaDifferentHistory => {
            "Drift: the same schema, but another history.".to_string()
        }
        Verdict::DifferentSchema => format!(
            "Drift: {} difference{} in {objects} object{}{}.",
            report.differences.len(),
            plural(report.differences.len()),
            plural(objects),
            match &report.history {
                Some(h) if !h.is_empty() => ", and another history",
                _ => "",
            }
        ),
    }
}

/// Whether `difference` is a column or constraint of a table that is itself only on one
/// side: the table's line says so, and lists of its columns would bury the rest.
fn part_of_a_whole_table(report: &Report, difference: &Difference) -> bool {
    !matches!(difference, Difference::Changed { .. })
        && report.differences.iter().any(|f| {
            let table = f.difference.object();
            table.kind == ObjectKind::Table
                && same_change(&f.difference, difference)
                && belongs_to(difference.object(), &table.name)
        })
}

/// How many columns and constraints go with a table only on one side.
fn table_parts(report: &Report, table: &Difference) -> usize {
    report
        .differences
        .iter()
        .filter(|f| {
            same_change(&f.difference, table)
                && belongs_to(f.difference.object(), &table.object().name)
        })
        .count()
}

/// A column or constraint of `table`: named `table.name`, or `table` for its primary key.
fn belongs_to(object: &ObjectKey, table: &str) -> bool {
    object.kind != ObjectKind::Table
        && (object.name == table
            || object
                .name
                .strip_prefix(table)
                .is_some_and(|rest| rest.starts_with('.')))
}

fn same_change(a: &Difference, b: &Difference) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// The heading line of an object: its kind and name, where it is, what goes with it, and
/// the migration that last names it.
fn render_object(report: &Report, finding: &Finding, left: &str, right: &str) -> String {
    let object = finding.difference.object();
    let with = if object.kind == ObjectKind::Table {
        let parts = table_parts(report, &finding.difference);
        if parts > 0 {
            format!(
                " with its {parts} column{} and constraint{}",
                plural(parts),
                plural(parts)
            )
        } else {
            String::new()
        }
    } else {
        String::new()
    };
    let presence = match &finding.difference {
        Difference::Missing { .. } => format!(": only in the {right}{with}"),
        Difference::Extra { .. } => format!(": only in the {left}{with}"),
        Difference::Changed { .. } => String::new(),
    };
    let last = finding
        .last_migration
        .as_deref()
        .map(|m| format!(" (last named in migration {})", escaped(m)))
        .unwrap_or_default();
    format!("{object}{presence}{last}\n")
}

fn history_line(difference: &HistoryDifference, left: &str, right: &str) -> String {
    match difference {
        HistoryDifference::OnlyLeft { migration } => {
            format!("{}: applied in the {left} only", escaped(migration))
        }
        HistoryDifference::OnlyRight { migration } => {
            format!("{}: applied in the {right} only", escaped(migration))
        }
        HistoryDifference::Checksum { migration, .. } => format!(
            "{}: applied from different file contents (checksums differ)",
            escaped(migration)
        ),
        HistoryDifference::Order { migration } => format!(
            "{}: applied in another order relative to the others",
            escaped(migration)
        ),
        HistoryDifference::Failed { migration, side } => format!(
            "{}: failed in the {} (P3009)",
            escaped(migration),
            match side {
                Side::Left => left,
                Side::Right => right,
            }
        ),
    }
}

/// An attribute's value on one line (line breaks escaped); long definitions are cut
/// (`--json` has them whole).
fn value(value: Option<&str>) -> String {
    const LONG: usize = 160;
    let Some(value) = value else {
        return "(not set)".into();
    };
    if value.chars().count() > LONG {
        let cut: String = value.chars().take(LONG).collect();
        format!("{}…", escaped(&cut))
    } else {
        escaped(value).to_string()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
