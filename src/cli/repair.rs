//! `safemig repair`: [`safemig::repair::assess`] of the failed migration, printed with its
//! evidence, then [`safemig::repair::apply`] with `--apply`.

use std::time::Duration;

use clap::Args;

use safemig::interrupt::Interrupt;
use safemig::repair::{self, Partial, Plan, Recorded, Repaired, Report, Request, Verdict};
use safemig::schema::Difference;
use safemig::text::escaped;
use safemig::{Error, ExitCode};

use super::output::Printer;
use super::signals::{Policy, StopSignals};
use super::{ProjectArgs, parse_seconds};

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The failed migration [default: the only failed one]
    #[arg(value_name = "MIGRATION")]
    migration: Option<String>,

    /// Act on the verdict: `none` marks the row rolled back, `all` records the migration
    /// applied; `ambiguous` and `diverged` write nothing without --assume-applied
    #[arg(long)]
    apply: bool,

    /// With --apply, for `partial k of n`: run statements k+1..n on the database
    /// (crash-safe, as deploy's journaled mode), then record the migration applied
    #[arg(long, requires = "apply", conflicts_with = "roll_back")]
    finish: bool,

    /// With --apply, for `partial k of n`: undo statements 1..k (their inverse, written
    /// from the schema), then mark the row rolled back; refused if it would delete data
    #[arg(long, requires = "apply")]
    roll_back: bool,

    /// With --roll-back: drop tables and columns even when they hold data
    #[arg(long, requires = "roll_back")]
    allow_data_loss: bool,

    /// For `ambiguous` or `diverged`: the statements you checked ran, from the first
    /// (`1,2,3`, `1-3` or `none`); they must be a state the schema allows
    #[arg(long, value_name = "STATEMENTS")]
    assume_applied: Option<String>,

    /// Build the migration's states without the cache: nothing is read from it or
    /// written to it (the cache is in $SAFEMIG_CACHE_DIR, else ~/.cache/safemig)
    #[arg(long)]
    no_cache: bool,

    /// Print the report as JSON
    #[arg(long)]
    json: bool,

    /// On SIGTERM/SIGINT, seconds the scratch database's running statement may go on
    /// before it is cancelled; the scratch database is dropped either way
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = parse_seconds)]
    deadline: Duration,

    #[command(flatten)]
    table_locks: super::deploy::TableLockArgs,

    #[command(flatten)]
    pub(super) project: ProjectArgs,
}

/// Exit 0 when there is nothing to repair or the verdict allows a repair (made with
/// `--apply`), 5 when it does not (`ambiguous`, `diverged`: nothing is written).
pub async fn repair(
    args: RepairArgs,
    before: ProjectArgs,
    printer: &mut Printer,
    signals: &StopSignals,
) -> Result<ExitCode, Error> {
    let interrupt = Interrupt::new(args.deadline);
    signals.set(Policy::Stop(interrupt.clone()));
    let project = args.project.or(before);
    printer.set_target(project.target());
    let mut ctx = project.context()?;
    // A roll-back's statements and the statements `--finish` runs wait for table locks
    // as deploy's do.
    ctx.lock_wait = args.table_locks.lock_wait();
    let dir = super::migrations(&ctx)?;
    let assume_applied = args
        .assume_applied
        .as_deref()
        .map(repair::parse_assumed)
        .transpose()?;
    let request = Request {
        migration: args.migration.as_deref(),
        only_failed: false,
        wait: ctx.lock.timeout,
        interrupt: interrupt.clone(),
        cache: super::cache_dir(args.no_cache),
        assume_applied,
    };
    let Some(report) = repair::assess(&ctx, &dir, &request).await? else {
        if args.json {
            printer.json(&serde_json::json!({
                "format_version": repair::REPORT_FORMAT,
                "migration": null,
            }));
        } else {
            printer.line(
                "Nothing to repair: no migration is failed, and the schema is what the history says of the last applied and the next pending migration.",
            );
        }
        return Ok(ExitCode::Success);
    };
    let repaired = if args.apply {
        let timeout = ctx.lock.timeout;
        let printer = &*printer;
        let partial = if args.finish {
            Partial::Finish
        } else if args.roll_back {
            Partial::RollBack {
                allow_data_loss: args.allow_data_loss,
            }
        } else {
            Partial::Refuse
        };
        repair::apply(&ctx, &dir, &report, partial, &interrupt, &mut |wait| {
            printer.lock_wait(&wait, timeout)
        })
        .await?
    } else {
        None
    };
    // After a repair, what comes next is what status says of the database now.
    let after = match &repaired {
        Some(_) => Some(safemig::status::report(&ctx, &dir, Default::default()).await?),
        None => None,
    };
    let next = match &after {
        Some(status) => safemig::diagnosis::of_status(status),
        None if args.apply => None,
        None => safemig::diagnosis::of_repair(&report),
    };
    if args.json {
        let mut value = serde_json::to_value(&report).expect("reports serialize");
        value["repaired"] = serde_json::to_value(&repaired).expect("reports serialize");
        value["next"] = serde_json::to_value(next.as_ref().map(|n| printer.advice(n)))
            .expect("strings serialize");
        printer.json(&value);
    } else {
        let mut text = render(&report, args.apply, repaired.as_ref(), &ctx.url.describe());
        if let Some(status) = &after {
            text += &format!("{}\n", super::output::verdict_line(status));
        }
        if let Some(next) = &next {
            text += &format!("next: {}\n", printer.advice(next));
        }
        printer.line(text.trim_end());
    }
    Ok(if report.plan != Plan::Nothing {
        ExitCode::Success
    } else {
        ExitCode::FailedInHistory
    })
}

