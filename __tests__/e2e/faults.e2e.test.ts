// A built service (database and message queue) under faults, on private servers: NATS down for 30 s,
// PostgreSQL down for 10 s during a burst, NATS gone for good. Events come from the service's own NATS
// client, as another service on the bus would send them. The shared NATS and PostgreSQL are never stopped.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_URL, eventsEnv, generateService, NATS_URL, natsStreams, npmInstall, npmRun, serviceNatsConnect, startServer, until, type RunningServer } from '../support/e2e.js';
import { PrivateNatsServer } from '../support/nats-server.js';
import { PrivatePostgresServer } from '../support/postgres-server.js';

/** The parts of the service's NATS client and `pg` packages, and of its built code, that the tests use. */
interface JetStream {
  publish(subject: string, data: Uint8Array, options: { msgID: string }): Promise<{ seq: number }>;
}
interface NatsConnection {
  jetstream(): JetStream;
  jetstreamManager(): Promise<{ streams: { info(name: string): Promise<{ state: { messages: number } }>; getMessage(stream: string, query: { last_by_subj: string }): Promise<{ json<T>(): T } | null> } }>;
  close(): Promise<void>;
}
interface ServiceModules {
  connect(options: { servers: string }): Promise<NatsConnection>;
  Client: new (options: { connectionString: string }) => {
    connect(): Promise<void>;
    query<T>(sql: string, values?: unknown[]): Promise<{ rows: T[] }>;
    end(): Promise<void>;
  };
  createEvent(type: string, tenantId: string, data: Record<string, unknown>): { id: string; type: string };
  derivedEventId(id: string, label: string): string;
}

const STEP = 300_000;
const startedAt = Date.now();
let service: string;
let modules: ServiceModules;

beforeAll(async () => {
  service = await generateService('e2e-faults', ['--database', '--message-queue']);
  await npmInstall(service);
  await npmRun(service, 'build');
  const fromService = createRequire(join(service, 'package.json'));
  modules = {
    connect: (options) => serviceNatsConnect<NatsConnection>(service, options),
    Client: (fromService('pg') as Pick<ServiceModules, 'Client'>).Client,
    ...(fromService('./dist/messaging/events.js') as Pick<ServiceModules, 'createEvent' | 'derivedEventId'>),
  };
  console.log(`[e2e] faults: service generated, installed and built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
}, 600_000);


/** The outage itself: a fixed length is the scenario, not a wait for a condition. */
const outage = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function publishAll(natsUrl: string, prefix: string, events: { id: string; type: string }[]): Promise<void> {
  const nc = await modules.connect({ servers: natsUrl });
  try {
    const js = nc.jetstream();
    const encoder = new TextEncoder();
    for (let start = 0; start < events.length; start += 100) {
      await Promise.all(events.slice(start, start + 100).map((event) => js.publish(`${prefix}.${event.type}`, encoder.encode(JSON.stringify(event)), { msgID: event.id })));
    }
  } finally {
    await nc.close();
  }
}

async function streamMessages(natsUrl: string, stream: string): Promise<number> {
  const nc = await modules.connect({ servers: natsUrl });
  try {
    return (await (await nc.jetstreamManager()).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

async function withDatabase<T>(url: string, work: (client: InstanceType<ServiceModules['Client']>) => Promise<T>): Promise<T> {
  const client = new modules.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const readyChecks = async (server: RunningServer) =>
  ((await server.get('/ready')).body as { checks: Record<string, { status: string }> }).checks;

describe('NATS down for 30 s while the service runs', () => {
  let nats: PrivateNatsServer | undefined;
  let server: RunningServer | undefined;
  const tenantId = `faults-nats-${process.pid}`;
  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    await nats?.dispose();
    await withDatabase(DATABASE_URL, (db) => db.query(`DROP SCHEMA IF EXISTS tenant_${tenantId.replaceAll('-', '_')} CASCADE`));
  });

  it('recovers by itself: /ready 503 then 200, and a tenant.created afterwards yields tenant.ready', async () => {
    const started = Date.now();
    nats = await PrivateNatsServer.start();
    server = await startServer(service, { NATS_URL: nats.url, DATABASE_URL });
    await until('/ready with NATS up', async () => (await readyChecks(server!)).nats?.status === 'up');

    await nats.kill();
    await until('/ready to report NATS down', async () => (await server!.get('/ready')).status === 503);
    await outage(30_000);
    await nats.start(); // same port and store
    await until('/ready 200 again', async () => (await server!.get('/ready')).status === 200);
    expect((await server.get('/health')).status).toBe(200);

    const created = modules.createEvent('tenant.created', tenantId, { tenantId, name: 'After the outage' });
    await publishAll(nats.url, 'events', [created]);
    const readyId = modules.derivedEventId(created.id, 'tenant.ready');
    await until('tenant.ready in the stream', async () => {
      const nc = await modules.connect({ servers: nats!.url });
      try {
        const jsm = await nc.jetstreamManager();
        const last = await jsm.streams.getMessage('EVENTS', { last_by_subj: 'events.tenant.ready' });
        return last?.json<{ id: string }>().id === readyId;
      } finally {
        await nc.close();
      }
    });
    expect(server.output()).toMatch(/NATS disconnected/);
    expect(server.output()).toMatch(/NATS reconnected/);
    await server.stop(); // exits 0
    server = undefined;
    console.log(`[e2e] faults: 30 s NATS outage scenario took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, STEP);
});

