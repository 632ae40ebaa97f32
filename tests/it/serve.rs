//! `safemig serve` scraped by a real Prometheus server: a failed migration appears in
//! `safemig_migrations_failed` and goes after `resolve`; a killed database server turns
//! its targets `up 0` at the next scrape while the others keep reporting, and recovers;
//! the example alert rules pass `promtool check rules`. Prometheus is a test dependency
//! like the database servers (scripts/test installs it): missing, these tests fail.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::check::{Environments, deploy_to};
use crate::deploy::{INIT, POSTS};
use crate::harness::{Kind, PASSWORD, Project, TestDb, private_postgres};
use crate::repair::{FAILED, FIRST, FOUR, fail_after};

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on `address`: the status code and the body.
fn get(address: &str, path: &str, accept: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{accept}Connection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// A body sent with `Transfer-Encoding: chunked` (Prometheus's larger answers), joined.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16)
            .unwrap_or_else(|_| panic!("not a chunk size: {size:?}"));
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].strip_prefix("\r\n").unwrap_or(&after[size..]);
    }
    body
}

/// Polls `what` until it returns `Some`, or fails after `limit` naming `description`.
fn poll<T>(limit: Duration, description: &str, mut what: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = what() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {description}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A running `safemig serve`, stopped with SIGTERM when dropped.
struct Serve {
    child: Child,
    address: String,
}

impl Serve {
    fn start(envs: &Environments, extra: &[&str]) -> Serve {
        let address = format!("127.0.0.1:{}", free_port());
        let mut args = vec!["serve", "--listen", &address, "--min-interval", "0"];
        args.extend(extra);
        let child = envs
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting safemig serve");
        let serve = Serve { child, address };
        poll(Duration::from_secs(30), "safemig serve's /healthz", || {
            get(&serve.address, "/healthz", None)
                .ok()
                .filter(|(code, _)| *code == 200)
        });
        serve
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (code, body) = get(&self.address, path, None).expect("serve answers");
        assert!(
            !body.contains(PASSWORD),
            "{path} shows the password: {body}"
        );
        (code, body)
    }

    /// SIGTERM; the exit code and stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = poll(Duration::from_secs(20), "serve to stop", || {
            self.child.try_wait().unwrap()
        });
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status.code(), stderr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Prometheus server of the test's own, scraping `target` every second.
struct Prometheus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        Prometheus::with_rules(target, None)
    }

    /// Also evaluating the alert rules `rules` (text of a rules file) every second.
    fn with_rules(target: &str, rules: Option<&str>) -> Prometheus {
        let binary = which("prometheus");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let rule_files = match rules {
            Some(rules) => {
                let file = dir.path().join("rules.yml");
                std::fs::write(&file, rules).unwrap();
                format!("rule_files: [\"{}\"]\n", file.display())
            }
            None => String::new(),
        };
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n{rule_files}scrape_configs:\n  - job_name: safemig\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting prometheus");
        let prometheus = Prometheus {
            child,
            address,
            _dir: dir,
        };
        poll(Duration::from_secs(60), "prometheus to be ready", || {
            get(&prometheus.address, "/-/ready", None)
                .ok()
                .filter(|(code, _)| *code == 200)
        });
        prometheus
    }

    /// The samples of an instant query: each series' labels and value.
    fn query(&self, expression: &str) -> Vec<(Value, f64)> {
        let encoded: String = url::form_urlencoded::byte_serialize(expression.as_bytes()).collect();
        let (code, body) = get(
            &self.address,
            &format!("/api/v1/query?query={encoded}"),
            None,
        )
        .expect("prometheus answers");
        assert_eq!(code, 200, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        json["data"]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{json}"))
            .iter()
            .map(|s| {
                let value = s["value"][1].as_str().unwrap().parse::<f64>().unwrap();
                (s["metric"].clone(), value)
            })
            .collect()
    }

    /// The alerts pending or firing: each one's labels, annotations, state and since when
    /// it is active (Unix seconds).
    fn alerts(&self) -> Vec<Alert> {
        let (code, body) = get(&self.address, "/api/v1/alerts", None).expect("prometheus answers");
        assert_eq!(code, 200, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        json["data"]["alerts"]
            .as_array()
            .unwrap_or_else(|| panic!("{json}"))
            .iter()
            .map(|a| Alert {
                labels: a["labels"].clone(),
                annotations: a["annotations"].clone(),
                firing: a["state"] == "firing",
                active_at: chrono::DateTime::parse_from_rfc3339(a["activeAt"].as_str().unwrap())
                    .unwrap()
                    .timestamp_millis() as f64
                    / 1000.0,
            })
            .collect()
    }

    /// The `for:` of the alerting rule `name` as loaded, in seconds.
    fn rule_duration(&self, name: &str) -> f64 {
        let (code, body) = get(&self.address, "/api/v1/rules", None).expect("prometheus answers");
        assert_eq!(code, 200, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        json["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .find(|r| r["name"] == name)
            .and_then(|r| r["duration"].as_f64())
            .unwrap_or_else(|| panic!("no rule {name}: {json}"))
    }

    /// Polls until `expression` has exactly one series, of value `expected`.
    fn wait_for(&self, expression: &str, expected: f64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let last = self.query(expression);
            if matches!(last.as_slice(), [(_, v)] if *v == expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus never saw {expression} == {expected}; last: {last:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// An alert as Prometheus's `/api/v1/alerts` shows it.
#[derive(Debug, Clone)]
struct Alert {
    labels: Value,
    annotations: Value,
    firing: bool,
    active_at: f64,
}

impl Alert {
    fn name(&self) -> &str {
        self.labels["alertname"].as_str().unwrap()
    }

    fn env(&self) -> &str {
        self.labels["env"].as_str().unwrap_or("")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tool on PATH; fails loudly without it (scripts/test installs it).
fn which(tool: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{tool}` not found: install Debian's prometheus package (scripts/test does)")
        })
}

/// The value of the one series `name{...}` of a text-format page whose labels include
/// every one of `labels`.
fn sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn prometheus_sees_a_failed_migration_come_and_go() {
    let kind = Kind::Postgres;
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let mut envs = Environments::new();
    envs.add("prod", &db.url, &project, "");
    let serve = Serve::start(&envs, &["--pending-tolerance", "1"]);
    let prometheus = Prometheus::start(&serve.address);

    prometheus.wait_for("safemig_up{env=\"prod\"}", 1.0);
    prometheus.wait_for("safemig_migrations_applied{env=\"prod\"}", 1.0);
    prometheus.wait_for("safemig_migrations_failed{env=\"prod\"}", 0.0);
    assert_eq!(serve.get("/readyz?env=prod"), (200, "ready\n".into()));

    project.write(FAILED, FOUR);
    fail_after(&db, FAILED, FOUR, 0);
    prometheus.wait_for("safemig_migrations_failed{env=\"prod\"}", 1.0);
    let info = prometheus.query("safemig_migration_failed_info");
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0].0["migration"], FAILED, "{info:?}");
    assert_eq!(info[0].0["env"], "prod", "{info:?}");
    let (code, body) = serve.get("/readyz?env=prod");
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains(&format!("failed migration {FAILED}")),
        "{body}"
    );

    // OpenMetrics when asked for, the text format otherwise.
    let (_, openmetrics) = get(
        &serve.address,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    )
    .unwrap();
    assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    let (_, text) = serve.get("/metrics");
    assert!(!text.contains("# EOF"), "{text}");
    assert_eq!(
        sample(&text, "safemig_migrations_failed", &["env=\"prod\""]),
        Some(1.0),
        "{text}"
    );
    let (code, probe) = serve.get("/probe?target=prod");
    assert_eq!(code, 200);
    assert_eq!(
        sample(&probe, "safemig_migrations_failed", &["env=\"prod\""]),
        Some(1.0),
        "{probe}"
    );
    assert_eq!(serve.get("/probe?target=nope").0, 404);
    let (code, status) = serve.get("/status");
    assert_eq!(code, 200);
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["state"], "failed", "{status}");

    project
        .safemig(&db, &["resolve", "--rolled-back", FAILED])
        .expect(0);
    prometheus.wait_for("safemig_migrations_failed{env=\"prod\"}", 0.0);
    // Rolled back and in the folder: deploy applies it again.
    prometheus.wait_for("safemig_migrations_rolled_back{env=\"prod\"}", 1.0);
    prometheus.wait_for("safemig_migrations_pending{env=\"prod\"}", 0.0);
    // The failed row's series is gone (stale) once the row is no longer failed.
    poll(
        Duration::from_secs(30),
        "the failed_info series to go",
        || {
            prometheus
                .query("safemig_migration_failed_info")
                .is_empty()
                .then_some(())
        },
    );
    // One migration for deploy to apply is within --pending-tolerance 1.
    assert_eq!(serve.get("/readyz?env=prod"), (200, "ready\n".into()));
    // Beyond the default tolerance (0), it is not ready.
    let strict = Serve::start(&envs, &[]);
    let (code, body) = strict.get("/readyz");
    assert_eq!(code, 503, "{body}");
    assert_eq!(body, "prod: 1 pending migration(s), tolerance 0\n");
    drop(strict);

    let (code, stderr) = serve.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("Stopped."), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

#[test]
fn a_killed_server_is_up_0_at_the_next_scrape_and_recovers() {
    let kind = Kind::Postgres;
    let own = private_postgres();
    own.admin_exec("CREATE DATABASE served");
    let own_url = own.url("served");
    let project = Project::new(kind, &[(FIRST, INIT)]);
    deploy_to(&project, &own_url, 0);
    let other = TestDb::new(kind);
    project.safemig(&other, &["deploy"]).expect(0);
    let mut envs = Environments::new();
    envs.add("own", &own_url, &project, "");
    envs.add("other", &other.url, &project, "");
    let serve = Serve::start(&envs, &["--timeout", "3"]);
    let prometheus = Prometheus::start(&serve.address);
    prometheus.wait_for("safemig_up{env=\"own\"}", 1.0);
    prometheus.wait_for("safemig_up{env=\"other\"}", 1.0);

    own.kill();
    // The very next scrape says so.
    let (code, page) = serve.get("/metrics");
    assert_eq!(code, 200);
    assert_eq!(
        sample(&page, "safemig_up", &["env=\"own\""]),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "safemig_up", &["env=\"other\""]),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "safemig_migrations_applied", &["env=\"other\""]),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "safemig_migrations_applied", &["env=\"own\""]),
        None
    );
    prometheus.wait_for("safemig_up{env=\"own\"}", 0.0);
    prometheus.wait_for("safemig_up{env=\"other\"}", 1.0);
    let (_, status) = serve.get("/status");
    let status: Value = serde_json::from_str(&status).unwrap();
    let own_target = &status["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "own")
        .unwrap()["targets"][0];
    assert_eq!(own_target["state"], "unreachable", "{status}");
    assert!(
        own_target["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{status}"
    );
    let (code, body) = serve.get("/readyz?env=own");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("not checked (unreachable)"), "{body}");

    own.restart();
    prometheus.wait_for("safemig_up{env=\"own\"}", 1.0);
    prometheus.wait_for("safemig_migrations_applied{env=\"own\"}", 1.0);
    prometheus.wait_for("safemig_up{env=\"other\"}", 1.0);
}

/// `promtool check rules` passes on the shipped rules, and `promtool test rules` on their
/// unit tests (examples/prometheus/safemig-rules.test.yml): every rule fires once per
/// environment or tenant with a target scraped twice, waits for its `for:`, and words
/// each kind of drift comparison as what it is. (Before, the failed-row rule fired twice
/// for a target scraped twice, and drift had no `for:`.)
#[test]
fn shipped_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus");
    let promtool = |args: &[&str], file: &str| {
        let output = Command::new(which("promtool"))
            .args(args)
            .arg(examples.join(file))
            .output()
            .expect("running promtool");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let checked = promtool(&["check", "rules"], "safemig-rules.yml");
    // Failed, pending, drift, check failing, exporter down.
    assert!(checked.contains("SUCCESS: 5 rules found"), "{checked}");
    let tested = promtool(&["test", "rules"], "safemig-rules.test.yml");
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn an_address_in_use_is_a_usage_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[(FIRST, INIT)]);
    let mut envs = Environments::new();
    envs.add("local", &db.url, &project, "");
    let run = envs.run(&["serve", "--listen", &address]).expect(2);
    assert!(
        run.stderr.contains(&format!("cannot listen on {address}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--listen"), "{}", run.stderr);
}

/// Connections that send nothing, or half a request head, or stay open after a response:
/// `serve` accepts at most `--max-connections` of them at once (the rest wait in the
/// listen backlog), `/metrics` still answers, and each is closed once it has been idle
/// for `--idle-timeout`. (Before, every such connection was accepted and held forever,
/// until the process ran out of file handles.)
#[test]
fn idle_and_slow_connections_are_capped_and_closed() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let mut envs = Environments::new();
    envs.add("local", &db.url, &project, "");
    let serve = Serve::start(&envs, &["--idle-timeout", "2", "--max-connections", "20"]);
    let pid = serve.child.id();
    let baseline = sockets(pid);
    let connect = || {
        let stream = TcpStream::connect(&serve.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream
    };
    let mut held: Vec<TcpStream> = (0..30).map(|_| connect()).collect();
    for _ in 0..10 {
        let mut slow = connect();
        slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: safemig\r\n")
            .unwrap();
        held.push(slow);
    }
    let mut kept_alive = connect();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: safemig\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(b"ok\n") {
        let mut buffer = [0; 1024];
        let n = kept_alive.read(&mut buffer).unwrap();
        assert!(n > 0, "closed before answering: {answer:?}");
        answer.extend_from_slice(&buffer[..n]);
    }
    held.push(kept_alive);

    let (code, page) = serve.get("/metrics");
    assert_eq!(code, 200, "{page}");
    assert_eq!(sample(&page, "safemig_up", &["env=\"local\""]), Some(1.0));
    // Every held connection is closed by serve: a read sees the end (or a reset), never
    // the read timeout. Meanwhile serve never holds more than 20 of them.
    let mut most = 0;
    for (i, mut stream) in held.into_iter().enumerate() {
        most = most.max(sockets(pid) - baseline);
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("connection {i} was not closed: {e}"),
        }
    }
    assert!(most <= 20, "serve held {most} connections at once");
    assert_eq!(serve.get("/healthz").0, 200);
}

/// The sockets process `pid` has open.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// Ten scrapes of one environment at once, with `--min-interval 0`: one check, whose
/// result all ten share; a scrape after it checks again.
#[test]
fn concurrent_scrapes_share_one_check() {
    use std::sync::Arc;

    use safemig::check::CheckOptions;
    use safemig::config::environments::Environments as Toml;
    use safemig::environment::prepare;
    use safemig::serve::http::ConnectionLimits;
    use safemig::serve::{Exporter, ServeOptions};

    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("safemig.toml");
    let text = format!(
        "[environments.local]\nurl = \"env:LOCAL_URL\"\ndir = \"{}\"\n",
        project.migrations().display()
    );
    std::fs::write(&file, &text).unwrap();
    let environments = Toml::parse(&text, &file).unwrap();
    let url = db.url.clone();
    let lookup = move |name: &str| (name == "LOCAL_URL").then(|| url.clone());
    let prepared = prepare(&environments, "local", &lookup, &Default::default()).unwrap();
    let exporter = Arc::new(Exporter::new(
        vec![prepared],
        ServeOptions {
            min_interval: Duration::ZERO,
            pending_tolerance: 0,
            check: CheckOptions {
                drift: false,
                ..CheckOptions::default()
            },
            default_drift_every: Duration::from_secs(3600),
            connections: ConnectionLimits {
                idle_timeout: Duration::from_secs(30),
                max_connections: 512,
            },
            base_target: Default::default(),
            named: true,
        },
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = exporter.clone().run(listener, async move {
            let _ = stopped.await;
        });
        // The jobs wait in the checker's queue until the server runs it: both on this
        // thread, as in the CLI.
        let scrapes = async {
            let reports =
                futures_util::future::join_all((0..10).map(|_| exporter.report("local"))).await;
            assert_eq!(exporter.checks_run(), 1);
            for (report, _) in reports.iter().flatten() {
                assert_eq!(
                    report.targets[0].counts.get("applied"),
                    Some(&1),
                    "{report:?}"
                );
            }
            assert_eq!(reports.iter().flatten().count(), 10);
            exporter.report("local").await.unwrap();
            assert_eq!(exporter.checks_run(), 2);
            stop.send(()).unwrap();
        };
        tokio::join!(server, scrapes);
    });
}

const INIT_NAME: &str = "20240101000000_init";
const POSTS_NAME: &str = "20240102000000_posts";

/// What a database needs to look like for each kind of drift: `production` one migration
/// behind and compared with the folder (pending, not drift); `staging` ahead of it and
/// compared with it; `reports` with the second migration run by hand, unrecorded, compared
/// with the folder; `preview` with a table made since its snapshot, compared with it;
/// `fleet`, two tenants compared with the folder, of which `tenant_b` has a table made by
/// hand.
struct Drifted {
    project: Project,
    production: TestDb,
    _staging: TestDb,
    reports: TestDb,
    _preview: TestDb,
    _fleet: TestDb,
    envs: Environments,
}

impl Drifted {
    fn new() -> Drifted {
        let kind = Kind::Postgres;
        let released = Project::new(kind, &[(INIT_NAME, INIT)]);
        let project = Project::new(kind, &[(INIT_NAME, INIT), (POSTS_NAME, POSTS)]);
        let production = TestDb::new(kind);
        released.safemig(&production, &["deploy"]).expect(0);
        let staging = TestDb::new(kind);
        project.safemig(&staging, &["deploy"]).expect(0);
        let reports = TestDb::new(kind);
        released.safemig(&reports, &["deploy"]).expect(0);
        reports.exec(POSTS);
        let preview = TestDb::new(kind);
        released.safemig(&preview, &["deploy"]).expect(0);
        let snapshot = project.dir.path().join("preview.json");
        released
            .safemig(
                &preview,
                &["snapshot", "--output", snapshot.to_str().unwrap()],
            )
            .expect(0);
        preview.exec("CREATE TABLE stray (id INTEGER PRIMARY KEY);");
        let fleet = TestDb::new(kind);
        for tenant in ["tenant_a", "tenant_b"] {
            deploy_to(&project, &format!("{}?schema={tenant}", fleet.url), 0);
        }
        fleet.exec("CREATE TABLE tenant_b.stray (id INTEGER PRIMARY KEY);");
        let mut envs = Environments::new();
        let folder = "drift = { against = \"folder\" }";
        envs.add("production", &production.url, &project, folder);
        envs.add(
            "staging",
            &staging.url,
            &project,
            "drift = { against = \"environment:production\" }",
        );
        envs.add("reports", &reports.url, &project, folder);
        envs.add(
            "preview",
            &preview.url,
            &project,
            &format!(
                "drift = {{ against = \"snapshot:{}\" }}",
                snapshot.display()
            ),
        );
        envs.add(
            "fleet",
            &fleet.url,
            &project,
            &format!("{folder}\ntenants = {{ list = [\"tenant_a\", \"tenant_b\"] }}"),
        );
        Drifted {
            project,
            production,
            _staging: staging,
            reports,
            _preview: preview,
            _fleet: fleet,
            envs,
        }
    }

    /// The releases that end staging's and reports' drift: production deployed (staging
    /// is compared with it), and the migration run by hand on reports recorded.
    fn release(&self) {
        self.project
            .safemig(&self.production, &["deploy"])
            .expect(0);
        self.project
            .safemig(&self.reports, &["resolve", "--applied", POSTS_NAME])
            .expect(0);
    }
}

/// The first scrape after a deploy (of the environment compared with) or a resolve shows
/// the drift it ended gone: serve compares again when it sees a history change, instead
/// of serving the old result until `drift.every` (an hour here), which is what it did
/// before.
#[test]
fn the_first_scrape_after_a_release_compares_drift_again() {
    let drifted = Drifted::new();
    let serve = Serve::start(&drifted.envs, &[]);
    let (_, page) = serve.get("/metrics");
    for (env, against, drift) in [
        ("production", "folder", 0.0),
        ("staging", "environment", 1.0),
        ("reports", "folder", 1.0),
        ("preview", "snapshot", 1.0),
        ("fleet\",tenant=\"tenant_a", "folder", 0.0),
        ("fleet\",tenant=\"tenant_b", "folder", 1.0),
    ] {
        assert_eq!(
            sample(
                &page,
                "safemig_drift",
                &[&format!("env=\"{env}\""), &format!("against=\"{against}\"")]
            ),
            Some(drift),
            "{env}: {page}"
        );
    }
    assert!(
        page.contains(
            "safemig_drift{env=\"staging\",against=\"environment\",against_env=\"production\"} 1"
        ),
        "{page}"
    );

    drifted.release();
    let (_, page) = serve.get("/metrics");
    for (env, drift) in [("staging", 0.0), ("reports", 0.0), ("preview", 1.0)] {
        assert_eq!(
            sample(&page, "safemig_drift", &[&format!("env=\"{env}\"")]),
            Some(drift),
            "{env}: {page}"
        );
    }
}

/// `/status` carries each target's `next` step exactly as `check --json` prints it, on
/// that target (`--env`) with the `--config` serve was given, and the command in it runs
/// as printed. (Before, `/status` had no `next`.)
#[test]
fn status_carries_each_targets_next_step_as_check_prints_it() {
    let drifted = Drifted::new();
    let config = drifted.envs.dir.path().join("safemig.toml");
    let config = config.to_str().unwrap();
    let serve = Serve::start(&drifted.envs, &["--config", config]);
    let (code, status) = serve.get("/status");
    assert_eq!(code, 200);
    let status: Value = serde_json::from_str(&status).unwrap();
    let check = drifted.envs.check_json(&["--config", config], 14);
    let next = |report: &Value, env: &str| {
        report["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == env)
            .unwrap_or_else(|| panic!("no {env}: {report}"))["targets"][0]["next"]
            .clone()
    };
    for env in ["production", "staging", "reports", "preview"] {
        let served = next(&status, env);
        assert_eq!(served, next(&check, env), "{env}");
        let served = served
            .as_str()
            .unwrap_or_else(|| panic!("{env}: no next: {status}"));
        assert!(
            served.contains(&format!("--config {config} --env {env}`")),
            "{env}: {served}"
        );
    }
    let staging = next(&status, "staging");
    assert_eq!(
        staging,
        format!("run `safemig drift --config {config} --env staging` for the differences").as_str()
    );
    let command = staging.as_str().unwrap().split('`').nth(1).unwrap();
    let words: Vec<&str> = command.split_whitespace().collect();
    let run = drifted.envs.run(&words[1..]).expect(14);
    assert!(run.stdout.contains("posts"), "{}", run.stdout);
}

/// The shipped alert rules with every `for:` of N minutes made N seconds, so that a test
/// sees alerts go from pending to firing; nothing else is changed.
fn rules_with_short_for() -> String {
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus/safemig-rules.yml");
    let text = std::fs::read_to_string(shipped).unwrap();
    let mut changed = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let (indent, rest) = line.split_at(line.len() - line.trim_start().len());
            match rest
                .strip_prefix("for: ")
                .and_then(|d| d.strip_suffix('m'))
                .filter(|n| n.parse::<u32>().is_ok())
            {
                Some(minutes) => {
                    changed += 1;
                    format!("{indent}for: {minutes}s")
                }
                None => line.to_string(),
            }
        })
        .collect();
    assert_eq!(
        changed,
        text.matches("alert: ").count(),
        "every rule has a `for:` in minutes"
    );
    lines.join("\n") + "\n"
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// No alert is pending or firing twice for one database (`env`, `tenant`).
fn assert_once_per_target(alerts: &[Alert]) {
    let mut seen = std::collections::BTreeSet::new();
    for alert in alerts {
        let key = (
            alert.name().to_string(),
            alert.env().to_string(),
            alert.labels["tenant"].clone().to_string(),
        );
        assert!(
            seen.insert(key),
            "{} twice for {}: {alerts:#?}",
            alert.name(),
            alert.env()
        );
    }
}

/// With the shipped alert rules (only their `for:` shortened, see [`rules_with_short_for`])
/// a real Prometheus fires exactly one `SafemigDrift` per drifted environment, whatever it
/// is compared with, each pending for its `for:` first and worded for its kind of
/// comparison; production, only behind on migrations, has none. After production's deploy
/// and reports' resolve the drift of both clears without waiting for `drift.every` (an
/// hour here). (Before: the rule had no `for:` and fired twice for a comparison with a
/// history, its text called every difference drift from the migrations, and serve kept
/// the old result until `every`.)
#[test]
fn drift_alerts_fire_once_per_environment_and_clear_after_a_release() {
    let drifted = Drifted::new();
    let serve = Serve::start(&drifted.envs, &[]);
    let prometheus = Prometheus::with_rules(&serve.address, Some(&rules_with_short_for()));
    let drift_for = prometheus.rule_duration("SafemigDrift");
    assert!(drift_for >= 1.0, "SafemigDrift has a `for:` ({drift_for}s)");

    let mut pending = std::collections::BTreeSet::new();
    let firing = poll(
        Duration::from_secs(120),
        "four SafemigDrift alerts firing",
        || {
            let alerts = prometheus.alerts();
            assert_once_per_target(&alerts);
            let now = unix_now();
            let drift: Vec<Alert> = alerts
                .into_iter()
                .filter(|a| a.name() == "SafemigDrift")
                .collect();
            for alert in &drift {
                if !alert.firing {
                    pending.insert(alert.env().to_string());
                    continue;
                }
                assert!(
                    pending.contains(alert.env()),
                    "fired without being pending first: {alert:?}"
                );
                assert!(
                    now - alert.active_at >= drift_for - 0.001,
                    "fired {}s after it became active, before its `for:` of {drift_for}s: {alert:?}",
                    now - alert.active_at
                );
            }
            (drift.len() == 4 && drift.iter().all(|a| a.firing)).then_some(drift)
        },
    );
    let summary = |env: &str| {
        let alert = firing
            .iter()
            .find(|a| a.env() == env)
            .unwrap_or_else(|| panic!("no SafemigDrift for {env}: {firing:#?}"));
        (
            alert.labels["against"].as_str().unwrap_or("").to_string(),
            alert.annotations["summary"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        summary("staging"),
        (
            "environment".into(),
            "The schema of staging differs from environment production".into()
        )
    );
    assert_eq!(
        summary("reports"),
        (
            "folder".into(),
            "The schema of reports drifted from its migrations: it is not what the migrations its history applied make".into()
        )
    );
    assert_eq!(
        summary("preview"),
        (
            "snapshot".into(),
            "The schema of preview differs from the snapshot safemig.toml compares it with".into()
        )
    );
    // Per tenant: the drifted one only.
    assert_eq!(
        summary("fleet"),
        (
            "folder".into(),
            "The schema of fleet tenant tenant_b drifted from its migrations: it is not what the migrations its history applied make".into()
        )
    );

    drifted.release();
    prometheus.wait_for("safemig_drift{env=\"staging\"}", 0.0);
    prometheus.wait_for("safemig_drift{env=\"reports\"}", 0.0);
    prometheus.wait_for("safemig_drift{env=\"preview\"}", 1.0);
    poll(
        Duration::from_secs(30),
        "only preview's and fleet's SafemigDrift left",
        || {
            let alerts = prometheus.alerts();
            let drift: Vec<&str> = alerts
                .iter()
                .filter(|a| a.name() == "SafemigDrift")
                .map(Alert::env)
                .collect();
            (drift == ["preview", "fleet"] || drift == ["fleet", "preview"]).then_some(())
        },
    );
}

/// The forecast of pending migrations on the live tables (`safemig forecast`) is a metric
/// per target, low and high, and is in `check --json`; once deployed, it is 0.
#[test]
fn the_forecast_of_pending_migrations_is_a_metric() {
    let kind = Kind::Postgres;
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    db.exec(
        "INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 100000) g; ANALYZE users;",
    );
    project.write(
        "20240601000000_email_index",
        "CREATE INDEX \"users_email_idx\" ON users(email);",
    );
    let mut envs = Environments::new();
    envs.add("prod", &db.url, &project, "");

    let check = envs.command(&["check", "--json"]).output().unwrap();
    let json: Value = serde_json::from_slice(&check.stdout).unwrap();
    let target = &json["environments"][0]["targets"][0];
    let high = target["forecast_ms"]["high"].as_u64().unwrap();
    assert!(high > 50, "an index build over 100,000 rows: {target:#}");

    let serve = Serve::start(&envs, &[]);
    let (_, metrics) = serve.get("/metrics");
    let bound = |bound: &str| {
        let label = format!("bound=\"{bound}\"");
        sample(
            &metrics,
            "safemig_pending_forecast_seconds",
            &["env=\"prod\"", &label],
        )
    };
    assert_eq!(bound("high"), Some(high as f64 / 1000.0), "{metrics}");
    assert!(bound("low").unwrap() < bound("high").unwrap(), "{metrics}");
    drop(serve);

    project.safemig(&db, &["deploy"]).expect(0);
    let serve = Serve::start(&envs, &[]);
    let (_, metrics) = serve.get("/metrics");
    assert_eq!(
        sample(
            &metrics,
            "safemig_pending_forecast_seconds",
            &["env=\"prod\"", "bound=\"high\""]
        ),
        Some(0.0),
        "{metrics}"
    );
}
