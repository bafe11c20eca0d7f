// Secure by configuration (issue 14, SPEC 3.12), end to end: a generated service with messaging and database,
// built, run against a private nats-server that requires TLS with client certificates (a CA and certificates
// made here with openssl) and enforces the permission block that the service's own docs/EVENTS.md documents,
// taken from that file as it is. Under those permissions the service starts, publishes, consumes,
// dead-letters and drains; a user without publish permission on `events.>` gets a permission error from
// publishEvent; and each bad setting stops the start with one line that names it and holds no secret.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STEP_TIMEOUT, describeService } from '../support/e2e-service.js';
import { assertSucceeded, generateService, npmRun, run, serviceEnv, startServer, tempFolder, type RunResult } from '../support/e2e.js';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** This file's private port ranges (other engineers' tests use other ranges). */
const PORTS = { first: 14200, last: 14299 };
const PG_PORTS = { first: 15200, last: 15299 };
const SERVICE = 'sec-e2e';
const SERVICE_PASSWORD = 'svc-Pa55-7f3e9c1d';
const DENIED_USER = 'sec-e2e-no-publish';
const DENIED_PASSWORD = 'denied-Pa55-2b8a4e6f';
/** Strings that must never appear in an output. */
const SECRETS = [SERVICE_PASSWORD, DENIED_PASSWORD, 'wrong-Pa55-0c4d'];

let service = '';
describeService('security', { database: true, messageQueue: true }, async () => (service = await generateService(SERVICE, ['--database', '--message-queue'])), {
  server: false,
});

// ---------------------------------------------------------------------------------------------------------
// Certificates, made with openssl.

interface Pki {
  folder: string;
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  expiredClientCert: string;
  untrustedClientCert: string;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  assertSucceeded(`openssl ${args.join(' ')}`, await run('openssl', args, { cwd }));
}

