//! The npm packages as a Prisma project uses them: installed from the tarballs
//! `scripts/dist` packs with `npm install --offline`, inside a network namespace that has no
//! network at all, with an empty cache (so nothing can come from a registry); then
//! `npx safemig …` and an npm script on the example project's SQLite database, and the
//! launcher passing exit codes and signals through.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{Run, run_tool, to_run};
use crate::install::{dist, example_project, require_tool};

/// This machine's CPU as Node names it (`process.arch`).
fn node_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x64",
    }
}

/// The platform package npm picks on this machine.
pub fn platform_package() -> String {
    format!("linux-{}-musl", node_arch())
}

/// The example Prisma project with npm packages installed from their tarballs.
struct NodeProject {
    dir: tempfile::TempDir,
}

impl NodeProject {
    /// `packages` as `Dist::tarball` names them.
    fn install(packages: &[&str]) -> NodeProject {
        let tarballs: Vec<_> = packages.iter().map(|p| dist().tarball(p)).collect();
        NodeProject::install_tarballs(&tarballs)
    }

    fn install_tarballs(tarballs: &[std::path::PathBuf]) -> NodeProject {
        require_tool("npm", "--version");
        require_tool("unshare", "--version");
        let project = NodeProject {
            dir: example_project(),
        };
        std::fs::write(
            project.path().join("package.json"),
            r#"{"name": "blog", "private": true, "scripts": {"migrate": "safemig deploy"}}"#,
        )
        .unwrap();
        for config in ["user.npmrc", "global.npmrc"] {
            std::fs::write(project.path().join(config), "").unwrap();
        }
        let mut install = project.offline("npm");
        install.args(["install", "--offline", "--no-audit", "--no-fund"]);
        install.args(tarballs);
        run_tool(&mut install);
        project
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `program` (npm, npx) in the project, with no network (`unshare --net`;
    /// `--map-root-user` lets a non-root user make the namespace), an empty cache, and no
    /// user or global npm configuration.
    fn offline(&self, program: &str) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["--map-root-user", "--net", program])
            .current_dir(self.path())
            .env("npm_config_userconfig", self.path().join("user.npmrc"))
            .env("npm_config_globalconfig", self.path().join("global.npmrc"))
            .env("npm_config_cache", self.path().join(".npm-cache"))
            .env("npm_config_update_notifier", "false")
            .env_remove("DATABASE_URL");
        cmd
    }

    fn npx_safemig(&self, args: &[&str]) -> Run {
        to_run(
            self.offline("npx")
                .arg("safemig")
                .args(args)
                .output()
                .unwrap(),
        )
    }

    /// The launcher itself, as npm scripts run it: `node_modules/.bin/safemig`.
    fn launcher(&self) -> Command {
        let mut cmd = Command::new(self.path().join("node_modules/.bin/safemig"));
        cmd.current_dir(self.path()).env_remove("DATABASE_URL");
        cmd
    }

    fn add_migration(&self, name: &str, sql: &str) {
        let dir = self.path().join("prisma/migrations").join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("migration.sql"), sql).unwrap();
    }
}

#[test]
fn npx_and_an_npm_script_migrate_a_prisma_project() {
    let project = NodeProject::install(&["safemig", &platform_package()]);
    let binary = format!("node_modules/@safemig/{}/bin/safemig", platform_package());
    assert!(project.path().join(binary).is_file());

    let deployed = project.npx_safemig(&["deploy"]).expect(0);
    assert!(
        deployed.stdout.contains("3 migrations applied"),
        "{}",
        deployed.stdout
    );
    let status = project.npx_safemig(&["status"]).expect(0);
    assert!(
        status.stdout.contains("Database is up to date."),
        "{}",
        status.stdout
    );

    project.add_migration(
        "20240501000000_add_slug",
        "ALTER TABLE \"Post\" ADD COLUMN \"slug\" TEXT;\n",
    );
    project.npx_safemig(&["status"]).expect(8);
    let script = to_run(
        project
            .offline("npm")
            .args(["run", "migrate"])
            .output()
            .unwrap(),
    )
    .expect(0);
    assert!(
        script.stdout.contains("1 migration applied"),
        "{}",
        script.stdout
    );

    project.add_migration(
        "20240601000000_broken",
        "CREATE TABLE \"Broken\" (id INTEGER REFERENCES;\n",
    );
    let failed = project.npx_safemig(&["deploy"]).expect(6);
    assert!(failed.stderr.contains("error[P3018]"), "{}", failed.stderr);
}

