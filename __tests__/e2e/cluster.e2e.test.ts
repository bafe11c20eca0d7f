// A built service (database and message queue) on a 3-node NATS cluster of its own (SPEC 6): two instances,
// NATS_URL listing the three nodes, NATS_STREAM_REPLICAS=3. With two nodes down (no JetStream leader) an
// instance gives up after 30 s with a clear error, and instances started then wait for the nodes instead of
// exiting. The stream leader is killed during a burst of 3,000 user.created events: every event is stored
// once and applied once, publishing goes on under the new leader, and the killed node, started again,
// catches up. The shared NATS is not used; the shared PostgreSQL holds the tenant's schema, removed afterwards.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_URL, eventsEnv, generateService, launchServer, npmInstall, npmRun, serviceNatsConnect, until, type RunningServer } from '../support/e2e.js';
import { PrivateNatsCluster } from '../support/nats-server.js';

/** The parts of the service's NATS client and `pg` packages, and of its built code, that the tests use. */
interface StreamInfo {
  config: { num_replicas: number };
  state: { messages: number; first_seq: number; last_seq: number };
  cluster?: { leader?: string; replicas?: { name: string; current: boolean; offline?: boolean; lag?: number }[] };
}
interface JetStreamManager {
  streams: {
    info(name: string): Promise<StreamInfo>;
    getMessage(stream: string, query: { seq: number }): Promise<{ subject: string; json<T>(): T } | null>;
  };
}
interface NatsConnection {
  jetstream(): { publish(subject: string, data: Uint8Array, options: { msgID: string; timeout: number }): Promise<{ seq: number; duplicate: boolean }> };
  jetstreamManager(): Promise<JetStreamManager>;
  close(): Promise<void>;
}
interface ServiceModules {
  connect(options: { servers: string[]; reconnectTimeWait: number; maxReconnectAttempts: number }): Promise<NatsConnection>;
  Client: new (options: { connectionString: string }) => {
    connect(): Promise<void>;
    query<T>(sql: string, values?: unknown[]): Promise<{ rows: T[] }>;
    end(): Promise<void>;
  };
  createEvent(type: string, tenantId: string, data: Record<string, unknown>): { id: string; type: string };
}

const STEP = 300_000;
const BURST = 3_000;
/** The private cluster's ports: the range of this test file (clients 147xx, routes 627xx). */
const CLIENT_PORT_BASE = 14_700;
const ROUTE_PORT_BASE = 62_700;

const startedAt = Date.now();
const env = eventsEnv('cluster');
const tenantId = `cluster-${process.pid}`;
const schema = `tenant_${tenantId.replaceAll('-', '_')}`;
let service: string;
let modules: ServiceModules;
let cluster: PrivateNatsCluster;
let admin: NatsConnection;
let jsm: JetStreamManager;
const servers: RunningServer[] = [];
const published: { id: string; type: string }[] = [];


async function withDatabase<T>(work: (client: InstanceType<ServiceModules['Client']>) => Promise<T>): Promise<T> {
  const client = new modules.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const count = (sql: string) => withDatabase(async (db) => (await db.query<{ count: number }>(sql)).rows[0]!.count).catch(() => -1);

const encoder = new TextEncoder();

/**
 * Publishes an event until JetStream acknowledges it, with the same msgID every time (as the publisher does):
 * a retry of an event that was stored but not acknowledged is dropped as a duplicate.
 */
async function publishUntilAcknowledged(event: { id: string; type: string }, deadline: number): Promise<{ seq: number; duplicate: boolean }> {
  const js = admin.jetstream();
  for (;;) {
    try {
      return await js.publish(`${env.EVENTS_SUBJECT_PREFIX}.${event.type}`, encoder.encode(JSON.stringify(event)), { msgID: event.id, timeout: 2_000 });
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`event ${event.id} not acknowledged before the deadline`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50)); // a leader election takes a moment
    }
  }
}

