//! `safemig check`: [`safemig::check::run_all`] over the environments of safemig.toml,
//! printed as a table or as JSON.

use std::time::Duration;

use clap::Args;

use comfy_table::{Table, presets};

use safemig::advice::Target;
use safemig::check::{self, CheckOptions, CheckReport, Lock, State, TargetReport};
use safemig::config::Locations;
use safemig::config::environments::Environments;
use safemig::diagnosis;
use safemig::drift::Verdict;
use safemig::environment::{self, Prepared};
use safemig::text::{self, escaped};
use safemig::{Error, ExitCode};

use super::ProjectArgs;
use super::output::{self, Printer};
use super::{ConfigArgs, parse_seconds};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The environment to check; repeat for several [default: every environment]
    #[arg(long = "env", value_name = "NAME", conflicts_with = "all")]
    pub(super) env: Vec<String>,

    /// Only the tenants matching PATTERN (`*` any characters, `?` one; a tenant file also
    /// matches by its file name), in every environment checked
    #[arg(long, value_name = "PATTERN")]
    pub(super) tenant: Option<String>,

    /// Check every environment of safemig.toml (the default without --env)
    #[arg(long, conflicts_with = "url")]
    all: bool,

    /// Print the report as JSON (format: docs/reference/json.md)
    #[arg(long)]
    json: bool,

    /// How many databases are checked at once (tenants on one server share a connection)
    #[arg(long, value_name = "N", default_value = "16", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,

    /// Seconds each database (or each server's batch of tenants) may take to answer before
    /// it is reported unreachable
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,

    /// Call migrations edited after they were applied, gone from the folder or applied out
    /// of order `inconsistent` (exit 7) instead of noting them, in every environment
    #[arg(long)]
    strict: bool,

    /// Skip the drift comparisons safemig.toml configures
    #[arg(long)]
    no_drift: bool,

    /// Replay the migrations folder for drift even when a cached replay exists, and write
    /// the fresh one over it
    #[arg(long)]
    no_cache: bool,

    #[command(flatten)]
    pub(super) project: ProjectFlags,

    #[command(flatten)]
    pub(super) config: ConfigArgs,
}

/// The Prisma project to check when there is no safemig.toml (or instead of it): its
/// database and folder, as every other command takes them.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ProjectFlags {
    /// Check this database (and the project's migrations folder) instead of the
    /// environments of safemig.toml [default without safemig.toml: DATABASE_URL (or the
    /// variable schema.prisma names) from the environment or a .env file]
    #[arg(long, value_name = "URL", conflicts_with = "env")]
    url: Option<String>,

    #[command(flatten)]
    folder: super::FolderArgs,
}

impl ProjectFlags {
    fn given(&self) -> bool {
        self.url.is_some() || self.folder.dir.is_some() || self.folder.schema.is_some()
    }

    /// The project's arguments, as the commands on one database take them.
    fn project_args(&self, config: &ConfigArgs) -> ProjectArgs {
        let mut args = ProjectArgs::default();
        args.database.url = self.url.clone();
        args.folder = self.folder.clone();
        args.config = config.clone();
        args
    }
}

/// What `check` and `serve` look at: the environments `names` of the environments file
/// (all of them when `names` is empty), read and prepared once, with their warnings
/// printed; or, when the project's own flags are given or there is no environments file,
/// the Prisma project in the working directory (as `status` finds it). The second value
/// says which: `true` for environments of the file, whose commands carry `--env`. A
/// Prisma config `--config` names is the project's config either way.
pub(super) fn prepare(
    config: &ConfigArgs,
    names: &[String],
    project: &ProjectFlags,
) -> Result<(Vec<Prepared>, bool), Error> {
    let environments = match (project.given(), names.is_empty(), config.environments()) {
        (true, _, _) => None,
        (false, true, None) => Environments::discover(None)?,
        (false, _, file) => Some(Environments::require(file)?),
    };
    let Some(environments) = environments else {
        let ctx = project.project_args(config).context()?;
        let prepared = environment::from_project(&ctx)?;
        output::not_utf8_warnings(&prepared.dir);
        return Ok((vec![prepared], false));
    };
    let lookup = |name: &str| std::env::var(name).ok();
    let locations = Locations {
        config: config.prisma(),
        ..Locations::default()
    };
    let names: Vec<String> = if names.is_empty() {
        environments.environments.keys().cloned().collect()
    } else {
        names.to_vec()
    };
    let mut prepared = Vec::with_capacity(names.len());
    for name in &names {
        for warning in environments.get(name)?.warnings() {
            output::stderr_line(&format!("warning: {warning}"));
        }
        let environment = environment::prepare(&environments, name, &lookup, &locations)?;
        output::not_utf8_warnings(&environment.dir);
        prepared.push(environment);
    }
    Ok((prepared, true))
}

