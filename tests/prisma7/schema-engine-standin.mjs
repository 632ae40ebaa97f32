#!/usr/bin/env node
// A stand-in for Prisma 7's native `schema-engine` binary, for the interop tests
// (tests/it/prisma.rs): Prisma 7 downloads that binary from a host unreachable here, and
// no npm package ships it. The `prisma` package does ship the same engine built to
// WebAssembly (build/schema_engine_bg.wasm); this script runs it behind the native
// binary's interface, so the real Prisma 7 CLI drives it through PRISMA_SCHEMA_ENGINE_BINARY.
//
// The interface, as the CLI (prisma/build/cli.js) uses it:
// - `--datamodels FILE…` (the schema files) and `--datasource '{"url": …}'`;
// - `cli can-connect-to-database` / `cli create-database`: one answer through the exit
//   code, errors as JSON log lines on stderr (the CLI skips the first line);
// - otherwise line-delimited JSON-RPC 2.0 on stdin/stdout, errors as
//   `{"error": {"data": {"is_panic", "message", "error_code"}}}`, until stdin closes or
//   SIGTERM (the CLI ends it right after its last request).
//
// Where the WebAssembly engine reaches the database through a driver adapter, the adapter
// is made to behave as the native engine does: PostgreSQL scripts go whole, as one simple
// query (one implicit transaction; the stock adapter splits them on every `;`), on one
// connection (the one holding the migration lock); SQLite timestamps are INTEGER
// milliseconds; a relative SQLite path opens from this process's working directory, which
// the CLI sets (the `--config` file's folder, else its own). Facts:
// ../../../shared/prisma-offline.md.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

import * as glue from "@prisma/schema-engine-wasm/schema_engine_bg";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";

const require = createRequire(import.meta.url);

/** The command line: `--datamodels` (repeated), `--datasource`, and a `cli` subcommand. */
function parseArguments(argv) {
  const parsed = { datamodels: [], datasource: undefined, cli: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--datamodels") parsed.datamodels.push(argv[++i]);
    else if (arg === "--datasource") parsed.datasource = JSON.parse(argv[++i]);
    else if (arg === "--enabled-preview-features" || arg === "--extension-types") i++;
    else if (arg === "cli") parsed.cli = argv[++i];
    else throw new Error(`schema-engine stand-in: unknown argument ${arg}`);
  }
  return parsed;
}

/** The driver adapter for a URL, behaving as the native engine's connector does. */
function adapterFor(url) {
  if (url.startsWith("file:")) {
    // The native engine ignores the query string (`?connection_limit=1`); better-sqlite3
    // would take it as part of the file name.
    const file = url.slice("file:".length).split("?")[0];
    return new PrismaBetterSqlite3({ url: `file:${file}` }, { timestampFormat: "unixepoch-ms" });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const schema = new URL(url).searchParams.get("schema") ?? undefined;
    const config = { connectionString: url, max: 1 };
    if (schema) config.options = `-c search_path="${schema}"`;
    const factory = new PrismaPg(config, { schema });
    const connect = factory.connect.bind(factory);
    factory.connect = async () => {
      const adapter = await connect();
      adapter.executeScript = async (script) => {
        try {
          await adapter.client.query(script);
        } catch (error) {
          adapter.onError(error);
        }
      };
      return adapter;
    };
    return factory;
  }
  throw new Error(`schema-engine stand-in: no driver adapter for ${url.split(":")[0]}: URLs`);
}

/** The WebAssembly engine of the installed `prisma` package, with its wasm-bindgen glue. */
async function loadEngine(datamodels, url) {
  const wasmPath = join(dirname(require.resolve("prisma/package.json")), "build", "schema_engine_bg.wasm");
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const instance = new WebAssembly.Instance(module, { "./schema_engine_bg.js": glue });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start?.();
  const files = datamodels.map((path) => [path, readFileSync(path, "utf8")]);
  const log = (line) => process.stderr.write(`${line}\n`);
  return glue.SchemaEngine.new({ datamodels: files }, log, bindMigrationAwareSqlAdapterFactory(adapterFor(url)));
}

/** A JSON log line as the native engine writes them on stderr. */
function logLine(level, fields) {
  return JSON.stringify({ timestamp: new Date().toISOString(), level, fields, target: "schema_engine::logger" });
}

/** The native engine's JSON-RPC error for what the WebAssembly engine threw. */
function rpcError(error) {
  const isPanic = error instanceof WebAssembly.RuntimeError;
  const data = { is_panic: isPanic, message: String(error?.message ?? error) };
  if (error?.code) data.error_code = error.code;
  if (error?.meta) data.meta = error.meta;
  if (isPanic) data.error = { message: data.message };
  return { code: 4466, message: "An error happened. Check the data field for details.", data };
}

/** `cli can-connect-to-database` and `cli create-database`. */
async function runCli(command, url) {
  const sqliteFile = url.startsWith("file:") ? url.slice("file:".length).split("?")[0] : undefined;
  if (command === "can-connect-to-database" && sqliteFile !== undefined) {
    try {
      readFileSync(sqliteFile, { flag: "r" });
    } catch {
      return fail("P1003", `Database \`${sqliteFile}\` does not exist`);
    }
    return 0;
  }
  if (command !== "can-connect-to-database" && command !== "create-database") {
    return fail(undefined, `schema-engine stand-in: unknown cli command ${command}`);
  }
  const factory = adapterFor(url);
  try {
    const adapter = await factory.connect();
    await adapter.queryRaw({ sql: "SELECT 1", args: [], argTypes: [] });
    await adapter.dispose();
    return 0;
  } catch (error) {
    if (command === "create-database" && sqliteFile !== undefined) return fail(undefined, String(error));
    const missing = error?.cause?.code === "3D000" || /does not exist/.test(String(error?.message));
    return fail(missing ? "P1003" : "P1001", String(error?.message ?? error));
  }
}

function fail(errorCode, message) {
  process.stderr.write(`${logLine("INFO", { message: "Starting schema engine CLI" })}\n`);
  process.stderr.write(`${logLine("ERROR", { error_code: errorCode, message })}\n`);
  return 1;
}

/** Answers JSON-RPC requests one at a time, in order, until stdin closes. */
async function serve(datamodels, url) {
  const engine = await loadEngine(datamodels, url);
  const methods = { getDatabaseVersion: "version" };
  let queue = Promise.resolve();
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (line) => {
    if (line.trim() === "") return;
    const request = JSON.parse(line);
    queue = queue.then(async () => {
      const reply = { jsonrpc: "2.0", id: request.id };
      try {
        const method = methods[request.method] ?? request.method;
        if (typeof engine[method] !== "function") throw new Error(`the WebAssembly engine has no method ${request.method}`);
        const result = await engine[method](request.params ?? {});
        reply.result = result ?? null;
      } catch (error) {
        reply.error = rpcError(error);
      }
      process.stdout.write(`${JSON.stringify(reply)}\n`);
    });
  });
  lines.on("close", () => queue.finally(() => process.exit(0)));
}

process.on("SIGTERM", () => process.exit(0));
const args = parseArguments(process.argv.slice(2));
const url = args.datasource?.url;
if (!url) {
  process.exitCode = fail(undefined, "schema-engine stand-in: no --datasource url");
} else if (args.cli) {
  process.exit(await runCli(args.cli, url));
} else {
  await serve(args.datamodels, url);
}