/** Every event of the stream under `subject`, read back by sequence. */
async function storedEvents(stream: string, subject: string): Promise<{ id: string }[]> {
  const { state } = await jsm.streams.info(stream);
  const sequences = Array.from({ length: state.last_seq - state.first_seq + 1 }, (_, index) => state.first_seq + index);
  const events: { id: string }[] = [];
  for (let start = 0; start < sequences.length; start += 100) {
    const messages = await Promise.all(sequences.slice(start, start + 100).map((seq) => jsm.streams.getMessage(stream, { seq })));
    for (const message of messages) if (message?.subject === subject) events.push(message.json<{ id: string }>());
  }
  return events;
}

beforeAll(async () => {
  cluster = await PrivateNatsCluster.start(CLIENT_PORT_BASE, ROUTE_PORT_BASE);
  service = await generateService('e2e-cluster', ['--database', '--message-queue']);
  await npmInstall(service);
  await npmRun(service, 'build');
  const fromService = createRequire(join(service, 'package.json'));
  modules = {
    connect: (options) => serviceNatsConnect<NatsConnection>(service, options),
    Client: (fromService('pg') as Pick<ServiceModules, 'Client'>).Client,
    ...(fromService('./dist/messaging/events.js') as Pick<ServiceModules, 'createEvent'>),
  };
  admin = await modules.connect({ servers: cluster.url.split(','), reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  jsm = await admin.jetstreamManager();
  console.log(`[e2e] cluster: cluster started, service generated, installed and built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
}, 600_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop().catch(() => undefined)));
  await admin?.close().catch(() => undefined);
  await cluster?.dispose();
  if (modules) {
    await withDatabase(async (db) => {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      if ((await db.query<{ inbox: string | null }>(`SELECT to_regclass('messaging.inbox')::text AS inbox`)).rows[0]?.inbox) {
        await db.query('DELETE FROM messaging.inbox WHERE event_id = ANY($1)', [published.map((event) => event.id)]);
      }
    });
  }
  console.log(`[e2e] cluster: the whole file took ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
});

describe('a 3-node NATS cluster, streams of 3 replicas, two instances', () => {
  it('gives up after 30 s without a JetStream leader, waits while the nodes come back, then creates both streams with 3 replicas', async () => {
    // With two of the three nodes down, the one left cannot elect a JetStream leader: its API does not answer.
    await Promise.all(['n2', 'n3'].map((name) => cluster.node(name).kill()));
    const serviceEnv = { ...env, NATS_URL: cluster.url, NATS_STREAM_REPLICAS: '3', DATABASE_URL };

    // Waiting is bounded: an instance left without a JetStream leader gives up with one line saying why.
    const alone = await launchServer(service, serviceEnv);
    await expect(alone.listening).rejects.toThrow(/exited with 1 before it listened[\s\S]*JetStream is required but not usable on .*no answer for 30 s/);
    expect((await alone.server.exited).code).toBe(1);

    const launched = await Promise.all([launchServer(service, serviceEnv), launchServer(service, serviceEnv)]);
    servers.push(...launched.map(({ server }) => server));
    const waiting = until('both instances to say they wait for JetStream', () =>
      launched.every(({ server }) => server.output().includes('JetStream cannot answer yet')),
    );
    // An instance that exits (or listens) while JetStream has no leader fails the test at once.
    const startedTooSoon = launched.map(({ server, listening }) =>
      listening.then(() => Promise.reject(new Error(`an instance listened while JetStream had no leader:\n${server.output()}`))),
    );
    await Promise.race([waiting, ...startedTooSoon]);

    await Promise.all(['n2', 'n3'].map((name) => cluster.node(name).start()));
    await cluster.untilHealthy(cluster.nodes);
    await Promise.all(launched.map(({ listening }) => listening));
    for (const server of servers) await until('/ready 200', async () => (await server.get('/ready')).status === 200);

    for (const stream of [env.EVENTS_STREAM!, env.EVENTS_DLQ_STREAM!]) {
      const info = await until(`${stream} with a leader and two current replicas`, async () => {
        const candidate = await jsm.streams.info(stream).catch(() => undefined);
        if (!candidate) return undefined;
        const current = candidate.cluster?.replicas?.filter((replica) => replica.current).length ?? 0;
        return candidate.cluster?.leader !== undefined && current === 2 ? candidate : undefined;
      });
      expect(info.config.num_replicas, stream).toBe(3);
    }
  }, STEP);

  it(`stores and applies each of ${BURST} user.created once when the stream leader is killed during the burst, and publishing goes on under the new leader`, async () => {
    const started = Date.now();
    const created = modules.createEvent('tenant.created', tenantId, { tenantId, name: 'Cluster' });
    published.push(created);
    await publishUntilAcknowledged(created, Date.now() + 30_000);
    await until('the tenant schema', async () => (await count(`SELECT count(*)::int AS count FROM ${schema}.users`)) === 0);

    const users = Array.from({ length: BURST }, (_, index) =>
      modules.createEvent('user.created', tenantId, { tenantId, userId: `u${index}`, email: `u${index}@example.com`, name: `User ${index}` }),
    );
    published.push(...users);

    let acknowledged = 0;
    let acknowledgedAfterKill = 0;
    let killed = false;
    const burst = (async () => {
      const deadline = Date.now() + 120_000;
      for (let start = 0; start < users.length; start += 100) {
        await Promise.all(
          users.slice(start, start + 100).map(async (user) => {
            await publishUntilAcknowledged(user, deadline);
            acknowledged += 1;
            if (killed) acknowledgedAfterKill += 1;
          }),
        );
      }
    })();
    // The fault: once a third of the burst is in, the node leading the events stream dies.
    await until('a third of the burst acknowledged', () => acknowledged >= BURST / 3);
    const leader = (await jsm.streams.info(env.EVENTS_STREAM!)).cluster!.leader!;
    await cluster.node(leader).kill();
    killed = true;
    console.log(`[e2e] cluster: killed the stream leader ${leader} after ${acknowledged} events acknowledged`);
    await burst;

    const newLeader = await until('a new stream leader', async () => {
      const candidate = (await jsm.streams.info(env.EVENTS_STREAM!).catch(() => undefined))?.cluster?.leader;
      return candidate && candidate !== leader && candidate;
    });
    expect(acknowledgedAfterKill, 'events acknowledged after the kill').toBeGreaterThan(0);
    const after = modules.createEvent('user.created', tenantId, { tenantId, userId: 'after', email: 'after@example.com', name: 'After' });
    published.push(after);
    const ack = await publishUntilAcknowledged(after, Date.now() + 30_000);
    expect(ack.duplicate).toBe(false);

    // Stored once: each id exactly once in the stream.
    const stored = await storedEvents(env.EVENTS_STREAM!, `${env.EVENTS_SUBJECT_PREFIX}.user.created`);
    const ids = stored.map((event) => event.id);
    expect(ids.length).toBe(BURST + 1);
    expect(new Set(ids)).toEqual(new Set([...users, after].map((event) => event.id)));

    // Applied once: a row per user, an event per id in the tenant's history, nothing dead-lettered.
    await until(`all ${BURST + 1} users`, async () => (await count(`SELECT count(*)::int AS count FROM ${schema}.users`)) === BURST + 1, 120_000);
    expect(await count(`SELECT count(*)::int AS count FROM ${schema}.user_events`)).toBe(BURST + 1);
    expect((await jsm.streams.info(env.EVENTS_DLQ_STREAM!)).state.messages).toBe(0);
    for (const server of servers) expect((await server.get('/ready')).status, server.output()).toBe(200);
    console.log(`[e2e] cluster: leader ${leader} killed, ${newLeader} took over; burst scenario took ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // The killed node comes back with its store and catches up on what it missed.
    const node = cluster.node(leader);
    await node.start();
    for (const stream of [env.EVENTS_STREAM!, env.EVENTS_DLQ_STREAM!]) {
      await until(`${leader}'s replica of ${stream} to be current`, async () => {
        const info = await jsm.streams.info(stream).catch(() => undefined); // the node may still be joining
        const replica = info?.cluster?.replicas?.find((candidate) => candidate.name === leader);
        return replica?.current === true && !replica.offline && !replica.lag;
      });
    }
    await cluster.untilHealthy([node]);
    const { state } = await jsm.streams.info(env.EVENTS_STREAM!);
    console.log(`[e2e] cluster: ${leader} caught up (${state.messages} messages in ${env.EVENTS_STREAM})`);

    for (const server of servers.splice(0)) await server.stop(); // both still alive, exit 0
  }, STEP);
});
