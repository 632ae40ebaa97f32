//! How safemig is installed: the static binaries `scripts/dist` builds, the `FROM scratch`
//! image of `Containerfile`, and what every installation carries (completions, manual
//! pages, a version naming its commit). The npm packages are tested in `npm.rs`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use crate::harness::{Run, run_tool, safemig, to_run};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Fails the test unless `program` runs; the tests install nothing themselves.
#[track_caller]
pub fn require_tool(program: &str, version_arg: &str) {
    let found = Command::new(program).arg(version_arg).output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "{program} is needed and not installed: run scripts/test, which installs it"
    );
}

/// Whether the other CPU's binary is built and tested: `SAFEMIG_CROSS=1`, as
/// `scripts/test --cross` sets it before a release. Cross-building it is about 4 minutes of
/// the 2-core suite, so everyday runs build this machine's binary only, and the test that
/// needs the other one is ignored (listed as such) unless this is set.
pub fn cross() -> bool {
    std::env::var_os("SAFEMIG_CROSS").is_some_and(|v| v == "1")
}

/// The musl target of this machine's CPU, and of the other CPU safemig ships for.
fn targets() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "aarch64" => ("aarch64-unknown-linux-musl", "x86_64-unknown-linux-musl"),
        _ => ("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"),
    }
}

/// What `scripts/dist` built: binaries and npm tarballs, for this machine's CPU and, with
/// [`cross`], the other one.
pub struct Dist {
    dir: PathBuf,
    pub version: String,
}

impl Dist {
    pub fn binary(&self, target: &str) -> PathBuf {
        self.dir.join(format!("safemig-{target}"))
    }

    pub fn host_binary(&self) -> PathBuf {
        self.binary(targets().0)
    }

    /// The npm tarball of `package` (`safemig`, `linux-x64-musl`, …).
    pub fn tarball(&self, package: &str) -> PathBuf {
        let file = match package {
            "safemig" => format!("safemig-{}.tgz", self.version),
            platform => format!("safemig-{platform}-{}.tgz", self.version),
        };
        let path = self.dir.join("npm").join(file);
        assert!(
            path.is_file(),
            "scripts/dist did not make {}",
            path.display()
        );
        path
    }
}

/// Runs `scripts/dist` once per test process. Cargo rebuilds nothing when `scripts/test`
/// built the same binaries just before, as it does.
pub fn dist() -> &'static Dist {
    static DIST: OnceLock<Dist> = OnceLock::new();
    DIST.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dist");
        let (host, other) = targets();
        let mut command = Command::new(repo("scripts/dist"));
        command.arg("--out").arg(&dir).arg(host);
        if cross() {
            command.arg(other);
        }
        // Without the variables cargo sets for this test (CARGO_PKG_NAME, OUT_DIR, …): build
        // scripts that watch them, ring's among them, would see them change and rebuild
        // half the dependency tree on every run.
        for (name, _) in std::env::vars() {
            let set_by_cargo = [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"]
                    .contains(&name.as_str());
            if set_by_cargo {
                command.env_remove(name);
            }
        }
        run_tool(&mut command);
        Dist {
            dir,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    })
}

fn readelf(args: &str, binary: &Path) -> String {
    let out = run_tool(Command::new("readelf").arg(args).arg(binary));
    String::from_utf8(out.stdout).unwrap()
}

/// A static binary has no program interpreter (`ld.so`) and needs no shared library, so it
/// runs on any Linux of its CPU: glibc, musl (Alpine) or none at all (`FROM scratch`).
#[test]
fn dist_binaries_are_static_and_carry_tls_roots() {
    require_tool("readelf", "--version");
    let dist = dist();
    let (host, other) = targets();
    for target in std::iter::once(host).chain(cross().then_some(other)) {
        let binary = dist.binary(target);
        let headers = readelf("-lW", &binary);
        assert!(
            !headers.contains("INTERP"),
            "{target}: dynamically linked\n{headers}"
        );
        let dynamic = readelf("-dW", &binary);
        assert!(
            !dynamic.contains("(NEEDED)"),
            "{target}: needs libraries\n{dynamic}"
        );
        // rustls' bundled roots (webpki-roots): a scratch image has no CA files to read.
        let bytes = std::fs::read(&binary).unwrap();
        assert!(
            bytes.windows(12).any(|w| w == b"ISRG Root X1"),
            "{target}: no bundled TLS root certificates"
        );
    }
}