describe('PostgreSQL down for 10 s during a burst of 500 user.created', () => {
  let postgres: PrivatePostgresServer | undefined;
  const servers: RunningServer[] = [];
  const env = eventsEnv('faults-pg');
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop().catch(() => undefined)));
    await postgres?.dispose();
    await natsStreams(service, [env.EVENTS_STREAM!, env.EVENTS_DLQ_STREAM!]);
  });

  it('stores all 500 rows and dead-letters nothing, with two instances', async () => {
    const started = Date.now();
    postgres = await PrivatePostgresServer.start();
    const serviceEnv = { ...env, NATS_URL, DATABASE_URL: postgres.url };
    servers.push(...(await Promise.all([startServer(service, serviceEnv), startServer(service, serviceEnv)])));

    const tenantId = 'burst';
    await publishAll(NATS_URL, env.EVENTS_SUBJECT_PREFIX!, [modules.createEvent('tenant.created', tenantId, { tenantId, name: 'Burst' })]);
    const userCount = () =>
      withDatabase(postgres!.url, async (db) => (await db.query<{ count: number }>('SELECT count(*)::int AS count FROM tenant_burst.users')).rows[0]!.count).catch(() => -1);
    await until('the tenant schema', async () => (await userCount()) === 0);

    const users = Array.from({ length: 500 }, (_, index) =>
      modules.createEvent('user.created', tenantId, { tenantId, userId: `u${index}`, email: `u${index}@example.com`, name: `User ${index}` }),
    );
    // The burst starts, PostgreSQL stops, and most of the burst arrives while it is down.
    await publishAll(NATS_URL, env.EVENTS_SUBJECT_PREFIX!, users.slice(0, 100));
    await postgres.stop();
    await publishAll(NATS_URL, env.EVENTS_SUBJECT_PREFIX!, users.slice(100));
    await until('an instance to notice', () => servers.some((server) => server.output().includes('infrastructure unavailable')));
    await outage(10_000);
    await postgres.start();

    await until('all 500 rows', async () => (await userCount()) === 500, 120_000);
    expect(await streamMessages(NATS_URL, env.EVENTS_DLQ_STREAM!)).toBe(0);
    for (const server of servers.splice(0)) await server.stop(); // both still alive, exit 0
    console.log(`[e2e] faults: 10 s PostgreSQL outage scenario took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, STEP);
});

describe('NATS gone for good', () => {
  let nats: PrivateNatsServer | undefined;
  afterAll(() => nats?.dispose());

  it('closes the service gracefully and exits non-zero', async () => {
    const started = Date.now();
    nats = await PrivateNatsServer.start();
    const server = await startServer(service, { NATS_URL: nats.url, DATABASE_URL, NATS_MAX_RECONNECT_ATTEMPTS: '3', NATS_RECONNECT_WAIT_MS: '200' });
    await until('/ready 200', async () => (await server.get('/ready')).status === 200);
    await nats.kill();
    const exit = await Promise.race([server.exited, outage(60_000).then(() => 'still running' as const)]);
    expect(exit, server.output()).toEqual({ code: 1, signal: null });
    expect(server.output()).toMatch(/dependency gone for good, closing the service/);
    console.log(`[e2e] faults: NATS closed for good scenario took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, STEP);
});