async function makePki(folder: string): Promise<Pki> {
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, 'extensions.cnf'),
    '[server]\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n[client]\nextendedKeyUsage=clientAuth\n',
  );
  for (const ca of ['ca', 'other-ca']) {
    await openssl(folder, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=${ca}`]);
  }
  const sign = (csr: string, out: string, ca: string, days: string, extensions: string) =>
    openssl(folder, ['x509', '-req', '-in', csr, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', out, '-days', days, '-extfile', 'extensions.cnf', '-extensions', extensions]);
  for (const name of ['server', 'client']) {
    await openssl(folder, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    await sign(`${name}.csr`, `${name}.pem`, 'ca', '2', name);
  }
  // Valid until before it was issued: expired.
  await sign('client.csr', 'client-expired.pem', 'ca', '-1', 'client');
  await sign('client.csr', 'client-untrusted.pem', 'other-ca', '2', 'client');
  const at = (file: string) => join(folder, file);
  return {
    folder,
    ca: at('ca.pem'),
    otherCa: at('other-ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    expiredClientCert: at('client-expired.pem'),
    untrustedClientCert: at('client-untrusted.pem'),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The documented permissions, and a server that enforces them.

/** The ```conf block of docs/EVENTS.md (the one with the `authorization` block), unindented. */
function documentedPermissions(eventsMd: string): string {
  const block = [...eventsMd.matchAll(/^( *)```conf\n([\s\S]*?)^\1```/gm)].find((match) => match[2]!.includes('authorization {'));
  if (!block) throw new Error('docs/EVENTS.md has no ```conf block with an authorization block');
  const indent = block[1]!.length;
  return block[2]!.split('\n').map((line) => line.slice(indent)).join('\n');
}

/**
 * The server configuration: TLS with client verification, JetStream, and the documented block as it is,
 * plus one more user whose permissions are the documented ones without `events.>`.
 */
function serverConfig(documented: string, port: number, storeDir: string, pki: Pki): string {
  const definition = /^([\w-]+-permissions) = \{\n[\s\S]*?^\}\n/m.exec(documented);
  if (!definition) throw new Error(`no "<name>-permissions = { … }" definition in the documented block:\n${documented}`);
  const withoutEventsPublish = definition[0]
    .replace(definition[1]!, 'no-publish-permissions')
    .split('\n')
    .filter((line) => !/^\s*"events\.>"/.test(line))
    .join('\n');
  if (withoutEventsPublish === definition[0].replace(definition[1]!, 'no-publish-permissions')) {
    throw new Error('the documented permissions do not grant "events.>" on a line of its own');
  }
  const users = /users = \[\n/.exec(documented);
  if (!users) throw new Error('no "users = [" in the documented block');
  const secondUser = `      { user: "${DENIED_USER}", password: $DENIED_PASSWORD, permissions: $no-publish-permissions }\n`;
  return [
    `listen: 127.0.0.1:${port}`,
    `jetstream { store_dir: "${storeDir}" }`,
    `tls { cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}", ca_file: "${pki.ca}", verify: true, timeout: 5 }`,
    withoutEventsPublish,
    documented.replace(users[0], `${users[0]}${secondUser}`),
  ].join('\n');
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function privatePort(range = PORTS): Promise<number> {
  for (let port = range.first + 10; port <= range.last; port++) if (await portIsFree(port)) return port;
  throw new Error(`no free port in ${range.first}-${range.last}`);
}

interface SecureNats {
  port: number;
  log: () => string;
  stop(): Promise<void>;
}

/** nats-server in a process group of its own, answering TLS; resolves once it says it is ready. */
async function startSecureNats(folder: string, config: string): Promise<SecureNats> {
  const port = Number(/^listen: 127\.0\.0\.1:(\d+)$/m.exec(config)![1]);
  const file = join(folder, 'nats.conf');
  writeFileSync(file, config);
  const child: ChildProcess = spawn(NATS_SERVER, ['-c', file], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SERVICE_PASSWORD, DENIED_PASSWORD },
  });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const deadline = Date.now() + 15_000;
  while (!log.includes('Server is ready')) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}:\n${log}\n--- config ---\n${config}`);
    if (Date.now() > deadline) throw new Error(`nats-server was not ready within 15 s:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// A script run inside the built service: it builds the app the way src/server.ts does, then exercises it.

const DRIVER = `// Written by the generator's security e2e test: drives the built service, one JSON line per step.
const { buildApp } = require('./dist/app');
const { createEvent } = require('./dist/messaging/events');

const [mode, run] = process.argv.slice(2);
const say = (step, details = {}) => console.log(JSON.stringify({ driver: step, ...details }));

async function waitFor(what, check, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

(async () => {
  const app = await buildApp();
  const readyTenants = new Set();
  app.registerHandler('tenant.ready', async (event) => { readyTenants.add(event.tenantId); });
  await app.ready();
  say('started');
  const tenant = 'sec_' + run;
  try {
    if (mode === 'full') {
      const deadLettersBefore = (await app.readiness.report()).checks.nats.deadLetters;
      // tenant.created is handled by the built-in handler, which publishes tenant.ready from the handler.
      await app.publishEvent(createEvent('tenant.created', tenant, { tenantId: tenant, name: 'Security test' }));
      await waitFor('tenant.ready', () => readyTenants.has(tenant));
      say('published-and-consumed');
      // A user of a tenant without a schema fails on every delivery: dead-lettered.
      const orphan = tenant + '_orphan';
      await app.publishEvent(createEvent('user.created', orphan, { tenantId: orphan, userId: 'u-1', email: 'a@example.com', name: 'A' }));
      const deadLetters = await waitFor('a dead letter', async () => {
        const count = (await app.readiness.report()).checks.nats.deadLetters;
        return count > deadLettersBefore ? count : undefined;
      });
      say('dead-lettered', { deadLetters });
    } else {
      const started = Date.now();
      try {
        await app.publishEvent(createEvent('tenant.created', tenant, { tenantId: tenant, name: 'Denied' }));
        say('publish-accepted');
      } catch (error) {
        say('publish-rejected', { name: error.name, message: error.message, deadLettered: error.deadLettered, ms: Date.now() - started });
      }
    }
  } finally {
    await app.pg.query('DROP SCHEMA IF EXISTS "tenant_' + tenant + '" CASCADE');
    const closing = Date.now();
    await app.close();
    say('drained', { ms: Date.now() - closing });
  }
})().catch((error) => { say('failed', { message: error.message }); process.exit(1); });
`;

interface DriverStep {
  driver: string;
  [key: string]: unknown;
}

function driverSteps(result: RunResult): DriverStep[] {
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{"driver"'))
    .map((line) => JSON.parse(line) as DriverStep);
}

// ---------------------------------------------------------------------------------------------------------

describe('security: TLS, credentials and the documented least-privilege permissions', () => {
  let pki: Pki;
  let nats: SecureNats;
  let tlsEnv: Record<string, string>;
  const runId = `${process.pid}_${Date.now().toString(36)}`;

  beforeAll(async () => {
    if (!existsSync(join(service, 'dist', 'app.js'))) await npmRun(service, 'build');
    const folder = tempFolder('saasquatch-security-');
    pki = await makePki(join(folder, 'pki'));
    const documented = documentedPermissions(readFileSync(join(service, 'docs', 'EVENTS.md'), 'utf8'));
    nats = await startSecureNats(folder, serverConfig(documented, await privatePort(), join(folder, 'jetstream'), pki));
    tlsEnv = { NATS_TLS_CA_FILE: pki.ca, NATS_TLS_CERT_FILE: pki.clientCert, NATS_TLS_KEY_FILE: pki.clientKey };
    writeFileSync(join(service, 'security-driver.cjs'), DRIVER);
  }, STEP_TIMEOUT);

  afterAll(async () => {
    await nats?.stop();
  });

  const url = (credentials = '') => `tls://${credentials}127.0.0.1:${nats.port}`;
  const drive = (mode: 'full' | 'publish-only', env: Record<string, string>) =>
    run(process.execPath, ['security-driver.cjs', mode, `${mode.replace('-', '_')}_${runId}`], {
      cwd: service,
      env: serviceEnv({ LOG_LEVEL: 'warn', NATS_CONSUMER_MAX_DELIVER: '2', NATS_CONSUMER_BACKOFF_MS: '50', NATS_PUBLISH_BACKOFF_MS: '50', ...tlsEnv, ...env }),
    });
  const violations = () => nats.log().split('\n').filter((line) => /Violation/.test(line));

  it('starts, publishes, consumes, dead-letters and drains under exactly the documented permissions (mutual TLS, user:password in NATS_URL)', async () => {
    const before = violations().length;
    const result = await drive('full', { NATS_URL: url(`${SERVICE}:${SERVICE_PASSWORD}@`) });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output).toBe(0);
    expect(driverSteps(result).map((step) => step.driver), output).toEqual(['started', 'published-and-consumed', 'dead-lettered', 'drained']);
    // Nothing the service did was refused, and no secret reached its output.
    expect(violations().slice(before), nats.log()).toEqual([]);
    for (const secret of SECRETS) expect(output).not.toContain(secret);
  }, STEP_TIMEOUT);

  it('serves /ready without a secret, with credentials from NATS_USER / NATS_PASSWORD, and exits 0 on SIGTERM', async () => {
    const server = await startServer(service, { NATS_URL: url(), NATS_USER: SERVICE, NATS_PASSWORD: SERVICE_PASSWORD, ...tlsEnv });
    try {
      const ready = await server.get('/ready');
      expect(ready.status, ready.text).toBe(200);
      expect(ready.text).toContain(`127.0.0.1:${nats.port}`);
      for (const secret of SECRETS) expect(ready.text).not.toContain(secret);
    } finally {
      await server.stop();
    }
    for (const secret of SECRETS) expect(server.output()).not.toContain(secret);
  }, STEP_TIMEOUT);

  it('rejects publishEvent with the permission error, logged, for a user without publish permission on events.>', async () => {
    const result = await drive('publish-only', { NATS_URL: url(), NATS_USER: DENIED_USER, NATS_PASSWORD: DENIED_PASSWORD });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output).toBe(0);
    const rejected = driverSteps(result).find((step) => step.driver === 'publish-rejected');
    expect(rejected, output).toMatchObject({ name: 'EventPublishError' });
    expect(rejected!.message).toMatch(/Permissions Violation for Publish to "events\.tenant\.created"/);
    // Three attempts 50 and 100 ms apart: an answer, not a hang until some timeout.
    expect(rejected!.ms as number).toBeLessThan(5_000);
    expect(output).toMatch(/"msg":"event publish failed, no attempts left"/);
    expect(driverSteps(result).at(-1)?.driver, output).toBe('drained');
    for (const secret of SECRETS) expect(output).not.toContain(secret);
  }, STEP_TIMEOUT);

  describe('bad settings stop the start with one line naming what is wrong, without a secret', () => {
    const cases: [string, () => Record<string, string>, RegExp][] = [
      ['a missing credentials file', () => ({ NATS_URL: url(), NATS_CREDS_FILE: join(pki.folder, 'missing.creds') }), /NATS_CREDS_FILE: cannot read .*missing\.creds \(no such file\)/],
      ['an unreadable CA file (a folder)', () => ({ NATS_URL: url(), NATS_USER: SERVICE, NATS_PASSWORD: SERVICE_PASSWORD, NATS_TLS_CA_FILE: pki.folder }), /NATS_TLS_CA_FILE: cannot read/],
      ['a CA file without a certificate', () => ({ NATS_URL: url(), NATS_USER: SERVICE, NATS_PASSWORD: SERVICE_PASSWORD, NATS_TLS_CA_FILE: join(pki.folder, 'extensions.cnf') }), /NATS_TLS_CA_FILE: .* holds no PEM certificate/],
      ['a wrong password in NATS_PASSWORD', () => ({ NATS_URL: url(), NATS_USER: SERVICE, NATS_PASSWORD: 'wrong-Pa55-0c4d' }), /refused the credentials \(Authorization Violation\); check NATS_USER \/ NATS_PASSWORD/],
      ['a wrong password in NATS_URL', () => ({ NATS_URL: url(`${SERVICE}:wrong-Pa55-0c4d@`) }), /refused the credentials \(Authorization Violation\); check NATS_USER \/ NATS_PASSWORD/],
      ['an untrusted server certificate', () => ({ NATS_URL: url(), NATS_USER: SERVICE, NATS_PASSWORD: SERVICE_PASSWORD, NATS_TLS_CA_FILE: pki.otherCa }), /TLS certificate is not trusted .*NATS_TLS_CA_FILE/],
      ['an expired client certificate', () => ({ NATS_URL: url(), NATS_USER: SERVICE, NATS_PASSWORD: SERVICE_PASSWORD, NATS_TLS_CERT_FILE: pki.expiredClientCert }), /NATS_TLS_CERT_FILE: the certificate expired on/],
      ['a client certificate the server does not trust', () => ({ NATS_URL: url(), NATS_USER: SERVICE, NATS_PASSWORD: SERVICE_PASSWORD, NATS_TLS_CERT_FILE: pki.untrustedClientCert }), /refused the client certificate .*NATS_TLS_CERT_FILE/],
    ];

    it.each(cases)('%s', async (_label, env, expected) => {
      const result = await run(process.execPath, ['dist/server.js'], {
        cwd: service,
        env: serviceEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...tlsEnv, ...env() }),
      });
      const output = `${result.stdout}${result.stderr}`.trim();
      expect(result.code, output).toBe(1);
      expect(output.split('\n'), output).toHaveLength(1);
      expect(output).toMatch(new RegExp(`^Cannot connect to NATS at tls://127\\.0\\.0\\.1:${nats.port}: `));
      expect(output).toMatch(expected);
      // The line came before Fastify's 10 s plugin timeout, which would only say that the plugin did not start.
      expect(output).not.toMatch(/did not start in time/);
      for (const secret of SECRETS) expect(output).not.toContain(secret);
    }, STEP_TIMEOUT);
  });
});

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL over TLS: a private cluster with ssl=on and the test's server certificate.