/// The static x86-64 binary stays within 8 MB (the size a `FROM scratch` image is), and the
/// sizes the docs show are those of what `scripts/dist` builds: within 10 %, so that growth
/// is noticed and recorded (`scripts/dist --record` rewrites them) without every commit
/// having to.
#[test]
fn docs_show_the_sizes_scripts_dist_builds() {
    let dist = dist();
    let size = |path: PathBuf| std::fs::metadata(path).unwrap().len() as f64;
    let (host, other) = targets();
    let mut built = vec![(
        "npm tarball ",
        size(dist.tarball(super::npm::platform_package().as_str())),
    )];
    for target in std::iter::once(host).chain(cross().then_some(other)) {
        let bytes = size(dist.binary(target));
        if target.starts_with("x86_64") {
            assert!(
                bytes <= 8e6,
                "the x86-64 binary is {bytes} bytes, over 8 MB"
            );
            built.push(("x86-64 binary ", bytes));
        } else {
            built.push(("arm64 ", bytes));
        }
    }
    for doc in ["README.md", "docs/install.md", "CONTRIBUTING.md"] {
        let text = std::fs::read_to_string(repo(doc)).unwrap();
        let summary = text
            .split("<!-- sizes -->")
            .nth(1)
            .and_then(|rest| rest.split("<!-- /sizes -->").next())
            .unwrap_or_else(|| panic!("{doc}: no <!-- sizes --> summary"));
        for &(label, bytes) in &built {
            let shown: f64 = summary
                .split(label)
                .nth(1)
                .and_then(|rest| rest.split(" MB").next())
                .and_then(|mb| mb.parse().ok())
                .unwrap_or_else(|| panic!("{doc}: no `{label}N MB` in {summary:?}"));
            let off = (shown * 1e6 - bytes).abs() / bytes;
            assert!(
                off <= 0.10,
                "{doc} shows {label}{shown} MB, scripts/dist built {bytes} bytes: \
                 run scripts/dist --record"
            );
        }
    }
}

/// A copy of the example Prisma project, without its database.
pub fn example_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run_tool(
        Command::new("cp")
            .arg("-r")
            .arg(format!("{}/.", repo("examples/blog").display()))
            .arg(dir.path()),
    );
    let _ = std::fs::remove_file(dir.path().join("prisma/dev.db"));
    dir
}

/// The other CPU's binary, run by qemu's user-mode emulator: deploys the example project.
/// Run by `scripts/test --cross` (which sets SAFEMIG_CROSS=1 and includes ignored tests).
#[test]
#[ignore = "cross-builds the other CPU's binary: scripts/test --cross runs it"]
fn other_cpu_binary_deploys_under_qemu() {
    assert!(
        cross(),
        "needs the other CPU's binary: run it with SAFEMIG_CROSS=1"
    );
    let (_, other) = targets();
    let qemu = format!("qemu-{}-static", other.split('-').next().unwrap());
    require_tool(&qemu, "--version");
    let binary = dist().binary(other);
    let project = example_project();
    let run = |args: &[&str]| {
        to_run(
            Command::new(&qemu)
                .arg(&binary)
                .args(args)
                .current_dir(project.path())
                .env_remove("DATABASE_URL")
                .output()
                .unwrap(),
        )
    };
    let deployed = run(&["deploy"]).expect(0);
    assert!(
        deployed.stdout.contains("3 migrations applied"),
        "{}",
        deployed.stdout
    );
    let status = run(&["status"]).expect(0);
    assert!(
        status.stdout.contains("Database is up to date."),
        "{}",
        status.stdout
    );
}

// ---------------------------------------------------------------------------------------
// The container image

