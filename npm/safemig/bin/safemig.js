#!/usr/bin/env node
// The `safemig` command of the npm package `safemig`.
//
// The binary itself comes in a platform package (`@safemig/linux-x64-musl`, …): this
// package lists them all as optional dependencies, and npm installs only the one whose
// `os`/`cpu`/`libc` fields match the machine. No install script, no download: an offline or
// locked-down build machine installs safemig like any other package.
//
// Node cannot replace itself with another program (no exec before Node 22.15), so this
// process stays between its caller and safemig and must be invisible: it passes on the
// signals a container runtime, a supervisor or a terminal sends it, and ends the way safemig
// ended, with its exit code or by its signal. Generated packages: scripts/dist.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

// The signals `safemig run` itself passes on to the app.
const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
// The shell's "command not found": there is no binary to run.
const NO_BINARY = 127;
// The shell's "found but cannot be executed".
const CANNOT_EXECUTE = 126;

const manifest = require('../package.json');

function platformPackage() {
  const suffix = process.platform === 'linux' ? '-musl' : '';
  return `@safemig/${process.platform}-${process.arch}${suffix}`;
}

function describePlatform() {
  let libc = '';
  if (process.platform === 'linux') {
    const header = process.report.getReport().header;
    libc = header.glibcVersionRuntime ? ', glibc' : ', musl';
  }
  return `${process.platform} ${process.arch}${libc}`;
}

// The tarball the package `safemig` was installed from, when it was one on disk (an offline
// or air-gapped install): npm records its `file:` source, relative to the project, in
// node_modules/.package-lock.json. Undefined when npm got it from a registry.
function sourceTarball() {
  const packageDir = path.resolve(__dirname, '..');
  const modules = path.dirname(packageDir);
  try {
    const lock = JSON.parse(fs.readFileSync(path.join(modules, '.package-lock.json'), 'utf8'));
    const project = path.dirname(modules);
    const key = path.relative(project, packageDir).split(path.sep).join('/');
    const resolved = lock.packages[key].resolved;
    return resolved.startsWith('file:') ? path.resolve(project, resolved.slice(5)) : undefined;
  } catch {
    return undefined;
  }
}

// How to install the platform package `name`. npm cannot fetch an optional dependency
// offline and goes on without it, so an install from the release tarballs needs the
// platform's tarball too: name it where it lies beside safemig's own (scripts/dist packs
// them together), else say what it is called, beside the registry command.
function installAdvice(name) {
  // npm pack names @scope/name-V as scope-name-V.tgz.
  const platformTarball = `${name.slice(1).replace('/', '-')}-${manifest.version}.tgz`;
  const source = sourceTarball();
  if (source) {
    const beside = path.join(path.dirname(source), platformTarball);
    if (fs.existsSync(beside)) {
      return [`Install it from the tarball beside safemig's own: npm install --offline ${shellWord(beside)}`];
    }
  }
  return [
    `Install it from a registry: npm install ${name}@${manifest.version}`,
    `or, offline, from the release's tarballs: npm install --offline ./${platformTarball} ` +
      `./safemig-${manifest.version}.tgz`,
  ];
}

// `word` as a shell reads it back unchanged, so that printed advice runs as printed.
function shellWord(word) {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

function noBinary(name) {
  const published = Object.keys(manifest.optionalDependencies || {});
  const fromSource =
    'Or build safemig from source (see its README, "Install") and set SAFEMIG_BINARY_PATH to the binary.';
  const lines = published.includes(name)
    ? [
        `safemig: the package ${name}, which holds the safemig binary for this platform ` +
          `(${describePlatform()}), is not installed.`,
        'npm installs it as an optional dependency of safemig; it is missing when optional ' +
          'dependencies were omitted (--omit=optional, --no-optional, yarn --ignore-optional), ' +
          'npm installed safemig offline from its tarball (npm cannot fetch an optional ' +
          'dependency offline and goes on without it), or node_modules was copied from another ' +
          'platform.',
        ...installAdvice(name),
        fromSource,
      ]
    : [
        `safemig: no prebuilt safemig binary for this platform (${describePlatform()}); ` +
          `the npm package has them for: ${published.map((p) => p.replace('@safemig/', '')).join(', ')}.`,
        `Run safemig on one of those (a Linux container). ${fromSource}`,
      ];
  console.error(lines.join('\n'));
  process.exit(NO_BINARY);
}

function binaryPath() {
  if (process.env.SAFEMIG_BINARY_PATH) {
    return process.env.SAFEMIG_BINARY_PATH;
  }
  const name = platformPackage();
  try {
    return path.join(path.dirname(require.resolve(`${name}/package.json`)), 'bin', 'safemig');
  } catch {
    return noBinary(name);
  }
}

const binary = binaryPath();
const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' });

// A listener also keeps Node from dying of the signal itself: safemig decides what a
// signal means (a stop, a second stop, a reload of the app), and this process follows.
const forward = (signal) => child.kill(signal);
for (const signal of FORWARDED) {
  process.on(signal, forward);
}

child.on('error', (error) => {
  console.error(`safemig: cannot run ${binary}: ${error.message}`);
  process.exit(error.code === 'ENOENT' ? NO_BINARY : CANNOT_EXECUTE);
});

child.on('exit', (code, signal) => {
  if (signal === null) {
    process.exit(code);
  }
  // Die of the same signal, so the caller sees what safemig's death was: remove the
  // listeners (Node then restores the default action) and send it to ourselves.
  for (const forwarded of FORWARDED) {
    process.removeListener(forwarded, forward);
  }
  process.kill(process.pid, signal);
  // Still alive: the signal is ignored here, or this is PID 1, which signals without a
  // handler do not kill. Report it as shells do.
  process.exit(128 + os.constants.signals[signal]);
});
