// Helpers for the end-to-end tests: they generate real services with the built CLI, install them with npm,
// run their own scripts against the real NATS and PostgreSQL, and start the built server.
// Every failure carries the output of what failed, so that a CI log shows why.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { DATABASE_URL, NATS_URL } from './server-urls.js';

/** The package's own CLI, as built by the global setup. */
export const CLI = fileURLToPath(new URL('../../dist/cli/saasquatch.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export { DATABASE_URL, NATS_URL };
/** A PostgreSQL URL nothing listens on, to see a service report its database down. */
export const CLOSED_DATABASE_URL = 'postgres://postgres@127.0.0.1:1/test';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

// ---------------------------------------------------------------------------------------------------------
// Temporary folders and processes, cleaned in afterAll of the test file that uses them.

const folders: string[] = [];
const servers = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of servers) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
  servers.clear();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A new empty folder under the system's temporary folder, removed after the file's tests. */
export function tempFolder(prefix = 'saasquatch-e2e-'): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}

// ---------------------------------------------------------------------------------------------------------
// The Node.js the generated services run on.

/**
 * Generated services declare and are tested on this Node.js LTS (SPEC 2), whatever Node runs the generator.
 * The npm registry's `node-<platform>-<arch>` package ships its binary: it is installed once per machine into
 * the system's temporary folder and reused by every test file and run.
 */
const SERVICE_NODE_MAJOR = 22;
const SERVICE_NODE_PACKAGE = `node-${process.platform}-${process.arch}`;

let serviceNodeMajor = SERVICE_NODE_MAJOR;
let serviceNodeBin: string | undefined;

/** Runs this test file's services on another Node.js major (call it at the top level, before any test runs). */
export function useServiceNode(major: number): void {
  serviceNodeMajor = major;
}

/** The Node.js major this test file runs its services on. */
export function serviceNodeVersion(): number {
  return serviceNodeMajor;
}