const PG_PROBE = `// Written by the generator's security e2e test: the service's database plugin, and whether its connection is TLS.
const Fastify = require('fastify');
const readiness = require('./dist/plugins/readiness').default;
const database = require('./dist/plugins/database').default;
(async () => {
  const app = Fastify();
  await app.register(readiness);
  await app.register(database);
  await app.ready();
  try {
    const { rows } = await app.pg.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    console.log(JSON.stringify({ ssl: rows[0].ssl }));
  } catch (error) {
    console.log(JSON.stringify({ error: error.code || error.message }));
  }
  await app.close();
})().catch((error) => { console.log(error.message); process.exit(1); });
`;

describe('security: PostgreSQL TLS from DATABASE_URL sslmode and DATABASE_CA_FILE', () => {
  let folder = '';
  let port = 0;
  let pki: Pki;
  // initdb refuses to run as root: run the cluster as the postgres user then.
  const asRoot = process.getuid?.() === 0;
  const pgCommand = async (what: string, args: string[]) => {
    const [command, all] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, what), ...args]] : [join(PG_BIN, what), args];
    assertSucceeded(`${what} ${args.join(' ')}`, await run(command as string, all as string[], { cwd: folder }));
  };

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'saasquatch-security-pg-'));
    pki = await makePki(join(folder, 'pki'));
    const ownedByServer = [folder, join(folder, 'server.pem'), join(folder, 'server.key')];
    copyFileSync(pki.serverCert, ownedByServer[1]!);
    copyFileSync(pki.serverKey, ownedByServer[2]!);
    chmodSync(folder, 0o755);
    chmodSync(ownedByServer[2]!, 0o600);
    if (asRoot) {
      const id = await run('id', ['-u', 'postgres'], { cwd: folder });
      const group = await run('id', ['-g', 'postgres'], { cwd: folder });
      for (const path of ownedByServer) chownSync(path, Number(id.stdout.trim()), Number(group.stdout.trim()));
    }
    port = await privatePort(PG_PORTS);
    await pgCommand('initdb', ['-D', join(folder, 'data'), '-A', 'trust', '-U', 'postgres']);
    const settings = `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=${ownedByServer[1]} -c ssl_key_file=${ownedByServer[2]}`;
    await pgCommand('pg_ctl', ['-D', join(folder, 'data'), '-l', join(folder, 'postgres.log'), '-o', settings, '-w', 'start']);
    writeFileSync(join(service, 'security-pg-probe.cjs'), PG_PROBE);
  }, STEP_TIMEOUT);

  afterAll(async () => {
    if (existsSync(join(folder, 'data', 'postmaster.pid'))) await pgCommand('pg_ctl', ['-D', join(folder, 'data'), '-m', 'immediate', 'stop']);
    rmSync(folder, { recursive: true, force: true });
  });

  const probe = async (query: string, caFile?: string) => {
    const result = await run(process.execPath, ['security-pg-probe.cjs'], {
      cwd: service,
      env: serviceEnv({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres${query}`, DATABASE_CA_FILE: caFile }),
    });
    const output = `${result.stdout}${result.stderr}`.trim();
    expect(result.code, output).toBe(0);
    return JSON.parse(output) as { ssl?: boolean; error?: string };
  };

  it.each([
    ['no sslmode: plain', '', undefined, { ssl: false }],
    ['sslmode=require: encrypted, the certificate not checked', '?sslmode=require', undefined, { ssl: true }],
    ['sslmode=verify-full with the CA: encrypted and checked', '?sslmode=verify-full', 'ca', { ssl: true }],
    ['sslmode=verify-ca with the CA', '?sslmode=verify-ca', 'ca', { ssl: true }],
    ['sslmode=verify-full without the CA: refused', '?sslmode=verify-full', undefined, { error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }],
    ['sslmode=verify-full with another CA: refused', '?sslmode=verify-full', 'other', { error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }],
  ] as const)('%s', async (_label, query, ca, expected) => {
    const caFile = ca === 'ca' ? pki.ca : ca === 'other' ? pki.otherCa : undefined;
    expect(await probe(query, caFile)).toEqual(expected);
  }, STEP_TIMEOUT);
});