/// The flags every suggested command carries before each target's own `--env` and
/// `--tenant` ([`diagnosis::check_target_selection`]): `--config FILE` for environments of
/// the file; the project's `--url`, `--dir`, `--schema` and `--config` otherwise.
pub(super) fn base_target(config: &ConfigArgs, project: &ProjectFlags, named: bool) -> Target {
    if named {
        config.target()
    } else {
        project.project_args(config).target()
    }
}

/// Exits with the worst state's code.
pub async fn check(args: CheckArgs, all: bool, printer: &mut Printer) -> Result<ExitCode, Error> {
    let (mut prepared, named) = prepare(&args.config, &args.env, &args.project)?;
    let base = base_target(&args.config, &args.project, named);
    for environment in &mut prepared {
        environment.tenant_filter = args.tenant.clone();
        environment.strictness.strict |= args.strict;
    }
    let options = CheckOptions {
        jobs: args.jobs.into(),
        timeout: args.timeout,
        drift: !args.no_drift,
        cache: super::cache(args.no_cache),
    };
    let report = check::run_all(&prepared, &options).await;
    if args.json {
        printer.json(&diagnosis::check_json(&report, &base, named));
    } else {
        printer.check(&report, &base, named, all);
    }
    Ok(report.exit_code())
}

/// Above this many targets, the table lists only those needing attention and the
/// attention section groups alike targets (`-v` lists everything).
const SUMMARY_ABOVE: usize = 20;

/// The human check report: one line per target (above [`SUMMARY_ABOVE`], only those
/// needing attention), then what needs attention with its `next:` line, then the counts
/// and the worst state with its exit code. `base` is what the person selected the
/// environments with (`--config`); `named`: the environments come from safemig.toml.
pub fn render(report: &CheckReport, base: &Target, named: bool, all: bool) -> String {
    let targets: Vec<&TargetReport> = report
        .environments
        .iter()
        .flat_map(|e| &e.targets)
        .collect();
    let summarise = !all && targets.len() > SUMMARY_ABOVE;
    let attention: Vec<&TargetReport> = targets
        .iter()
        .copied()
        .filter(|t| t.state != State::UpToDate || diagnosis::of_check_target(t).is_some())
        .collect();
    let listed = if summarise { &attention } else { &targets };
    let mut out = String::new();
    if !listed.is_empty() {
        out += &table(listed);
        out.push('\n');
    }
    if summarise {
        out += &format!(
            "({} up to date not listed; -v lists every target.)\n",
            targets.len() - attention.len()
        );
    }
    if !attention.is_empty() {
        out.push('\n');
    }
    for group in groups(&attention, summarise) {
        out += &attention_block(&group, base, named);
    }
    let counts: Vec<String> = State::PRECEDENCE
        .iter()
        .filter_map(|state| {
            report
                .counts
                .get(state.as_str())
                .map(|n| format!("{n} {}", state.as_str().replace('_', " ")))
        })
        .collect();
    out += &format!(
        "\n{} in {}: {}.\n",
        text::count(targets.len(), "target"),
        text::count(report.environments.len(), "environment"),
        counts.join(", ")
    );
    out += &format!(
        "Worst: {} (exit code {}).",
        report.state.as_str().replace('_', " "),
        report.exit_code() as u8
    );
    out
}

fn table(targets: &[&TargetReport]) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header([
        "Environment",
        "Tenant",
        "State",
        "Migrations",
        "Lock",
        "Drift",
    ]);
    for target in targets {
        let migrations: Vec<String> = target
            .counts
            .iter()
            .map(|(state, n)| format!("{n} {}", state.replace('_', " ")))
            .collect();
        table.add_row([
            escaped(&target.environment).to_string(),
            target
                .tenant
                .as_deref()
                .map(|t| escaped(t).to_string())
                .unwrap_or_else(|| "-".into()),
            target.state.as_str().replace('_', " "),
            if migrations.is_empty() {
                "-".into()
            } else {
                migrations.join(", ")
            },
            match &target.lock {
                None => "-".into(),
                Some(Lock::Free) => "free".into(),
                // The holder is named once, in the attention section.
                Some(Lock::Held { busy: true, .. }) => "held, working".into(),
                Some(Lock::Held {
                    waiting: Some(_), ..
                }) => "held, blocked".into(),
                Some(Lock::Held { .. }) => "held".into(),
                Some(Lock::Unknown { .. }) => "unknown".into(),
            },
            match &target.drift {
                None => "-".into(),
                Some(d) => match &d.verdict {
                    Some(Verdict::Same) => "none".into(),
                    Some(Verdict::SameSchemaDifferentHistory) => "other history".into(),
                    Some(Verdict::DifferentSchema) => "different schema".into(),
                    None => "error".into(),
                },
            },
        ]);
    }
    output::render_table(&table)
}