/** The folder holding the service's `node`; npm, tsc and jest (`#!/usr/bin/env node`) run on it when first on PATH. */
async function installServiceNode(major: number): Promise<string> {
  if (Number(process.versions.node.split('.')[0]) === major) return join(process.execPath, '..');
  const cache = join(tmpdir(), `saasquatch-e2e-node-${major}`);
  const bin = (root: string) => join(root, 'node_modules', SERVICE_NODE_PACKAGE, 'bin');
  if (existsSync(join(bin(cache), 'node'))) return bin(cache);
  // Test files start in parallel: each installs into a folder of its own and the first rename wins.
  const staging = mkdtempSync(`${cache}-`);
  const start = Date.now();
  try {
    writeFileSync(join(staging, 'package.json'), '{"private":true}\n');
    assertSucceeded(
      `npm install ${SERVICE_NODE_PACKAGE}@${major}`,
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `${SERVICE_NODE_PACKAGE}@${major}`], {
        cwd: staging,
      }),
    );
    try {
      renameSync(staging, cache);
    } catch (error) {
      if (!existsSync(join(bin(cache), 'node'))) throw error;
    }
    console.log(`[e2e] installed ${SERVICE_NODE_PACKAGE}@${major} in ${((Date.now() - start) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return bin(cache);
}

beforeAll(async () => {
  serviceNodeBin = await installServiceNode(serviceNodeMajor);
}, 300_000);

/** The `node` binary of the generated services. */
export function serviceNode(): string {
  if (!serviceNodeBin) throw new Error('the Node.js of the generated services is not installed yet (call this inside a test or hook)');
  return join(serviceNodeBin, 'node');
}

// ---------------------------------------------------------------------------------------------------------
// Running commands.

/**
 * The environment of every command the tests run: the caller's, without the `npm_*` variables that an outer
 * `npm test` sets (they would point a nested npm at this repository), with the service URLs.
 */
export function serviceEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && !key.startsWith('VITEST') && key !== 'NODE_ENV') env[key] = value;
  }
  Object.assign(env, { NATS_URL, DATABASE_URL, CI: process.env.CI ?? 'true', NO_UPDATE_NOTIFIER: '1' });
  if (serviceNodeBin) env.PATH = `${serviceNodeBin}${delimiter}${env.PATH ?? ''}`;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Runs a command to its end, without a terminal on stdin (as CI does). Never throws: look at `code`. */
export function run(command: string, args: readonly string[], options: SpawnOptions & { cwd: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: serviceEnv(), ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The last `max` characters of a command's output, for an error message. */
function tail(text: string, max = 12_000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

export function describeRun(what: string, result: RunResult): string {
  return [
    `${what} exited with ${result.code ?? result.signal}`,
    '--- stdout ---',
    tail(result.stdout),
    '--- stderr ---',
    tail(result.stderr),
  ].join('\n');
}

/** Throws with the command's whole output unless it exited 0. */
export function assertSucceeded(what: string, result: RunResult): RunResult {
  if (result.code !== 0) throw new Error(describeRun(what, result));
  return result;
}

/** Runs the built `saasquatch` CLI in `cwd`. */
export function saasquatch(cwd: string, args: readonly string[]): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { cwd });
}

/**
 * Generates a service with the CLI into an empty folder named after it (the generator writes into the current
 * folder when it is empty) and returns that folder.
 */
export async function generateService(serviceName: string, args: readonly string[]): Promise<string> {
  const folder = join(tempFolder(), serviceName);
  mkdirSync(folder);
  const result = await saasquatch(folder, ['app', '--service-name', serviceName, ...args, '--skip-install']);
  assertSucceeded(`saasquatch app --service-name ${serviceName} ${args.join(' ')}`, result);
  if (!existsSync(join(folder, 'package.json'))) {
    throw new Error(describeRun(`saasquatch wrote no package.json in ${folder}`, result));
  }
  return folder;
}

/** `npm install` in the service; it must succeed with no warning about an engine (SPEC 2). */
export async function npmInstall(service: string): Promise<RunResult> {
  const result = assertSucceeded(
    `npm install in ${service}`,
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: service }),
  );
  if (/EBADENGINE/.test(result.stdout + result.stderr)) {
    throw new Error(describeRun(`npm install in ${service} warned about an engine (EBADENGINE)`, result));
  }
  return result;
}

/** Runs an npm script of the service, with NATS_URL and DATABASE_URL (and `env`) set; throws on failure. */
export async function npmRun(service: string, script: string, env: Record<string, string> = {}): Promise<RunResult> {
  return assertSucceeded(
    `npm run ${script} in ${service}`,
    await run('npm', ['run', script], { cwd: service, env: serviceEnv(env) }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// The service's own tests.

export interface JestSummary {
  line: string;
  passed: number;
  failed: number;
  skipped: number;
  total: number;
}

/** Reads jest's "Tests: 1 failed, 2 skipped, 7 passed, 10 total" line from its output. */
export function jestSummary(output: string): JestSummary | undefined {
  const line = output.split('\n').reverse().find((candidate) => /^Tests:\s+.*\d+ total/.test(candidate.trim()));
  if (!line) return undefined;
  const count = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(line)?.[1] ?? 0);
  return {
    line: line.trim().replace(/\s+/g, ' '),
    passed: count('passed'),
    failed: count('failed'),
    skipped: count('skipped') + count('todo'),
    total: count('total'),
  };
}

/**
 * `npm test` in the service: it must exit 0 and report more than zero tests, all passed (none skipped).
 * Prints and returns jest's summary.
 */
export async function runServiceTests(
  service: string,
  label: string,
  env: Record<string, string> = {},
  script = 'test',
): Promise<JestSummary> {
  const result = await run('npm', ['run', script], { cwd: service, env: serviceEnv(env) });
  const summary = jestSummary(`${result.stdout}\n${result.stderr}`);
  if (result.code !== 0 || !summary || summary.total === 0 || summary.passed !== summary.total) {
    const why = !summary ? 'no jest summary line' : `${summary.line}`;
    throw new Error(describeRun(`npm run ${script} in ${label} (${why})`, result));
  }
  console.log(`[e2e] ${label}: npm run ${script}: ${summary.line}`);
  return summary;
}

// ---------------------------------------------------------------------------------------------------------
// The built server.

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface HttpAnswer {
  status: number;
  body: unknown;
  text: string;
}

export interface RunningServer {
  readonly port: number;
  readonly output: () => string;
  get(path: string): Promise<HttpAnswer>;
  /** Sends SIGTERM and waits for the exit; throws with the server's output unless it exits with code 0. */
  stop(): Promise<void>;
  /** Resolves when the process exits by itself (or is stopped). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 30_000;

/** Starts `node dist/server.js` of a built service on a free port, and resolves once it answers HTTP. */
export async function startServer(service: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const { server, listening } = await launchServer(service, env);
  await listening;
  return server;
}

/**
 * Starts `node dist/server.js` as startServer does, without waiting: `listening` resolves once it answers
 * HTTP, and rejects with its output if it exits first or the deadline passes.
 */
export async function launchServer(service: string, env: Record<string, string> = {}): Promise<{ server: RunningServer; listening: Promise<void> }> {
  const port = await freePort();
  const child = spawn(serviceNode(), ['dist/server.js'], {
    cwd: service,
    env: serviceEnv({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const failure = (why: string) => new Error(`${why}\n--- server output (${service}) ---\n${tail(output)}`);

  const get = async (path: string): Promise<HttpAnswer> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(15_000) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body, text };
  };

  // Listening: it answers any HTTP request (or it exits, or the deadline passes).
  const listening = (async () => {
    const deadline = Date.now() + START_DEADLINE_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw failure(`dist/server.js exited with ${child.exitCode ?? child.signalCode} before it listened`);
      }
      try {
        await get('/health');
        return;
      } catch {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw failure(`dist/server.js did not listen on ${port} within ${START_DEADLINE_MS / 1000} s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  })();
  // Handled here too, so that a failure before the caller awaits it is not an unhandled rejection.
  listening.catch(() => undefined);

  const server: RunningServer = {
    port,
    output: () => output,
    get,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), STOP_DEADLINE_MS);
      });
      const result = await Promise.race([exited, late]);
      clearTimeout(timer);
      servers.delete(child);
      if (result === 'late') {
        child.kill('SIGKILL');
        await exited;
        throw failure(`dist/server.js did not exit within ${STOP_DEADLINE_MS / 1000} s of SIGTERM`);
      }
      if (result.code !== 0) throw failure(`dist/server.js exited with ${result.code ?? result.signal} on SIGTERM, not 0`);
    },
  };
  return { server, listening };
}