/// `podman run` options this test machine needs, harmless elsewhere: crun refuses hybrid
/// cgroup hierarchies (runc takes them), and podman's default limits are higher than a
/// process without CAP_SYS_RESOURCE may set.
const PODMAN_RUN: &[&str] = &[
    "run",
    "--rm",
    "--runtime",
    "runc",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// The image `Containerfile` makes, with its build stage replaced by the binary
/// `scripts/dist` built (`--build-context build=…`): the build stage compiles on Alpine from
/// a registry image, which this test may not download.
struct Image {
    tag: String,
}

impl Image {
    fn build(binary: &Path) -> Image {
        require_tool("podman", "--version");
        let context = tempfile::tempdir().unwrap();
        let stage = context.path().join("build/out");
        std::fs::create_dir_all(&stage).unwrap();
        std::fs::copy(binary, stage.join("safemig")).unwrap();
        let tag = format!("localhost/safemig-test:{}", std::process::id());
        run_tool(
            Command::new("podman")
                .args(["build", "--pull=never", "--quiet", "-t", &tag, "-f"])
                .arg(repo("Containerfile"))
                .arg(format!(
                    "--build-context=build={}",
                    context.path().join("build").display()
                ))
                .arg(context.path()),
        );
        Image { tag }
    }

    /// `podman run IMAGE ARGS` with `project` as the working directory, on the host's
    /// network (for a server on 127.0.0.1) or none.
    fn run(&self, project: &Path, network: &str, args: &[&str]) -> Run {
        let output = Command::new("podman")
            .args(PODMAN_RUN)
            .args(["--network", network, "-w", "/project", "-v"])
            .arg(format!("{}:/project", project.display()))
            .arg(&self.tag)
            .args(args)
            .output()
            .unwrap();
        to_run(output)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rmi", "-f", &self.tag])
            .output();
    }
}

/// The static binary alone in a `FROM scratch` image (no libc, no shell, no CA files):
/// deploys the example project, reports status with its exit code, supervises a command as
/// PID 1, and connects over TLS.
#[test]
fn scratch_image_deploys_supervises_and_speaks_tls() {
    let image = Image::build(&dist().host_binary());
    let project = example_project();
    let dir = project.path();

    let deployed = image.run(dir, "none", &["deploy"]).expect(0);
    assert!(
        deployed.stdout.contains("3 migrations applied"),
        "{}",
        deployed.stdout
    );

    std::fs::create_dir(dir.join("prisma/migrations/20240501000000_add_slug")).unwrap();
    std::fs::write(
        dir.join("prisma/migrations/20240501000000_add_slug/migration.sql"),
        "ALTER TABLE \"Post\" ADD COLUMN \"slug\" TEXT;\n",
    )
    .unwrap();
    image.run(dir, "none", &["status"]).expect(8);

    // The image as an entrypoint: migrate, then run the app (here safemig itself, the only
    // program in the image) as PID 1's child, and exit with its code.
    let supervised = image
        .run(dir, "none", &["run", "--", "/safemig", "status"])
        .expect(0);
    assert!(
        supervised
            .stderr
            .contains("migrations verified: deploy finished"),
        "{}",
        supervised.stderr
    );
    assert!(
        supervised.stdout.contains("Database is up to date."),
        "{}",
        supervised.stdout
    );

    let server = TlsPostgres::start(dir);
    let url = format!(
        "postgresql://app:pw@127.0.0.1:{}/app?sslmode=verify-full&sslcert=/project/ca.pem",
        server.port
    );
    std::fs::create_dir(dir.join("pg")).unwrap();
    std::fs::write(
        dir.join("pg/migration_lock.toml"),
        "provider = \"postgresql\"\n",
    )
    .unwrap();
    // The server's error can only arrive over the verified TLS connection.
    let refused = image
        .run(dir, "host", &["status", "--dir", "pg", "--url", &url])
        .expect(3);
    assert!(
        refused.stderr.contains(TlsPostgres::MESSAGE),
        "{}",
        refused.stderr
    );
}

/// Just enough of a PostgreSQL server to prove a TLS connection: accepts the SSLRequest,
/// completes the TLS handshake with a certificate of its own test CA (written to
/// `ca.pem`), and answers the startup message with an error carrying [`Self::MESSAGE`].
struct TlsPostgres {
    port: u16,
}

impl TlsPostgres {
    const MESSAGE: &str = "hello over TLS from the test server";

    fn start(dir: &Path) -> TlsPostgres {
        require_tool("openssl", "version");
        let (chain, key) = test_certificates(dir);
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut tcp) = stream else { return };
                let mut ssl_request = [0u8; 8];
                if tcp.read_exact(&mut ssl_request).is_err() || tcp.write_all(b"S").is_err() {
                    continue;
                }
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut length = [0u8; 4];
                if tls.read_exact(&mut length).is_err() {
                    continue;
                }
                let mut startup = vec![0u8; u32::from_be_bytes(length) as usize - 4];
                let _ = tls.read_exact(&mut startup);
                let mut fields = Vec::new();
                for (code, value) in [(b'S', "FATAL"), (b'C', "XX000"), (b'M', Self::MESSAGE)] {
                    fields.push(code);
                    fields.extend_from_slice(value.as_bytes());
                    fields.push(0);
                }
                fields.push(0);
                let mut reply = vec![b'E'];
                reply.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
                reply.extend_from_slice(&fields);
                let _ = tls.write_all(&reply);
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        TlsPostgres { port }
    }
}