/// Waits for `child`, failing the test if it takes longer than 20 s.
fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the launcher did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A signal sent to the launcher reaches safemig, and the launcher exits with safemig's
/// code; when safemig dies of a signal, the launcher dies of the same one.
#[test]
fn launcher_passes_signals_and_exit_codes_through() {
    let project = NodeProject::install(&["safemig", &platform_package()]);
    for (signal, code) in [
        (Signal::SIGTERM, 143),
        (Signal::SIGINT, 130),
        (Signal::SIGHUP, 129),
    ] {
        let mut launcher = project
            .launcher()
            .args(["run", "--migrate=off", "--", "sleep", "30"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(launcher.stderr.take().unwrap());
        let mut timeline = String::new();
        while !timeline.contains("started pid") {
            assert_ne!(stderr.read_line(&mut timeline).unwrap(), 0, "{timeline}");
        }
        kill(Pid::from_raw(launcher.id() as i32), signal).unwrap();
        let status = wait(&mut launcher);
        stderr.read_to_string(&mut timeline).unwrap();
        assert_eq!(status.code(), Some(code), "{signal}: {timeline}");
        assert!(
            timeline.contains(&format!("received {signal}")),
            "{timeline}"
        );
    }

    // safemig handles SIGTERM and SIGINT itself; a SIGKILL to it is a death by signal,
    // which the launcher passes on as its own.
    let mut launcher = project
        .launcher()
        .args(["run", "--migrate=off", "--", "sleep", "30"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let children = format!("/proc/{0}/task/{0}/children", launcher.id());
    let started = Instant::now();
    let safemig = loop {
        let text = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            break pid.parse::<i32>().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "safemig did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    kill(Pid::from_raw(safemig), Signal::SIGKILL).unwrap();
    let status = wait(&mut launcher);
    assert_eq!(status.signal(), Some(Signal::SIGKILL as i32), "{status:?}");
}

/// Without the platform package (optional dependencies omitted, or none for this
/// platform), the launcher says which package is missing and how to get one, and exits 127.
#[test]
fn launcher_without_a_binary_says_what_to_install() {
    // Offline, npm skips the optional dependencies it cannot fetch, as `--omit=optional` would.
    let project = NodeProject::install(&["safemig"]);
    assert!(!project.path().join("node_modules/@safemig").exists());
    let package = format!("@safemig/{}", platform_package());
    let missing = to_run(project.launcher().arg("--version").output().unwrap()).expect(127);
    assert!(
        missing.stderr.contains(&format!(
            "the package {package}, which holds the safemig binary for this platform (linux {}",
            node_arch()
        )),
        "{}",
        missing.stderr
    );
    // The advice names the platform's tarball beside safemig's own, and runs as printed.
    let advice = "Install it from the tarball beside safemig's own: ";
    let command = missing
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix(advice))
        .unwrap_or_else(|| panic!("no `{advice}` line:\n{}", missing.stderr));
    let tarball = dist().tarball(&platform_package());
    assert_eq!(
        command,
        format!("npm install --offline {}", tarball.display())
    );
    run_tool(project.offline("sh").args(["-c", command]));
    let version = to_run(project.launcher().arg("--version").output().unwrap()).expect(0);
    assert!(version.stdout.starts_with("safemig "), "{}", version.stdout);

    // Installed from a copy of safemig's tarball alone: both ways, by name.
    let alone = tempfile::tempdir().unwrap();
    let copy = alone
        .path()
        .join(dist().tarball("safemig").file_name().unwrap());
    std::fs::copy(dist().tarball("safemig"), &copy).unwrap();
    let project = NodeProject::install_tarballs(&[copy]);
    let missing = to_run(project.launcher().arg("--version").output().unwrap()).expect(127);
    let version = &dist().version;
    for advice in [
        format!("Install it from a registry: npm install {package}@{version}"),
        format!(
            "or, offline, from the release's tarballs: npm install --offline \
             ./safemig-{}-{version}.tgz ./safemig-{version}.tgz",
            platform_package()
        ),
    ] {
        assert!(
            missing.stderr.contains(&advice),
            "{advice}\n{}",
            missing.stderr
        );
    }

    // A CPU no package is built for, as the launcher sees it when Node reports one.
    let preload = project.path().join("riscv64.js");
    std::fs::write(
        &preload,
        "Object.defineProperty(process, 'arch', { value: 'riscv64' });",
    )
    .unwrap();
    let other = to_run(
        Command::new("node")
            .arg("--require")
            .arg(&preload)
            .arg(project.path().join("node_modules/safemig/bin/safemig.js"))
            .arg("--version")
            .output()
            .unwrap(),
    )
    .expect(127);
    assert!(
        other
            .stderr
            .contains("no prebuilt safemig binary for this platform (linux riscv64")
            && other.stderr.contains(&platform_package()),
        "{}",
        other.stderr
    );

    // A binary installed another way.
    let version = to_run(
        project
            .launcher()
            .arg("--version")
            .env("SAFEMIG_BINARY_PATH", dist().host_binary())
            .output()
            .unwrap(),
    )
    .expect(0);
    assert!(version.stdout.starts_with("safemig "), "{}", version.stdout);
}