/** Runs `body` against a started server, and always stops it (a failed stop fails the test too). */
export async function withServer(
  service: string,
  env: Record<string, string>,
  body: (server: RunningServer) => Promise<void>,
): Promise<void> {
  const server = await startServer(service, env);
  try {
    await body(server);
  } catch (error) {
    // Show what the server said next to the failed expectation.
    await server.stop().catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n--- server output (${service}) ---\n${tail(server.output())}`, { cause: error });
  }
  await server.stop();
}

// ---------------------------------------------------------------------------------------------------------
// The event system's streams on the shared NATS server.

/**
 * Stream and subject names of one server start, so that runs do not collide on the shared NATS server
 * and can remove what they created.
 */
export function eventsEnv(tag: string): Record<string, string> {
  const id = `${tag}_${process.pid}_${Date.now().toString(36)}`.replace(/[^A-Za-z0-9_]/g, '_').toUpperCase();
  return {
    EVENTS_SUBJECT_PREFIX: `e2e_${id.toLowerCase()}`,
    EVENTS_STREAM: `E2E_${id}`,
    EVENTS_DLQ_SUBJECT: `e2e_${id.toLowerCase()}_dlq`,
    EVENTS_DLQ_STREAM: `E2E_${id}_DLQ`,
  };
}

/**
 * Connects with the NATS client packages the service installed (this package has no NATS client of its
 * own), as another service on the bus would. The connection offers JetStream as two methods, the shape the
 * tests describe in their own `Connection` interfaces (with just the calls each one makes).
 */
export async function serviceNatsConnect<Connection>(service: string, options: Record<string, unknown>): Promise<Connection> {
  const fromService = createRequire(join(service, 'package.json'));
  const { connect } = fromService('@nats-io/transport-node') as { connect: (options: Record<string, unknown>) => Promise<{ close(): Promise<void> }> };
  const { jetstream, jetstreamManager } = fromService('@nats-io/jetstream') as { jetstream: (nc: unknown) => unknown; jetstreamManager: (nc: unknown) => Promise<unknown> };
  const nc = await connect(options);
  const connection = { jetstream: () => jetstream(nc), jetstreamManager: () => jetstreamManager(nc), close: () => nc.close() };
  return connection as Connection;
}

/**
 * Lists the JetStream streams and deletes `remove`, with the NATS client the service installed
 * (this package has no NATS client of its own). Returns the names that existed before.
 */
export async function natsStreams(service: string, remove: readonly string[] = []): Promise<string[]> {
  const script = `
    const { connect } = require('@nats-io/transport-node');
    const { jetstreamManager } = require('@nats-io/jetstream');
    (async () => {
      const nc = await connect({ servers: process.env.NATS_URL, timeout: 10000 });
      const jsm = await jetstreamManager(nc);
      const names = [];
      for await (const info of jsm.streams.list()) names.push(info.config.name);
      for (const name of JSON.parse(process.argv[1])) if (names.includes(name)) await jsm.streams.delete(name);
      await nc.drain();
      console.log(JSON.stringify(names));
    })().catch((error) => { console.error(error); process.exit(1); });
  `;
  const result = assertSucceeded(
    'listing JetStream streams',
    await run(serviceNode(), ['-e', script, JSON.stringify(remove)], { cwd: service }),
  );
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as string[];
}

// ---------------------------------------------------------------------------------------------------------
// docs/EVENTS.md's examples.

/** The ```ts / ```typescript blocks of a Markdown file. */
export function typeScriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```(?:ts|typescript)[^\n]*\n([\s\S]*?)^```\s*$/gm)].map((match) => match[1]!);
}

/**
 * Writes each TypeScript block of the service's docs/EVENTS.md to docs/example-<n>.ts (the blocks are written
 * as if they lived at docs/example.ts) with a tsconfig of their own that extends the service's, and
 * type-checks them with the service's tsc. Returns how many blocks were checked.
 */
export async function typeCheckEventsDocExamples(service: string): Promise<number> {
  const blocks = typeScriptBlocks(readFileSync(join(service, 'docs', 'EVENTS.md'), 'utf8'));
  if (blocks.length === 0) throw new Error(`${service}/docs/EVENTS.md has no \`\`\`ts code block`);
  const files = blocks.map((block, index) => {
    const file = `docs/example-${index + 1}.ts`;
    // `export {}` makes every block a module of its own, so that two blocks may declare the same names.
    writeFileSync(join(service, file), `${block}\nexport {};\n`);
    return file;
  });
  writeFileSync(
    join(service, 'tsconfig.docs-examples.json'),
    JSON.stringify(
      {
        extends: './tsconfig.json',
        // An example may declare what it does not use; everything else is as strict as the service.
        compilerOptions: { noEmit: true, noUnusedLocals: false, noUnusedParameters: false },
        include: ['src', ...files],
      },
      null,
      2,
    ),
  );
  const result = await run(join(service, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.docs-examples.json'], {
    cwd: service,
  });
  if (result.code !== 0) {
    const listing = files.map((file, index) => `--- ${file} ---\n${blocks[index]}`).join('\n');
    throw new Error(`${describeRun('tsc on the examples of docs/EVENTS.md', result)}\n${tail(listing)}`);
  }
  return blocks.length;
}

/** Polls `probe` every `intervalMs` until it returns something other than false or undefined, or the deadline passes. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | false | undefined> | T | false | undefined,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== false && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
