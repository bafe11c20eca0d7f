// The transactional outbox of a generated service (database + message queue) under faults, end to end:
// 1,000 events written through the outbox while a private NATS is down for 30 s, and a relaying process
// killed with SIGKILL in the middle of relaying. Each time the stream must hold every event exactly once,
// in the order each writer wrote them. The relay runs in a child process (support/outbox-relay-child.cjs)
// that loads the service's compiled plugins; NATS is a private nats-server in this file's port range,
// PostgreSQL the shared one with a schema of this run's own.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_URL, eventsEnv, generateService, npmInstall, npmRun, serviceEnv, serviceNatsConnect, until } from '../support/e2e.js';
import { PrivateNatsServer } from '../support/nats-server.js';

const CHILD_SCRIPT = fileURLToPath(new URL('../support/outbox-relay-child.cjs', import.meta.url));
/** This file's private NATS listens in 14500-14599, a range no other test uses. */
const NATS_PORT = 14500 + Math.floor(Math.random() * 100);
const OUTAGE_MS = 30_000;
const WRITERS = 2;
const EVENTS_PER_WRITER = 500;
const EVENTS_PER_TRANSACTION = 10;

// The parts of the service's own modules (CommonJS, compiled) and dependencies the test uses.
interface PgClient {
  query(sql: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  release(): void;
}
interface PgPool {
  connect(): Promise<PgClient>;
  query(sql: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}
interface ServiceModules {
  Pool: new (options: { connectionString: string }) => PgPool;
  messagingTables(schema: string): { outbox: string };
  ensureMessagingTables(pool: PgPool, tables: unknown): Promise<void>;
  enqueue(client: PgClient, tables: unknown, event: { id: string; type: string }, subject: string): Promise<void>;
  createEvent(type: string, tenantId: string, data: Record<string, string>): { id: string; type: string };
  connect(options: { servers: string }): Promise<NatsConnection>;
}
interface NatsConnection {
  jetstreamManager(): Promise<{
    streams: {
      info(stream: string): Promise<{ state: { messages: number; first_seq: number; last_seq: number } }>;
      getMessage(stream: string, query: { seq: number }): Promise<{ header?: { get(name: string): string }; json<T>(): T } | null>;
    };
  }>;
  close(): Promise<void>;
}


/** A relaying instance of the service in a process of its own. */
class RelayChild {
  readonly process: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(service: string, env: Record<string, string>) {
    this.process = spawn(process.execPath, ['outbox-relay-child.cjs'], { cwd: service, env: serviceEnv(env) });
    this.process.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.process.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => this.process.once('exit', (code) => resolve(code)));
  }