/// Targets that need the same attention, for one block: each alone, or when
/// `summarise`, alike targets of one environment (same state, same details) together.
fn groups<'a>(targets: &[&'a TargetReport], summarise: bool) -> Vec<Vec<&'a TargetReport>> {
    let mut groups: Vec<(String, Vec<&TargetReport>)> = Vec::new();
    for target in targets {
        let key = if summarise {
            format!("{}\n{}", target.environment, details(target).join("\n"))
        } else {
            format!("{}/{:?}", target.environment, target.tenant)
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(target),
            None => groups.push((key, vec![target])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// A block of the attention section: who, the details, and the `next:` line (the first
/// target's: the others take the same command with their own `--tenant`).
fn attention_block(group: &[&TargetReport], base: &Target, named: bool) -> String {
    let target = group[0];
    let state = target.state.as_str().replace('_', " ");
    let mut out = match (&target.tenant, group.len()) {
        (Some(_), n) if n > 1 => {
            let names: Vec<String> = group
                .iter()
                .take(5)
                .filter_map(|t| t.tenant.as_deref().map(|n| escaped(n).to_string()))
                .collect();
            let more = if n > 5 {
                format!(" and {} more", n - 5)
            } else {
                String::new()
            };
            format!(
                "{}: {n} tenants {state} ({}{more})\n",
                escaped(&target.environment),
                names.join(", ")
            )
        }
        (Some(tenant), _) => format!(
            "{}/{}: {state} ({})\n",
            escaped(&target.environment),
            escaped(tenant),
            target.target
        ),
        (None, _) if target.target.is_empty() => {
            format!("{}: {state}\n", escaped(&target.environment))
        }
        (None, _) => format!(
            "{}: {state} ({})\n",
            escaped(&target.environment),
            target.target
        ),
    };
    for line in details(target) {
        out += &format!("  {line}\n");
    }
    if let Some(advice) = diagnosis::of_check_target(target) {
        let selection = diagnosis::check_target_selection(base, target, named);
        out += &format!("  next: {}", advice.render(&selection));
        // A step on one tenant (`--tenant`) is to be repeated for the others listed; one
        // over the whole environment (deploy) already covers them.
        if group.len() > 1 && selection.has_flag("--tenant") {
            out += ", then the same for each tenant listed";
        }
        out.push('\n');
    }
    out
}

/// What is wrong with a target, a line each.
fn details(target: &TargetReport) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(error) = &target.error {
        lines.push(output::for_people(error));
    }
    if let Some(Lock::Held {
        holder,
        busy,
        waiting,
    }) = &target.lock
    {
        let doing = match (busy, waiting) {
            (_, Some(waiting)) => format!(", {}", output::for_people(waiting)),
            (true, None) => ", running a statement".into(),
            (false, None) => String::new(),
        };
        lines.push(format!(
            "migration lock held by {}{doing}",
            output::for_people(holder)
        ));
    }
    for m in &target.migrations {
        let note = m
            .note
            .as_deref()
            .map(|n| format!(": {}", output::for_people(n)))
            .unwrap_or_default();
        lines.push(format!(
            "{} {}{note}",
            escaped(&m.name),
            m.state.as_str().replace('_', " ")
        ));
    }
    if let Some(drift) = &target.drift {
        match (&drift.verdict, &drift.error) {
            (_, Some(error)) => lines.push(format!(
                "drift against {}: {}",
                drift.against,
                output::for_people(error)
            )),
            (Some(verdict), None) if *verdict != Verdict::Same => lines.push(format!(
                "drift against {}: {} differing, {} in the history",
                drift.against,
                text::count(drift.differences, "object"),
                text::count(drift.history_differences.unwrap_or(0), "difference"),
            )),
            _ => {}
        }
    }
    for note in &target.notes {
        lines.push(format!("note: {}", output::for_people(note)));
    }
    lines
}