/// A test CA (`dir/ca.pem`) and a certificate it signed for 127.0.0.1.
fn test_certificates(
    dir: &Path,
) -> (
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rustls::pki_types::pem::PemObject;
    let script = "set -e
        key='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2'
        openssl req -x509 $key -subj '/CN=safemig test CA' -keyout ca.key -out ca.pem
        openssl req -x509 $key -CA ca.pem -CAkey ca.key -subj /CN=127.0.0.1 \\
            -addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=CA:FALSE \\
            -keyout server.key -out server.pem";
    run_tool(Command::new("sh").arg("-c").arg(script).current_dir(dir));
    let chain = rustls::pki_types::CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    (chain, key)
}

// ---------------------------------------------------------------------------------------
// What every installation carries

#[test]
fn version_names_the_commit() {
    let run = safemig(Path::new("."), &["--version"]).expect(0);
    let head = run_tool(
        Command::new("git")
            .args(["log", "-1", "--format=%h %cs", "--abbrev=9"])
            .current_dir(env!("CARGO_MANIFEST_DIR")),
    );
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(
        run.stdout.trim(),
        format!("safemig {} ({})", env!("CARGO_PKG_VERSION"), head.trim())
    );
}

/// bash's completion function, called as bash calls it on `safemig de<TAB>` and
/// `safemig run --mi<TAB>`.
#[test]
fn bash_completion_completes_commands_and_options() {
    require_tool("bash", "--version");
    let script = safemig(Path::new("."), &["completions", "bash"])
        .expect(0)
        .stdout;
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "{script}\nCOMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT={point}\n\
             _safemig safemig '{current}' '{previous}'; echo \"${{COMPREPLY[*]}}\"",
            words = words.join(" "),
            cword = words.len() - 1,
            point = line.len(),
            current = words[words.len() - 1],
            previous = words[words.len() - 2],
        );
        let out = run_tool(Command::new("bash").arg("-c").arg(program));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(complete("safemig de"), "deploy");
    assert_eq!(complete("safemig run --mi"), "--migrate");
    assert_eq!(complete("safemig completions f"), "fish");
}

#[test]
fn completions_for_every_shell_name_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = safemig(Path::new("."), &["completions", shell])
            .expect(0)
            .stdout;
        for command in [
            "status", "deploy", "resolve", "run", "drill", "lint", "split",
        ] {
            assert!(script.contains(command), "{shell}: no `{command}`");
        }
    }
    safemig(Path::new("."), &["completions", "tcsh"]).expect(2);
}

/// The pages render with `man` and show each command's own options.
#[test]
fn man_pages_render() {
    require_tool("man", "--version");
    let render = |page: &str| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("page.1");
        std::fs::write(&file, page).unwrap();
        let out = run_tool(
            Command::new("man")
                .arg("-l")
                .arg(&file)
                .env("MANWIDTH", "100")
                .env_remove("MAN_KEEP_FORMATTING")
                .env("PAGER", "cat"),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let main = render(&safemig(Path::new("."), &["man"]).expect(0).stdout);
    assert!(main.contains("safemig-deploy(1)"), "{main}");
    assert!(main.contains("--lock-timeout"), "{main}");
    let run = render(&safemig(Path::new("."), &["man", "run"]).expect(0).stdout);
    assert!(
        run.contains("safemig-run(1)") && run.contains("--stop-timeout"),
        "{run}"
    );
    let compose = render(
        &safemig(Path::new("."), &["man", "lint", "compose"])
            .expect(0)
            .stdout,
    );
    assert!(compose.contains("safemig-lint-compose(1)"), "{compose}");
    let unknown = safemig(Path::new("."), &["man", "migrate"]).expect(2);
    assert!(
        unknown.stderr.contains("no command `migrate`"),
        "{}",
        unknown.stderr
    );
}