  async ready(): Promise<void> {
    await until(`the relay child to start:\n${this.output}`, () => this.output.includes('relay child ready') || this.process.exitCode !== null, 30_000, 20);
    if (this.process.exitCode !== null) throw new Error(`the relay child exited with ${this.process.exitCode}:\n${this.output}`);
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    if (!this.alive) return;
    this.process.kill(signal);
    await this.exited;
  }
}

describe('the outbox of a built service under faults', () => {
  let service: string;
  let modules: ServiceModules;
  let pool: PgPool;
  let nats: PrivateNatsServer;
  const schema = `e2e_outbox_${process.pid}_${Date.now().toString(36)}`;
  const children: RelayChild[] = [];

  beforeAll(async () => {
    service = await generateService('e2e-outbox', ['--database', '--message-queue']);
    await npmInstall(service);
    await npmRun(service, 'build');
    copyFileSync(CHILD_SCRIPT, join(service, 'outbox-relay-child.cjs'));
    const fromService = createRequire(join(service, 'package.json'));
    modules = {
      ...(fromService('pg') as Pick<ServiceModules, 'Pool'>),
      ...(fromService('./dist/messaging/messaging-tables.js') as Pick<ServiceModules, 'messagingTables' | 'ensureMessagingTables'>),
      ...(fromService('./dist/messaging/outbox.js') as Pick<ServiceModules, 'enqueue'>),
      ...(fromService('./dist/messaging/events.js') as Pick<ServiceModules, 'createEvent'>),
      connect: (options) => serviceNatsConnect<NatsConnection>(service, options),
    };
    pool = new modules.Pool({ connectionString: DATABASE_URL });
    await modules.ensureMessagingTables(pool, modules.messagingTables(schema));
    nats = await PrivateNatsServer.start(NATS_PORT);
  }, 600_000);

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop('SIGKILL')));
    await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool?.end();
    await nats?.dispose();
  });

  function startRelay(names: Record<string, string>, batchSize = 50): RelayChild {
    const child = new RelayChild(service, {
      ...names,
      NATS_URL: nats.url,
      OUTBOX_TEST_SCHEMA: schema,
      OUTBOX_TEST_BATCH_SIZE: String(batchSize),
    });
    children.push(child);
    return child;
  }

  /** `WRITERS` concurrent writers, each writing its events in transactions; returns each writer's ids in write order. */
  async function writeThroughOutbox(subjectPrefix: string): Promise<string[][]> {
    const tables = modules.messagingTables(schema);
    const writer = async (index: number) => {
      const ids: string[] = [];
      const client = await pool.connect();
      try {
        for (let written = 0; written < EVENTS_PER_WRITER; written += EVENTS_PER_TRANSACTION) {
          await client.query('BEGIN');
          for (let n = written; n < written + EVENTS_PER_TRANSACTION; n++) {
            const tenantId = `writer-${index}`;
            const event = modules.createEvent('user.created', tenantId, { userId: `u${n}`, tenantId, email: `u${n}@example.com`, name: `U${n}` });
            await modules.enqueue(client, tables, event, `${subjectPrefix}.${event.type}`);
            ids.push(event.id);
          }
          await client.query('COMMIT');
        }
      } finally {
        client.release();
      }
      return ids;
    };
    return Promise.all(Array.from({ length: WRITERS }, (_, index) => writer(index)));
  }

  async function outboxRows(): Promise<number> {
    const result = await pool.query(`SELECT count(*)::int AS count FROM ${modules.messagingTables(schema).outbox}`);
    return result.rows[0]!.count as number;
  }

  async function storedCount(stream: string, nc: NatsConnection): Promise<number> {
    try {
      return (await (await nc.jetstreamManager()).streams.info(stream)).state.messages;
    } catch {
      return 0; // the stream does not exist yet
    }
  }

  /** The event id and the Nats-Msg-Id of every message in the stream, in stream order. */
  async function storedEvents(stream: string): Promise<{ ids: string[]; msgIds: string[] }> {
    const nc = await modules.connect({ servers: nats.url });
    try {
      const jsm = await nc.jetstreamManager();
      const { state } = await jsm.streams.info(stream);
      const ids: string[] = [];
      const msgIds: string[] = [];
      for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
        const message = await jsm.streams.getMessage(stream, { seq });
        if (!message) continue; // deleted
        ids.push(message.json<{ id: string }>().id);
        msgIds.push(message.header?.get('Nats-Msg-Id') ?? '');
      }
      return { ids, msgIds };
    } finally {
      await nc.close();
    }
  }


  function expectEachOnceInWriteOrder({ ids: stored, msgIds }: { ids: string[]; msgIds: string[] }, written: string[][]): void {
    const all = written.flat();
    expect(stored).toHaveLength(all.length);
    expect(new Set(stored)).toEqual(new Set(all));
    for (const ids of written) {
      const mine = new Set(ids);
      expect(stored.filter((id) => mine.has(id))).toEqual(ids);
    }
    expect(msgIds, 'Nats-Msg-Id = event id').toEqual(stored);
  }

  it('relays 1,000 events written while NATS is down for 30 s, each exactly once, in write order', async () => {
    const names = eventsEnv('outbox-outage');
    const relay = startRelay(names);
    await relay.ready();

    await nats.kill();
    const downSince = Date.now();
    const written = await writeThroughOutbox(names.EVENTS_SUBJECT_PREFIX!);
    await until('the relay to fail and back off', () => relay.output.includes('outbox relay failed'), 60_000, 20);
    expect(await outboxRows()).toBe(WRITERS * EVENTS_PER_WRITER);
    // The outage lasts OUTAGE_MS whatever the machine's speed: its length is what this test is about.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - downSince))));
    expect(await outboxRows()).toBe(WRITERS * EVENTS_PER_WRITER);
    await nats.start(); // same port and store: the stream the relay created is still there

    await until('an empty outbox', async () => (await outboxRows()) === 0, 60_000, 20);
    expectEachOnceInWriteOrder(await storedEvents(names.EVENTS_STREAM!), written);
    expect(relay.alive, 'the relaying process lived through the outage').toBe(true);
    expect(relay.output).toContain('outbox relay recovered');
    await relay.stop('SIGTERM');
    expect(await relay.exited).toBe(0);
  }, 180_000);

  it('relays everything once when the relaying process is killed with SIGKILL mid-relay and started again', async () => {
    const names = eventsEnv('outbox-kill');
    const written = await writeThroughOutbox(names.EVENTS_SUBJECT_PREFIX!);
    const total = written.flat().length;
    const stream = names.EVENTS_STREAM!;
    // The case that matters: killed after JetStream stored part of a batch, before the DELETE committed.
    // The relay is frozen (SIGSTOP) each time the stream grows; rows both stored and still in the outbox
    // (stream + outbox > written, as nothing is stored twice) mean it is in that gap: kill it there.
    const relay = startRelay(names, 100);
    const nc = await modules.connect({ servers: nats.url });
    let storedAndStillInOutbox = 0;
    try {
      let seen = 0;
      while (storedAndStillInOutbox === 0) {
        seen = await until('the stream to grow', async () => {
          const count = await storedCount(stream, nc);
          return count > seen ? count : (await outboxRows()) === 0 ? -1 : false;
        }, 30_000, 20);
        if (seen === -1) break; // everything was relayed before the relay could be caught in the gap
        relay.process.kill('SIGSTOP');
        storedAndStillInOutbox = (await storedCount(stream, nc)) + (await outboxRows()) - total;
        if (storedAndStillInOutbox === 0) relay.process.kill('SIGCONT');
      }
    } finally {
      await relay.stop('SIGKILL');
      await nc.close();
    }
    expect(storedAndStillInOutbox, 'killed between the PubAck and the DELETE').toBeGreaterThan(0);

    const second = startRelay(names);
    await second.ready();
    await until('an empty outbox', async () => (await outboxRows()) === 0, 60_000, 20);
    expectEachOnceInWriteOrder(await storedEvents(names.EVENTS_STREAM!), written);
    await second.stop('SIGTERM');
  }, 180_000);
});
