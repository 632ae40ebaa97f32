//! `safemig run` with real child processes: signal forwarding, exit codes, reaping, the stop
//! deadline, and the pre-start migrations against real databases.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::deploy::{FAILING_MIDWAY, INIT};
use crate::harness::{
    Kind, PASSWORD, Project, Run, Server, TestDb, postgres, private_mariadb, private_postgres,
    safemig_command, test_engine, to_run,
};

/// `safemig run --migrate=off --log-format=json [extra] -- sh -c SCRIPT`, started.
fn spawn(dir: &Path, extra: &[&str], script: &str) -> Child {
    let mut args = vec!["run", "--migrate=off", "--log-format=json"];
    args.extend(extra);
    args.extend(["--", "sh", "-c", script]);
    safemig_command(dir, &args)
        .env("OUT", dir.join("out"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the child script wrote `ready` to $OUT.
fn wait_ready(dir: &Path) {
    wait_ready_n(dir, 1)
}

/// Waits until `n` processes wrote `ready` to $OUT (each after setting its traps).
fn wait_ready_n(dir: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let count = || {
        std::fs::read_to_string(dir.join("out"))
            .unwrap_or_default()
            .matches("ready")
            .count()
    };
    while count() < n {
        assert!(Instant::now() < deadline, "the child never became ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A started safemig whose output is read as it comes, to act on what it says.
struct Watched {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Watched {
    fn start(cmd: &mut std::process::Command) -> Watched {
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Watched::new(child)
    }

    /// A child started with its stdout and stderr piped.
    fn new(mut child: Child) -> Watched {
        let read = |mut pipe: Box<dyn Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let into = text.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buffer) {
                    into.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            });
            text
        };
        let stdout = read(Box::new(child.stdout.take().unwrap()));
        let stderr = read(Box::new(child.stderr.take().unwrap()));
        Watched {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits until stderr holds the timeline event `name`.
    fn wait_for_event(&mut self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let pattern = format!("\"event\":\"{name}\"");
        while !self.stderr.lock().unwrap().contains(&pattern) {
            let exited = self.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "no {name} event ({exited:?}):\n{}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the exit, at most `limit`: one still running then is SIGKILLed, with the
    /// app's process group, and fails the test.
    fn finish(mut self, limit: Duration) -> Run {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                self.kill_all();
                panic!(
                    "still running after {limit:?}:\n{}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The pipes close with the process (the app here leaves nothing behind).
        std::thread::sleep(Duration::from_millis(100));
        to_run(std::process::Output {
            status,
            stdout: self.stdout.lock().unwrap().clone().into_bytes(),
            stderr: self.stderr.lock().unwrap().clone().into_bytes(),
        })
    }

    /// SIGKILL to safemig and to its children's process groups (the app leads one of its
    /// own, which would outlive safemig).
    fn kill_all(&mut self) {
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let _ = self.child.kill();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            let _ = nix::sys::signal::killpg(Pid::from_raw(child), Signal::SIGKILL);
        }
    }
}

/// `safemig run --log-format=json --url URL --dir … -- sh -c APP` in `project`, watched.
fn start_run(project: &Project, url: &str, app: &str) -> Watched {
    let dir = project.migrations();
    Watched::start(&mut safemig_command(
        project.dir.path(),
        &[
            "run",
            "--log-format=json",
            "--url",
            url,
            "--dir",
            dir.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            app,
        ],
    ))
}

fn signal(child: &Child, sig: Signal) {
    kill(Pid::from_raw(child.id() as i32), sig).unwrap();
}

/// The JSON timeline events of a run, by name.
fn events(run: &Run) -> Vec<serde_json::Value> {
    run.stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

fn has_event(run: &Run, name: &str) -> bool {
    events(run).iter().any(|e| e["event"] == name)
}

const RECORDER: &str = r#"
for s in HUP USR1 USR2; do trap "echo $s >> \"$OUT\"" $s; done
for s in TERM INT QUIT; do trap "echo $s >> \"$OUT\"; exit 0" $s; done
echo ready >> "$OUT"
while :; do sleep 0.05; done
"#;

#[test]
fn every_signal_is_forwarded() {
    for stop in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGQUIT] {
        let tmp = tempfile::tempdir().unwrap();
        let child = spawn(tmp.path(), &[], RECORDER);
        wait_ready(tmp.path());
        for sig in [Signal::SIGHUP, Signal::SIGUSR1, Signal::SIGUSR2] {
            signal(&child, sig);
            std::thread::sleep(Duration::from_millis(300));
        }
        signal(&child, stop);
        let run = to_run(child.wait_with_output().unwrap()).expect(0);
        let out = std::fs::read_to_string(tmp.path().join("out")).unwrap();
        let got: Vec<&str> = out.lines().collect();
        let stop_name = stop.as_str().trim_start_matches("SIG");
        assert_eq!(
            got,
            ["ready", "HUP", "USR1", "USR2", stop_name],
            "{}",
            run.stderr
        );
        let forwarded: Vec<String> = events(&run)
            .iter()
            .filter(|e| e["event"] == "forwarded")
            .map(|e| e["signal"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(forwarded, ["SIGHUP", "SIGUSR1", "SIGUSR2", stop.as_str()]);
    }
}

/// The app writes to the stderr the supervisor logs to: each of the supervisor's lines
/// must reach the log whole, never with the app's output inside it (a log collector would
/// drop a broken JSON line, or worse, the event in it).
#[test]
fn the_app_s_output_never_lands_inside_a_log_line() {
    let tmp = tempfile::tempdir().unwrap();
    let app_line = "app: a line of the app's own log";
    let script =
        format!(r#"trap '' HUP; echo ready >> "$OUT"; while :; do echo "{app_line}" >&2; done"#);
    let child = spawn(tmp.path(), &[], &script);
    wait_ready(tmp.path());
    let signals = 50;
    for _ in 0..signals {
        signal(&child, Signal::SIGHUP);
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, Signal::SIGTERM);
    let run = to_run(child.wait_with_output().unwrap()).expect(143);
    let mixed: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| *l != app_line && serde_json::from_str::<serde_json::Value>(l).is_err())
        .collect();
    assert!(
        mixed.is_empty(),
        "{} mixed lines, first: {:?}",
        mixed.len(),
        &mixed[..mixed.len().min(3)]
    );
    let forwarded = events(&run)
        .iter()
        .filter(|e| e["event"] == "forwarded")
        .count();
    // Signals sent close together may arrive as one; the stop is forwarded too.
    assert!(forwarded > 1, "{forwarded} forwarded events");
}

#[test]
fn group_forwarding_reaches_the_whole_process_group() {
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"
sh -c 'trap "echo grandchild >> \"$OUT\"; exit 0" TERM; echo ready >> "$OUT"; while :; do sleep 0.05; done' &
trap 'echo child >> "$OUT"; wait; exit 0' TERM
echo ready >> "$OUT"
while :; do sleep 0.05; done
"#;
    let child = spawn(tmp.path(), &["--group"], script);
    wait_ready_n(tmp.path(), 2);
    signal(&child, Signal::SIGTERM);
    let run = to_run(child.wait_with_output().unwrap()).expect(0);
    let out = std::fs::read_to_string(tmp.path().join("out")).unwrap();
    assert!(
        out.contains("child") && out.contains("grandchild"),
        "{out}\n{}",
        run.stderr
    );
    let Some(to) = events(&run).into_iter().find(|e| e["event"] == "forwarded") else {
        panic!("no forwarded event:\n{}", run.stderr)
    };
    assert!(
        to["to"].as_str().unwrap().starts_with("process group"),
        "{to}"
    );
}

#[test]
fn exit_codes_propagate_with_signals_as_128_plus_n() {
    let tmp = tempfile::tempdir().unwrap();
    for (script, code) in [
        ("exit 0", 0),
        ("exit 7", 7),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
    ] {
        let run = to_run(spawn(tmp.path(), &[], script).wait_with_output().unwrap()).expect(code);
        let exited = events(&run)
            .into_iter()
            .find(|e| e["event"] == "child_exited")
            .unwrap();
        assert_eq!(exited["code"], code, "{script}");
    }
    let missing = crate::harness::safemig(
        tmp.path(),
        &["run", "--migrate=off", "--", "no-such-program-here"],
    )
    .expect(127);
    assert!(
        missing
            .stderr
            .contains("cannot start `no-such-program-here`"),
        "{}",
        missing.stderr
    );
}

#[test]
fn orphaned_grandchildren_are_reaped() {
    let tmp = tempfile::tempdir().unwrap();
    // The subshell exits at once; its `sleep` is orphaned and re-parented to safemig.
    let child = spawn(
        tmp.path(),
        &[],
        "(sleep 0.3 &); echo ready >> \"$OUT\"; sleep 1.5",
    );
    wait_ready(tmp.path());
    std::thread::sleep(Duration::from_millis(800));
    // The orphan has exited by now; a zombie would still be listed as safemig's child.
    let supervisor = child.id();
    let zombies: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let after = stat.rsplit(") ").next().unwrap_or_default();
            let fields: Vec<&str> = after.split_whitespace().collect();
            fields.first() == Some(&"Z") && fields.get(1) == Some(&supervisor.to_string().as_str())
        })
        .collect();
    assert!(zombies.is_empty(), "zombies: {zombies:?}");
    let run = to_run(child.wait_with_output().unwrap()).expect(0);
    assert!(has_event(&run, "orphan_reaped"), "{}", run.stderr);
}

#[test]
fn escalates_at_the_deadline_when_sigterm_is_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let child = spawn(
        tmp.path(),
        &["--stop-timeout", "2"],
        "trap '' TERM; echo ready >> \"$OUT\"; while :; do sleep 0.1; done",
    );
    wait_ready(tmp.path());
    let sent = Instant::now();
    signal(&child, Signal::SIGTERM);
    let run = to_run(child.wait_with_output().unwrap()).expect(137);
    let took = sent.elapsed().as_secs_f64();
    assert!(
        (1.5..=2.5).contains(&took),
        "escalation after {took:.2}s, deadline 2s"
    );
    let escalated = events(&run)
        .into_iter()
        .find(|e| e["event"] == "escalated")
        .expect("an escalated event");
    let after = escalated["after_seconds"].as_f64().unwrap();
    assert!((1.5..=2.5).contains(&after), "{escalated}");

    // Text timeline says the same in words.
    let child = safemig_command(
        tmp.path(),
        &[
            "run",
            "--migrate=off",
            "--stop-timeout",
            "1",
            "--",
            "sh",
            "-c",
            "trap '' TERM; sleep 30",
        ],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::SIGTERM);
    let run = to_run(child.wait_with_output().unwrap()).expect(137);
    assert!(run.stderr.contains("received SIGTERM"), "{}", run.stderr);
    assert!(
        run.stderr.contains("deadline reached after 1.0"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("sent SIGKILL to process group"),
        "{}",
        run.stderr
    );
}

/// When the app exits but something of its group lives on, safemig waits for the group
/// (up to the deadline) instead of leaving it to be killed without grace.
#[test]
fn waits_for_the_whole_group() {
    let tmp = tempfile::tempdir().unwrap();
    let script = "sh -c 'trap \"\" TERM; echo ready >> \"$OUT\"; sleep 30' & echo ready >> \"$OUT\"; trap 'exit 0' TERM; while :; do sleep 0.05; done";
    let child = spawn(tmp.path(), &["--stop-timeout", "1"], script);
    wait_ready_n(tmp.path(), 2);
    signal(&child, Signal::SIGTERM);
    let run = to_run(child.wait_with_output().unwrap()).expect(0);
    let names: Vec<String> = events(&run)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    let exited = names.iter().position(|n| n == "child_exited").unwrap();
    let escalated = names
        .iter()
        .position(|n| n == "escalated")
        .expect("the lingering process was killed");
    assert!(exited < escalated, "{names:?}");
}

/// `RssFile` of a process, in kB: its resident pages of files, mostly its own code.
fn resident_file_pages(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("RssFile:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Once the app has run a moment, the supervisor hands the code start-up mapped back to the
/// kernel (src/supervisor/footprint.rs): its resident file pages fall to a fraction of
/// their peak, and it still forwards a stop and exits with the app's code. It runs a copy
/// of the binary: the kernel leaves pages that other processes map too (the other tests'
/// safemig) where they are.
#[test]
fn start_up_pages_are_released_while_the_app_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let binary = tmp.path().join("safemig");
    std::fs::copy(env!("CARGO_BIN_EXE_safemig"), &binary).unwrap();
    let script = "trap 'exit 7' TERM; echo ready >> \"$OUT\"; while :; do sleep 0.05; done";
    let child = std::process::Command::new(&binary)
        .args(["run", "--migrate=off", "--", "sh", "-c", script])
        .current_dir(tmp.path())
        .env("OUT", tmp.path().join("out"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stopped whatever the assertions say: a supervisor left behind keeps its app looping.
    struct Stop(Option<Child>);
    impl Drop for Stop {
        fn drop(&mut self) {
            if let Some(child) = &mut self.0 {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let mut child = Stop(Some(child));
    let pid = child.0.as_ref().unwrap().id();
    wait_ready(tmp.path());
    let at_start = resident_file_pages(pid);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut now = at_start;
    while now * 2 > at_start {
        assert!(
            Instant::now() < deadline,
            "RssFile {at_start} kB when the app started, still {now} kB"
        );
        std::thread::sleep(Duration::from_millis(100));
        now = resident_file_pages(pid);
    }
    let child = child.0.take().unwrap();
    signal(&child, Signal::SIGTERM);
    to_run(child.wait_with_output().unwrap()).expect(7);
}

/// One rule, whatever declares the grace period: the stop timeout leaves a margin of 2 s
/// before the runtime's SIGKILL; with nothing declared, the runtimes' default of 10 s.
#[test]
fn stop_timeout_must_fit_the_grace_period() {
    let tmp = tempfile::tempdir().unwrap();
    let run_with = |args: &[&str], grace_env: Option<&str>| {
        let mut full = vec!["run", "--migrate=off"];
        full.extend(args);
        full.extend(["--", "true"]);
        let mut cmd = safemig_command(tmp.path(), &full);
        if let Some(grace) = grace_env {
            cmd.env("SAFEMIG_GRACE_PERIOD", grace);
        }
        to_run(cmd.output().unwrap())
    };
    // The README's old `--stop-timeout 25`, with no grace period declared: the runtimes'
    // 10 s default would SIGKILL everything 15 s before safemig's deadline.
    let run = run_with(&["--stop-timeout", "25"], None).expect(2);
    assert!(
        run.stderr.contains(
            "the stop timeout (25s) does not fit the grace period (10s, the runtimes' default: none was declared)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--grace-period 27"),
        "the hint names the grace period that would fit: {}",
        run.stderr
    );
    let run = run_with(&["--grace-period", "30", "--stop-timeout", "29"], None).expect(2);
    assert!(
        run.stderr
            .contains("does not fit the grace period (30s, from --grace-period)"),
        "{}",
        run.stderr
    );
    run_with(&["--grace-period", "30", "--stop-timeout", "28"], None).expect(0);
    let run = run_with(&["--stop-timeout", "19"], Some("20")).expect(2);
    assert!(
        run.stderr.contains("from SAFEMIG_GRACE_PERIOD"),
        "{}",
        run.stderr
    );
    run_with(&["--stop-timeout", "18"], Some("20")).expect(0);
    let run = run_with(&[], Some("ten")).expect(2);
    assert!(
        run.stderr.contains("SAFEMIG_GRACE_PERIOD=ten is not valid"),
        "{}",
        run.stderr
    );
}

/// Without any flag, an app that ignores SIGTERM is SIGKILLed inside the 10 s that Docker,
/// Podman, compose and systemd give by default, not at 25 s.
#[test]
fn without_a_grace_period_the_stop_fits_the_runtimes_default() {
    let tmp = tempfile::tempdir().unwrap();
    let child = spawn(
        tmp.path(),
        &[],
        "trap '' TERM; echo ready >> \"$OUT\"; while :; do sleep 0.1; done",
    );
    wait_ready(tmp.path());
    signal(&child, Signal::SIGTERM);
    // The runtime would have SIGKILLed it at 10 s.
    let run = Watched::new(child)
        .finish(Duration::from_secs(15))
        .expect(137);
    let escalated = events(&run)
        .into_iter()
        .find(|e| e["event"] == "escalated")
        .expect("an escalated event");
    let after = escalated["after_seconds"].as_f64().unwrap();
    assert!((7.0..10.0).contains(&after), "{escalated}");
    let budget = events(&run)
        .into_iter()
        .find(|e| e["event"] == "stop_budget")
        .unwrap_or_else(|| panic!("no stop_budget event: {}", run.stderr));
    assert_eq!(budget["grace_seconds"], 10.0, "{budget}");
    assert_eq!(budget["grace_source"], "runtime_default", "{budget}");
    assert_eq!(budget["stop_timeout_seconds"], 8.0, "{budget}");
}

/// A stop while the pre-start migration runs a long statement: with no flag, the statement
/// is cancelled after 3 s and safemig is gone inside the runtimes' 10 s, the migration left
/// resumable; the old budget announced 20 s and took longer than the runtime waits.
#[test]
fn a_stop_during_the_prestart_migration_fits_the_runtimes_default() {
    let kind = Kind::Mysql;
    let db = TestDb::new(kind);
    let slow = format!(
        "CREATE TABLE before_the_slow_one (id INTEGER);\n{};\n",
        test_engine(kind).endless_statement()
    );
    let project = Project::new(kind, &[("20240101000000_slow", &slow)]);
    let marker = project.dir.path().join("started");
    let app = format!("touch {}", marker.display());
    let child = project
        .command(&db, &["run", "--", "sh", "-c", &app])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first statement is recorded: the endless one runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(db.has_table("_prisma_migrations") && db.history().iter().any(|row| row.steps >= 1)) {
        assert!(Instant::now() < deadline, "the migration never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Instant::now();
    signal(&child, Signal::SIGTERM);
    // The runtime would have SIGKILLed it at 10 s.
    let run = Watched::new(child)
        .finish(Duration::from_secs(15))
        .expect(11);
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    assert!(
        run.stderr
            .contains("a running statement is cancelled after 3s"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists(), "the app must not start after a stop");
    let history = db.history();
    assert!(
        history.len() == 1 && !history[0].finished && !history[0].rolled_back,
        "{history:?}"
    );
    let status = project.safemig(&db, &["status"]).expect(8);
    assert!(status.stdout.contains("interrupted"), "{}", status.stdout);
}

/// The app checks the migrated table exists: it can only if deploy ran before it started.
fn app_that_needs_the_schema(db: &TestDb) -> Vec<String> {
    match db.kind {
        Kind::Sqlite => vec![
            "sqlite3".into(),
            db.sqlite_path().display().to_string(),
            "SELECT count(*) FROM users".into(),
        ],
        _ => vec![
            postgres().bin_dir().join("psql").display().to_string(),
            "-X".into(),
            "-v".into(),
            "ON_ERROR_STOP=1".into(),
            "-d".into(),
            db.url.clone(),
            "-c".into(),
            "SELECT count(*) FROM users".into(),
        ],
    }
}

#[test]
fn prestart_deploy_runs_before_the_app() {
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let db = TestDb::new(kind);
        let project = Project::new(kind, &[("20240101000000_init", INIT)]);
        let app = app_that_needs_the_schema(&db);
        let mut args = vec!["run", "--"];
        args.extend(app.iter().map(String::as_str));
        let run = project.safemig(&db, &args).expect(0);
        assert!(
            run.stdout.contains("Applied 20240101000000_init"),
            "{}",
            run.stdout
        );
        assert!(
            run.stderr.contains("migrations verified: deploy finished"),
            "{}",
            run.stderr
        );
        let verified = run.stderr.find("migrations verified").unwrap();
        let started = run.stderr.find("started pid").unwrap();
        assert!(verified < started, "{}", run.stderr);
    }
}

#[test]
fn on_failed_fail_or_warn() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[("20240101000000_broken", FAILING_MIDWAY)]);
    project.safemig(&db, &["deploy"]).expect(6);
    let marker = project.dir.path().join("started");
    let app = format!("touch {}", marker.display());

    let run = project
        .safemig(&db, &["run", "--", "sh", "-c", &app])
        .expect(5);
    assert!(run.stderr.contains("error[P3009]"), "{}", run.stderr);
    assert!(!marker.exists(), "the app started despite --on-failed=fail");

    let run = project
        .safemig(&db, &["run", "--on-failed=warn", "--", "sh", "-c", &app])
        .expect(0);
    assert!(
        run.stderr
            .contains("WARNING migrations not verified, starting anyway"),
        "{}",
        run.stderr
    );
    assert!(marker.exists(), "--on-failed=warn must start the app");

    // --migrate=check: a pending migration is "not verified" too.
    std::fs::remove_file(&marker).unwrap();
    let fresh = TestDb::new(Kind::Sqlite);
    let pending = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    pending
        .safemig(&fresh, &["run", "--migrate=check", "--", "sh", "-c", &app])
        .expect(8);
    assert!(!marker.exists());
    pending
        .safemig(
            &fresh,
            &[
                "run",
                "--migrate=check",
                "--on-failed=warn",
                "--",
                "sh",
                "-c",
                &app,
            ],
        )
        .expect(0);
    assert!(marker.exists());
    assert!(!fresh.sqlite_path().exists(), "check never writes");
}

#[test]
fn sigterm_during_prestart_deploy_stops_it_cleanly() {
    let db = TestDb::new(Kind::Postgres);
    let project = Project::new(
        Kind::Postgres,
        &[(
            "20240101000000_slow",
            "CREATE TABLE slow (id INTEGER PRIMARY KEY);\nSELECT pg_sleep(10);\n",
        )],
    );
    let marker = project.dir.path().join("started");
    let app = format!("touch {}", marker.display());
    let child = project
        .command(&db, &["run", "--", "sh", "-c", &app])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, Signal::SIGTERM);
    let run = to_run(child.wait_with_output().unwrap()).expect(11);
    assert!(run.stderr.contains("stopped by a signal"), "{}", run.stderr);
    assert!(
        !marker.exists(),
        "the app must not start after a stop request"
    );
    assert!(
        db.history().is_empty(),
        "the transactional migration was rolled back"
    );
}

/// With a drain delay the app keeps serving for a while after the stop signal.
#[test]
fn drain_delay_holds_the_signal_back() {
    let tmp = tempfile::tempdir().unwrap();
    let child = spawn(
        tmp.path(),
        &["--drain-delay", "1"],
        "trap 'exit 0' TERM; echo ready >> \"$OUT\"; while :; do sleep 0.05; done",
    );
    wait_ready(tmp.path());
    signal(&child, Signal::SIGTERM);
    let run = to_run(child.wait_with_output().unwrap()).expect(0);
    let at = |name: &str| {
        events(&run)
            .into_iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name} event: {}", run.stderr))["elapsed_seconds"]
            .as_f64()
            .unwrap()
    };
    let held = at("forwarded") - at("signal_received");
    assert!(held >= 1.0, "forwarded {held:.3}s after the signal");
    assert!(has_event(&run, "draining"));
}

// ---------------------------------------------------------------------------------------
// Waiting for the database

/// A server of the test's own, to stop and start.
fn private_server(kind: Kind) -> &'static Server {
    match kind {
        Kind::Postgres => private_postgres(),
        Kind::Mysql => private_mariadb(),
        Kind::Sqlite => unreachable!("SQLite has no server"),
    }
}

/// A first `compose up`: `run` starts while nothing listens on the database's port yet;
/// it waits, one line per attempt, and once the server is up it migrates and starts the
/// app.
fn run_waits_for_a_database_that_starts_later(kind: Kind) {
    let server = private_server(kind);
    server.admin_exec("CREATE DATABASE waited");
    let url = server.url("waited");
    server.kill();
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    let marker = project.dir.path().join("started");
    let app = format!("touch {}", marker.display());
    let mut run = start_run(&project, &url, &app);
    run.wait_for_event("database_unavailable");
    server.restart();
    let run = run.finish(Duration::from_secs(90)).expect(0);
    assert!(marker.exists(), "the app did not start:\n{}", run.stderr);
    let failed: Vec<serde_json::Value> = events(&run)
        .into_iter()
        .filter(|e| e["event"] == "database_unavailable")
        .collect();
    assert!(!failed.is_empty(), "{}", run.stderr);
    for (n, event) in failed.iter().enumerate() {
        assert_eq!(event["attempt"], n as u64 + 1, "{event}");
        assert!(event["retry_in_seconds"].as_f64().is_some(), "{event}");
        assert!(
            event["database"].as_str().unwrap().contains("`waited`"),
            "{event}"
        );
    }
    let available = events(&run)
        .into_iter()
        .find(|e| e["event"] == "database_available")
        .unwrap_or_else(|| panic!("no database_available event: {}", run.stderr));
    assert_eq!(available["attempts"], failed.len() as u64 + 1);
    assert!(
        run.stdout.contains("Applied 20240101000000_init"),
        "{}",
        run.stdout
    );
    let status = safemig_command(
        project.dir.path(),
        &[
            "status",
            "--url",
            &url,
            "--dir",
            project.migrations().to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    to_run(status).expect(0);
}

#[test]
fn run_waits_for_a_postgresql_server_that_starts_later() {
    run_waits_for_a_database_that_starts_later(Kind::Postgres);
}

#[test]
fn run_waits_for_a_mariadb_server_that_starts_later() {
    run_waits_for_a_database_that_starts_later(Kind::Mysql);
}

/// A port nothing listens on, with the test password in its URL.
fn unreachable_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("postgresql://app:{PASSWORD}@127.0.0.1:{port}/app")
}

/// SIGTERM while `run` waits for its database: it exits 11 at once, the app not started.
#[test]
fn a_stop_while_waiting_for_the_database_exits_at_once() {
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let marker = project.dir.path().join("started");
    let app = format!("touch {}", marker.display());
    let mut run = start_run(&project, &unreachable_url(), &app);
    run.wait_for_event("database_unavailable");
    let sent = Instant::now();
    signal(&run.child, Signal::SIGTERM);
    let run = run.finish(Duration::from_secs(10)).expect(11);
    let took = sent.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "exited {took:?} after SIGTERM"
    );
    assert!(
        run.stderr.contains("stopped by a signal while waiting")
            && run
                .stderr
                .contains("the app was not started and nothing was written"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists());
}

/// The wait is bounded: past `--wait-for-database` the last attempt's error ends the run
/// (P1001, exit 3), and its text line says so.
#[test]
fn the_wait_for_the_database_is_bounded() {
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let dir = project.migrations();
    let url = unreachable_url();
    let started = Instant::now();
    let output = safemig_command(
        project.dir.path(),
        &[
            "run",
            "--wait-for-database",
            "2",
            "--url",
            &url,
            "--dir",
            dir.to_str().unwrap(),
            "--",
            "true",
        ],
    )
    .output()
    .unwrap();
    let run = to_run(output).expect(3);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        run.stderr.contains(
            "waiting for the database (attempt 1): cannot connect to PostgreSQL database `app`"
        ) && run
            .stderr
            .contains("gave up waiting for the database after")
            && run.stderr.contains("error[P1001]"),
        "{}",
        run.stderr
    );
}

/// A refused login is the server's answer, not a server still starting: not waited for.
#[test]
fn a_refused_login_is_not_waited_for() {
    let db = TestDb::new(Kind::Postgres);
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let wrong = db.url.replace(PASSWORD, "not-the-password");
    let dir = project.migrations();
    let output = safemig_command(
        project.dir.path(),
        &[
            "run",
            "--log-format=json",
            "--url",
            &wrong,
            "--dir",
            dir.to_str().unwrap(),
            "--",
            "true",
        ],
    )
    .output()
    .unwrap();
    let run = to_run(output).expect(3);
    assert!(
        run.stderr.contains("refused the credentials"),
        "{}",
        run.stderr
    );
    assert!(!has_event(&run, "database_unavailable"), "{}", run.stderr);
}
