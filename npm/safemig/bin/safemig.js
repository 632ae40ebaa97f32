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

function noBinary(name) {
  const published = Object.keys(manifest.optionalDependencies || {});
  const fromSource =
    'build safemig from source (see its README, "Install") and set SAFEMIG_BINARY_PATH to the binary';
  const lines = published.includes(name)
    ? [
        `safemig: the package ${name}, which holds the safemig binary for this platform ` +
          `(${describePlatform()}), is not installed.`,
        'npm installs it as an optional dependency of safemig; it is missing when optional ' +
          'dependencies were omitted (--omit=optional, --no-optional, yarn --ignore-optional) ' +
          'or node_modules was copied from another platform.',
        `Install it (npm install ${name}@${manifest.version}), or ${fromSource}.`,
      ]
    : [
        `safemig: no prebuilt safemig binary for this platform (${describePlatform()}); ` +
          `the npm package has them for: ${published.map((p) => p.replace('@safemig/', '')).join(', ')}.`,
        `Run safemig on one of those (a Linux container), or ${fromSource}.`,
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