/// The human report: the row, the statements, the verdict with its evidence, and what
/// `--apply` does or did.
pub fn render(
    report: &Report,
    applied: bool,
    repaired: Option<&Repaired>,
    database: &str,
) -> String {
    let started = report
        .started_at
        .map(|t| format!(" (started {})", t.format("%Y-%m-%d %H:%M:%S UTC")))
        .unwrap_or_default();
    let mut out = format!(
        "{} {}{started}\n",
        match report.recorded {
            Recorded::Failed => "Failed migration",
            Recorded::Applied => "Migration recorded applied:",
            Recorded::NotApplied => "Migration recorded not applied:",
        },
        escaped(&report.migration),
    );
    if let Some(failure) = &report.failure {
        out += &format!("  error: {}\n", escaped(failure));
    }
    if !report.checksum_matches {
        out += "  its migration.sql changed since it ran (checksums differ): the evidence is about today's file\n";
    }
    out += &format!("Statements ({}):\n", report.total());
    for s in &report.statements {
        out += &format!(
            "  {:>3}  line {:<5} {:<19} {}\n",
            s.number,
            s.line,
            s.kind,
            escaped(&s.first_line)
        );
    }
    out += &format!("Verdict: {}\n", report.verdict_text());
    out += &evidence(report);
    for index in &report.invalid_indexes {
        out += &format!(
            "  index `{}` is INVALID (a CREATE INDEX CONCURRENTLY that did not finish): the verdict is about the schema without it, and --apply drops it so that it is built again\n",
            escaped(&index.name)
        );
    }
    if let Some(k) = report.assumed_applied {
        out += &format!("Assumed (--assume-applied): statements 1..{k} ran, as you checked\n");
    }
    out += &match (repaired, applied, &report.plan) {
        (Some(done), _, _) => format!("Applied to {database}: {}\n", done.log),
        (None, _, Plan::Agrees) => {
            "The schema is what the history says: nothing to repair.\n".to_string()
        }
        (None, true, _) => "Applied: nothing was written\n".to_string(),
        (None, false, _) => String::new(),
    };
    out
}

fn evidence(report: &Report) -> String {
    let statement = |n: usize| {
        report
            .statements
            .get(n - 1)
            .map(|s| {
                format!(
                    "statement {n} (line {}): {}",
                    s.line,
                    escaped(&s.first_line)
                )
            })
            .unwrap_or_else(|| format!("statement {n}"))
    };
    let total = report.total();
    match &report.verdict {
        Verdict::None => {
            "  the live schema is the state before the migration's first statement\n".into()
        }
        Verdict::All => format!("  the live schema is the state after all {total} statements\n"),
        Verdict::Partial { applied } => format!(
            "  the live schema is the state after statement {applied} and no other; the last applied is {}\n",
            statement(*applied)
        ),
        Verdict::Ambiguous { candidates, unseen } => {
            let states: Vec<String> = candidates.iter().map(|k| k.to_string()).collect();
            let mut out = format!(
                "  the live schema matches the states after statements {}: the schema cannot show whether these ran:\n",
                states.join(", ")
            );
            for n in unseen {
                out += &format!("    {}\n", statement(*n));
            }
            out
        }
        Verdict::Diverged {
            nearest,
            differences,
        } => {
            let mut out = format!(
                "  no state matches; the nearest is the state after {nearest} statement{} ({} difference{}):\n",
                if *nearest == 1 { "" } else { "s" },
                differences.len(),
                if differences.len() == 1 { "" } else { "s" }
            );
            for d in differences {
                out += &format!("    {}\n", difference(d));
            }
            out
        }
    }
}

fn difference(d: &Difference) -> String {
    match d {
        Difference::Missing { object } => format!("{object}: missing in the live database"),
        Difference::Extra { object } => format!("{object}: only in the live database"),
        Difference::Changed {
            object,
            attribute,
            left,
            right,
        } => format!(
            "{object} {attribute}: live {}, expected {}",
            escaped(left.as_deref().unwrap_or("(not set)")),
            escaped(right.as_deref().unwrap_or("(not set)"))
        ),
    }
}
