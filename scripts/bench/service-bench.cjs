'use strict';
// The benchmark program. `npm run bench` copies it into a freshly generated and built service and runs it
// there (`node saasquatch-bench.cjs`), so that it loads the service's own compiled plugins (dist/) and the
// service's own `nats`, `fastify` and `pg`. One process runs both sides of every comparison, against the
// same NATS server, one after the other, alternating which side goes first.
//
// Settings come from the environment (the runner sets them); results go to BENCH_SERVICE_OUT as JSON.

const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { performance } = require('node:perf_hooks');
const { connect, StringCodec } = require('nats');
const { Client } = require('pg');
const Fastify = require('fastify');
const { percentile, median, figure } = require('./bench-stats.cjs');

const env = process.env;
const int = (name, fallback) => {
  const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${env[name]}`);
  return value;
};

const settings = {
  natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
  databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
  serviceName: env.SERVICE_NAME,
  runId: env.BENCH_RUN_ID,
  events: int('BENCH_N', 20_000),
  inFlight: int('BENCH_IN_FLIGHT', 256),
  dataBytes: int('BENCH_DATA_BYTES', 256),
  latencyEvents: int('BENCH_LATENCY_EVENTS', 2_000),
  tenants: int('BENCH_TENANTS', 200),
  outboxEvents: int('BENCH_OUTBOX_N', 10_000),
  outboxWriters: int('BENCH_OUTBOX_WRITERS', 8),
  outboxLatencyEvents: int('BENCH_OUTBOX_LATENCY_EVENTS', 1_000),
  repetitions: int('BENCH_REPS', 3),
  warmupEvents: int('BENCH_WARMUP', 1_000),
  slices: int('BENCH_SLICES', 10),
  logLevel: env.BENCH_LOG_LEVEL || 'info',
  phases: new Set((env.BENCH_ONLY || 'throughput,latency,tenants,outbox').split(',').map((s) => s.trim())),
  out: env.BENCH_SERVICE_OUT,
};
if (!settings.serviceName || !settings.runId || !settings.out) {
  throw new Error('SERVICE_NAME, BENCH_RUN_ID and BENCH_SERVICE_OUT must be set (npm run bench sets them)');
}

// Every name this run creates carries the run id, so that runs never collide and cleanup finds all of it.
const RUN = settings.runId.toLowerCase();
const STREAM_PREFIX = `BENCH_${RUN.toUpperCase()}_`;
const names = (phase) => ({
  stream: `${STREAM_PREFIX}${phase.toUpperCase()}`,
  subjectPrefix: `bench_${RUN}_${phase}`,
  dlqStream: `${STREAM_PREFIX}${phase.toUpperCase()}_DLQ`,
  dlqSubject: `bench_${RUN}_${phase}_dlq`,
  rawStream: `${STREAM_PREFIX}${phase.toUpperCase()}_RAW`,
  rawPrefix: `bench_${RUN}_${phase}_raw`,
  rawDurable: `bench-${RUN}-${phase}-raw`,
});
const TENANT_SCHEMA_PREFIX = `tenant_${RUN}_`;
/** The outbox phase's own messaging schema (outbox and inbox tables). */
const OUTBOX_SCHEMA = `bench_${RUN}_outbox`;

const sc = StringCodec();
const now = () => performance.now();
const log = (...args) => console.log('  [bench]', ...args);

// ---------------------------------------------------------------------------------------------------
// The generated service's own modules.
const dist = (file) => path.join(__dirname, 'dist', file);
function loadService() {
  const required = ['plugins/nats-publisher.js', 'plugins/nats-subscriber.js', 'plugins/readiness.js', 'plugins/database.js'];
  for (const file of required) {
    if (!fs.existsSync(dist(file))) throw new Error(`the generated service has no dist/${file}: did the messaging generator write src/${file.replace(/\.js$/, '.ts')}?`);
  }
  const mod = (file) => {
    const loaded = require(dist(file));
    return loaded.default ?? loaded;
  };
  return {
    readiness: mod('plugins/readiness.js'),
    database: mod('plugins/database.js'),
    metrics: fs.existsSync(dist('plugins/metrics.js')) ? mod('plugins/metrics.js') : undefined,
    natsPublisher: mod('plugins/nats-publisher.js'),
    natsSubscriber: mod('plugins/nats-subscriber.js'),
    outbox: fs.existsSync(dist('plugins/outbox.js')) ? mod('plugins/outbox.js') : undefined,
  };
}

// The service logs as in production (JSON lines at LOG_LEVEL, written synchronously, as pino does to stdout),
// but into /dev/null; lines at warn or above are counted and the last few kept for the report.
const logSink = (() => {
  const fd = fs.openSync('/dev/null', 'w');
  const sink = {
    warnings: 0,
    lastWarnings: [],
    write(line) {
      fs.writeSync(fd, line);
      if (/"level":(?:[4-6]\d)/.test(line)) {
        sink.warnings += 1;
        sink.lastWarnings.push(line.slice(0, 500).trim());
        if (sink.lastWarnings.length > 5) sink.lastWarnings.shift();
      }
    },
  };
  return sink;
})();

/** The options every messaging plugin takes (Partial<MessagingConfig>), overriding the environment. */
function messagingOptions(phase) {
  const n = names(phase);
  return {
    serviceName: settings.serviceName,
    natsUrl: settings.natsUrl,
    subjectPrefix: n.subjectPrefix,
    streamName: n.stream,
    dlqSubject: n.dlqSubject,
    dlqStreamName: n.dlqStream,
  };
}

/** A Fastify instance registered as the service's src/app.ts does it, with the phase's own names. */
async function buildService(service, phase, { subscriber, outbox = false }) {
  const options = messagingOptions(phase);
  const app = Fastify({ logger: { level: settings.logLevel, name: settings.serviceName, stream: logSink } });
  await app.register(service.readiness);
  await app.register(service.database, { connectionString: settings.databaseUrl });
  if (service.metrics) await app.register(service.metrics, options);
  await app.register(service.natsPublisher, options);
  // The subscriber of a service with a database depends on the outbox (its handlers write through it).
  if (outbox || (subscriber && service.outbox)) await app.register(service.outbox, { schema: OUTBOX_SCHEMA });
  if (subscriber) await app.register(service.natsSubscriber, options);
  return app;
}

// ---------------------------------------------------------------------------------------------------
// Payloads: user.created envelopes whose `data` is exactly settings.dataBytes of JSON.
function userCreated(i) {
  const tenantId = `bench-${RUN}`;
  const data = { userId: randomUUID(), email: `user${i}@example.com`, name: '', tenantId };
  const pad = settings.dataBytes - Buffer.byteLength(JSON.stringify(data));
  if (pad < 1) throw new Error(`BENCH_DATA_BYTES=${settings.dataBytes} is too small for a user.created data object`);
  data.name = 'n'.repeat(pad);
  return { id: randomUUID(), type: 'user.created', timestamp: new Date().toISOString(), tenantId, version: '1.0.0', data };
}
const userEvents = (count) => Array.from({ length: count }, (_, i) => userCreated(i));

// The latency phase needs an event type with no built-in handler (registerHandler refuses a second handler
// for a type, and user.* / tenant.created have built-in ones): tenant.ready, at its largest valid size
// (a 48-character tenant id), so that `data` is as close to the throughput payload as its schema allows.
function tenantReady(i) {
  const stem = `${RUN}-lat-${i}-`;
  const tenantId = stem + 'x'.repeat(48 - stem.length);
  const data = { tenantId, schemaName: `tenant_${tenantId.replace(/-/g, '_')}` };
  return { id: randomUUID(), type: 'tenant.ready', timestamp: new Date().toISOString(), tenantId, version: '1.0.0', data };
}
const latencyEvents = (count) => Array.from({ length: count }, (_, i) => tenantReady(i));

/** Runs fn over items with at most `concurrency` in flight; resolves to the elapsed milliseconds. */
async function bounded(items, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  const start = now();
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return now() - start;
}

/** Resolves when `arrived(key)` is called (from a handler), or rejects after timeoutMs. */
class Arrivals {
  #waiting = new Map();
  wait(key, timeoutMs = 15_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(new Error(`no arrival for ${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(key, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }
  arrived(key) {
    const at = now();
    const resolve = this.#waiting.get(key);
    if (resolve) {
      this.#waiting.delete(key);
      resolve(at);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Raw nats.js counterparts: a stream with the same configuration as the plugin's, and a durable pull
// consumer with the same configuration as the plugin's `<service>-workers`.
async function rawStreamLike(jsm, pluginStream, n) {
  const { config } = await jsm.streams.info(pluginStream);
  const raw = { ...config, name: n.rawStream, subjects: [`${n.rawPrefix}.>`] };
  await jsm.streams.add(raw);
  return raw;
}

async function rawConsumerLike(jsm, pluginStream, pluginConsumer, n, pluginPrefix) {
  const { config } = await jsm.consumers.info(pluginStream, pluginConsumer);
  const raw = { ...config, durable_name: n.rawDurable, name: n.rawDurable };
  const swap = (subject) => (subject ? subject.replace(pluginPrefix, n.rawPrefix) : subject);
  if (raw.filter_subject) raw.filter_subject = swap(raw.filter_subject);
  if (raw.filter_subjects) raw.filter_subjects = raw.filter_subjects.map(swap);
  delete raw.deliver_subject;
  await jsm.consumers.add(n.rawStream, raw);
  return raw;
}

/** The raw consumer loop a nats.js user would write: consume(), parse, call the handler, ack. */
async function rawConsumeLoop(js, stream, durable, handler) {
  const consumer = await js.consumers.get(stream, durable);
  const messages = await consumer.consume();
  const done = (async () => {
    for await (const m of messages) {
      const event = JSON.parse(sc.decode(m.data));
      await handler(event);
      m.ack();
    }
  })();
  return {
    async stop() {
      await messages.close();
      await done;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Phases. Each returns its figures; repetitions alternate which side goes first.

async function throughputPhase(ctx) {
  const n = names('tp');
  const app = await buildService(ctx.service, 'tp', { subscriber: false });
  ctx.apps.push(app);
  await app.ready();
  await rawStreamLike(ctx.jsm, n.stream, n);
  const subject = `${n.rawPrefix}.user.created`;
  const raw = (event) => ctx.js.publish(subject, sc.encode(JSON.stringify(event)), { msgID: event.id });
  const plugin = (event) => app.publishEvent(event);

  log(`throughput: warm-up (${settings.warmupEvents} events each side)`);
  const warm = userEvents(settings.warmupEvents);
  await bounded(warm, settings.inFlight, raw);
  await bounded(warm, settings.inFlight, plugin);

  // The machines are shared: load comes and goes within a second. So that both sides meet the same load,
  // each repetition interleaves them in slices (raw slice 1, publishEvent slice 1, publishEvent slice 2,
  // raw slice 2, …), each slice with up to settings.inFlight publishes in flight; a side's throughput is
  // N divided by the time its slices took together.
  const slices = Math.max(1, Math.min(settings.slices, Math.floor(settings.events / settings.inFlight)));
  const rawEps = [];
  const pluginEps = [];
  const ratios = [];
  for (let rep = 0; rep < settings.repetitions; rep++) {
    // The same payloads for both sides (each side has its own stream, so ids do not collide).
    const events = userEvents(settings.events);
    let rawMs = 0;
    let pluginMs = 0;
    for (let slice = 0; slice < slices; slice++) {
      const part = events.slice(Math.floor((slice * events.length) / slices), Math.floor(((slice + 1) * events.length) / slices));
      if ((slice + rep) % 2 === 0) {
        rawMs += await bounded(part, settings.inFlight, raw);
        pluginMs += await bounded(part, settings.inFlight, plugin);
      } else {
        pluginMs += await bounded(part, settings.inFlight, plugin);
        rawMs += await bounded(part, settings.inFlight, raw);
      }
    }
    const r = settings.events / (rawMs / 1000);
    const p = settings.events / (pluginMs / 1000);
    rawEps.push(r);
    pluginEps.push(p);
    ratios.push(p / r);
    log(`throughput rep ${rep + 1}/${settings.repetitions}: raw ${r.toFixed(0)}/s, publishEvent ${p.toFixed(0)}/s (×${(p / r).toFixed(2)})`);
    await ctx.jsm.streams.purge(n.stream);
    await ctx.jsm.streams.purge(n.rawStream);
  }
  await app.close();
  return {
    throughput_raw: figure('events/s', rawEps),
    throughput_publishEvent: figure('events/s', pluginEps),
    throughput_ratio: figure('×', ratios, { target: '>= 0.8', meets: median(ratios) >= 0.8 }),
  };
}

async function latencyPhase(ctx) {
  const n = names('lat');
  const arrivals = new Arrivals();
  const app = await buildService(ctx.service, 'lat', { subscriber: true });
  ctx.apps.push(app);
  app.registerHandler('tenant.ready', async (event) => {
    arrivals.arrived(event.id);
  });
  await app.ready();

  // The plugin's durable consumer exists once the app is ready; the raw side copies its configuration.
  const consumer = `${settings.serviceName}-workers`;
  await rawStreamLike(ctx.jsm, n.stream, n);
  await rawConsumerLike(ctx.jsm, n.stream, consumer, n, n.subjectPrefix);
  const loop = await rawConsumeLoop(ctx.js, n.rawStream, n.rawDurable, async (event) => {
    arrivals.arrived(event.id);
  });
  ctx.stops.push(() => loop.stop());

  const subject = `${n.rawPrefix}.tenant.ready`;
  const raw = async (event) => {
    const arrived = arrivals.wait(event.id);
    const start = now();
    await ctx.js.publish(subject, sc.encode(JSON.stringify(event)), { msgID: event.id });
    return (await arrived) - start;
  };
  const plugin = async (event) => {
    const arrived = arrivals.wait(event.id);
    const start = now();
    await app.publishEvent(event);
    return (await arrived) - start;
  };
  const oneAtATime = async (send, events) => {
    const times = [];
    for (const event of events) times.push(await send(event));
    return times.sort((a, b) => a - b);
  };

  const warmCount = Math.min(settings.warmupEvents, 200);
  log(`latency: warm-up (${warmCount} events each side)`);
  await oneAtATime(raw, latencyEvents(warmCount));
  await oneAtATime(plugin, latencyEvents(warmCount));

  const out = { rawP50: [], rawP99: [], pluginP50: [], pluginP99: [], p99Ratio: [], p50Ratio: [] };
  for (let rep = 0; rep < settings.repetitions; rep++) {
    // One event at a time, the two sides taking turns (which goes first alternates), so that both see
    // the same moments of the machine's load.
    const events = latencyEvents(settings.latencyEvents);
    const r = [];
    const p = [];
    for (let i = 0; i < events.length; i++) {
      if ((i + rep) % 2 === 0) {
        r.push(await raw(events[i]));
        p.push(await plugin(events[i]));
      } else {
        p.push(await plugin(events[i]));
        r.push(await raw(events[i]));
      }
    }
    r.sort((a, b) => a - b);
    p.sort((a, b) => a - b);
    out.rawP50.push(percentile(r, 50));
    out.rawP99.push(percentile(r, 99));
    out.pluginP50.push(percentile(p, 50));
    out.pluginP99.push(percentile(p, 99));
    out.p50Ratio.push(percentile(p, 50) / percentile(r, 50));
    out.p99Ratio.push(percentile(p, 99) / percentile(r, 99));
    log(
      `latency rep ${rep + 1}/${settings.repetitions}: raw p50 ${percentile(r, 50).toFixed(3)} p99 ${percentile(r, 99).toFixed(3)} ms, ` +
        `plugin p50 ${percentile(p, 50).toFixed(3)} p99 ${percentile(p, 99).toFixed(3)} ms`,
    );
  }
  await loop.stop();
  await app.close();
  return {
    latency_raw_p50: figure('ms', out.rawP50),
    latency_raw_p99: figure('ms', out.rawP99),
    latency_plugin_p50: figure('ms', out.pluginP50),
    latency_plugin_p99: figure('ms', out.pluginP99),
    latency_p50_ratio: figure('×', out.p50Ratio),
    latency_p99_ratio: figure('×', out.p99Ratio, { target: '<= 1.5', meets: median(out.p99Ratio) <= 1.5 }),
  };
}

async function tenantsPhase(ctx) {
  const n = names('ten');
  const arrivals = new Arrivals();
  const app = await buildService(ctx.service, 'ten', { subscriber: true });
  ctx.apps.push(app);
  await app.ready();
  // Another service's view: a core subscription on the tenant.ready subject, on the benchmark's own connection.
  const sub = ctx.nc.subscribe(`${n.subjectPrefix}.tenant.ready`, {
    callback: (err, m) => {
      if (err) return;
      const event = JSON.parse(sc.decode(m.data));
      arrivals.arrived(event.data.tenantId);
    },
  });
  await ctx.nc.flush();

  const provision = async (tenantId) => {
    const ready = arrivals.wait(tenantId, 30_000);
    const start = now();
    await app.publishEvent({
      id: app.generateEventId(),
      type: 'tenant.created',
      timestamp: new Date().toISOString(),
      tenantId,
      version: '1.0.0',
      data: { tenantId, name: `Bench tenant ${tenantId}` },
    });
    return (await ready) - start;
  };

  log('tenants: warm-up (5 tenants)');
  for (let i = 0; i < 5; i++) await provision(`${RUN}-w-${i}`);
  const p50 = [];
  const p99 = [];
  for (let rep = 0; rep < settings.repetitions; rep++) {
    const times = [];
    for (let i = 0; i < settings.tenants; i++) times.push(await provision(`${RUN}-r${rep}-${i}`));
    times.sort((a, b) => a - b);
    p50.push(percentile(times, 50));
    p99.push(percentile(times, 99));
    log(`tenants rep ${rep + 1}/${settings.repetitions}: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms`);
  }
  sub.unsubscribe();
  await app.close();
  return { tenant_ready_p50: figure('ms', p50), tenant_ready_p99: figure('ms', p99) };
}

/**
 * The transactional outbox (issue 9): events committed and relayed per second, N events in transactions of
 * 1 and of 100 (BENCH_OUTBOX_WRITERS transactions at a time), against publishEvent without a client (the
 * same N, BENCH_IN_FLIGHT at a time), in the same run and against the same stream; then commit→stored: one
 * event per transaction, one transaction at a time, from COMMIT returning to the message reaching a core
 * subscription on its subject (JetStream forwards it as it stores it).
 */
async function outboxPhase(ctx) {
  if (!ctx.service.outbox) throw new Error('the generated service has no dist/plugins/outbox.js (the outbox needs --database)');
  const n = names('ob');
  const app = await buildService(ctx.service, 'ob', { subscriber: false, outbox: true });
  ctx.apps.push(app);
  await app.ready();

  const storedCount = async () => (await ctx.jsm.streams.info(n.stream)).state.messages;
  const untilStored = async (count) => {
    const deadline = now() + 120_000;
    while ((await storedCount()) < count) {
      if (now() > deadline) throw new Error(`the outbox relayed ${await storedCount()} of ${count} events within 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  const inTransaction = async (work) => {
    const client = await app.pg.pool.connect();
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  };
  /** Events per second from the first BEGIN until JetStream holds all of them. */
  const throughOutbox = async (events, perTransaction) => {
    await ctx.jsm.streams.purge(n.stream);
    const transactions = [];
    for (let i = 0; i < events.length; i += perTransaction) transactions.push(events.slice(i, i + perTransaction));
    const start = now();
    await bounded(transactions, settings.outboxWriters, (batch) =>
      inTransaction(async (client) => {
        for (const event of batch) await app.publishEvent(event, { client });
      }),
    );
    await untilStored(events.length);
    return events.length / ((now() - start) / 1000);
  };
  const direct = async (events) => {
    await ctx.jsm.streams.purge(n.stream);
    const ms = await bounded(events, settings.inFlight, (event) => app.publishEvent(event));
    return events.length / (ms / 1000);
  };

  log(`outbox: warm-up (${settings.warmupEvents} events each way)`);
  await throughOutbox(userEvents(settings.warmupEvents), 1);
  await throughOutbox(userEvents(settings.warmupEvents), 100);
  await direct(userEvents(settings.warmupEvents));
  const tx1 = [];
  const tx100 = [];
  const directEps = [];
  const count = settings.outboxEvents;
  for (let rep = 0; rep < settings.repetitions; rep++) {
    // Alternate which way goes first, so that load changes on the shared machine fall on all three.
    const ways = [
      async () => tx1.push(await throughOutbox(userEvents(count), 1)),
      async () => tx100.push(await throughOutbox(userEvents(count), 100)),
      async () => directEps.push(await direct(userEvents(count))),
    ];
    for (let i = 0; i < ways.length; i++) await ways[(i + rep) % ways.length]();
    log(
      `outbox rep ${rep + 1}/${settings.repetitions}: transactions of 1 ${tx1.at(-1).toFixed(0)}/s, of 100 ${tx100.at(-1).toFixed(0)}/s, publishEvent without a client ${directEps.at(-1).toFixed(0)}/s`,
    );
  }

  const arrivals = new Arrivals();
  const sub = ctx.nc.subscribe(`${n.subjectPrefix}.>`, {
    callback: (err, m) => {
      if (!err) arrivals.arrived(m.headers?.get('Nats-Msg-Id'));
    },
  });
  await ctx.nc.flush();
  const p50 = [];
  const p99 = [];
  for (let rep = 0; rep < settings.repetitions; rep++) {
    const times = [];
    for (const event of userEvents(settings.outboxLatencyEvents)) {
      const stored = arrivals.wait(event.id, 30_000);
      await inTransaction(async (client) => app.publishEvent(event, { client }));
      const committed = now();
      times.push((await stored) - committed);
    }
    times.sort((a, b) => a - b);
    p50.push(percentile(times, 50));
    p99.push(percentile(times, 99));
    log(`outbox commit→stored rep ${rep + 1}/${settings.repetitions}: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms`);
  }
  sub.unsubscribe();
  await app.close();
  return {
    outbox_tx1_throughput: figure('events/s', tx1),
    outbox_tx100_throughput: figure('events/s', tx100),
    outbox_direct_throughput: figure('events/s', directEps),
    outbox_commit_stored_p50: figure('ms', p50),
    outbox_commit_stored_p99: figure('ms', p99),
  };
}

// ---------------------------------------------------------------------------------------------------
// Cleanup: every stream (and so every consumer) and every tenant schema that carries this run's id.
async function cleanup(ctx) {
  for (const stop of ctx.stops.splice(0)) await stop().catch(() => {});
  for (const app of ctx.apps.splice(0)) await app.close().catch(() => {});
  const report = { streams: [], schemas: [] };
  if (ctx.jsm) {
    const streams = [];
    for await (const name of ctx.jsm.streams.names()) if (name.startsWith(STREAM_PREFIX)) streams.push(name);
    for (const name of streams) {
      await ctx.jsm.streams.delete(name).then(
        () => report.streams.push(name),
        (error) => console.error(`  [bench] could not delete stream ${name}: ${error.message}`),
      );
    }
  }
  const pg = new Client({ connectionString: settings.databaseUrl });
  try {
    await pg.connect();
    const { rows } = await pg.query('SELECT nspname FROM pg_namespace WHERE left(nspname, $1) = $2', [
      TENANT_SCHEMA_PREFIX.length,
      TENANT_SCHEMA_PREFIX,
    ]);
    for (const { nspname } of rows) {
      await pg.query(`DROP SCHEMA ${pg.escapeIdentifier(nspname)} CASCADE`);
      report.schemas.push(nspname);
    }
    const outbox = await pg.query('SELECT nspname FROM pg_namespace WHERE nspname = $1', [OUTBOX_SCHEMA]);
    if (outbox.rowCount === 1) {
      await pg.query(`DROP SCHEMA ${pg.escapeIdentifier(OUTBOX_SCHEMA)} CASCADE`);
      report.schemas.push(OUTBOX_SCHEMA);
    }
  } catch (error) {
    console.error(`  [bench] could not drop tenant schemas ${TENANT_SCHEMA_PREFIX}*: ${error.message}`);
  } finally {
    await pg.end().catch(() => {});
  }
  if (ctx.nc && !ctx.nc.isClosed()) await ctx.nc.drain().catch(() => {});
  return report;
}

async function main() {
  const ctx = { apps: [], stops: [], nc: undefined, js: undefined, jsm: undefined, service: undefined };
  let cleaning;
  const clean = () => (cleaning ??= cleanup(ctx));
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      console.error(`  [bench] ${signal}: cleaning up`);
      clean().finally(() => process.exit(130));
    });
  }

  const started = Date.now();
  const figures = {};
  let failure;
  let cleaned;
  let serverInfo;
  try {
    ctx.service = loadService();
    ctx.nc = await connect({ servers: settings.natsUrl, name: `${settings.serviceName}-bench-raw` });
    ctx.jsm = await ctx.nc.jetstreamManager();
    ctx.js = ctx.nc.jetstream();
    serverInfo = ctx.nc.info;
    if (settings.phases.has('throughput')) Object.assign(figures, await throughputPhase(ctx));
    if (settings.phases.has('latency')) Object.assign(figures, await latencyPhase(ctx));
    if (settings.phases.has('tenants')) Object.assign(figures, await tenantsPhase(ctx));
    if (settings.phases.has('outbox')) Object.assign(figures, await outboxPhase(ctx));
  } catch (error) {
    failure = error;
  } finally {
    cleaned = await clean();
  }
  const result = {
    parameters: {
      events: settings.events,
      inFlight: settings.inFlight,
      dataBytes: settings.dataBytes,
      latencyEvents: settings.latencyEvents,
      latencyEventType: 'tenant.ready',
      latencyDataBytes: Buffer.byteLength(JSON.stringify(tenantReady(0).data)),
      tenants: settings.tenants,
      outboxEvents: settings.outboxEvents,
      outboxWriters: settings.outboxWriters,
      outboxLatencyEvents: settings.outboxLatencyEvents,
      repetitions: settings.repetitions,
      warmupEvents: settings.warmupEvents,
      throughputSlices: settings.slices,
      serviceLogLevel: settings.logLevel,
    },
    natsServer: serverInfo ? { version: serverInfo.version, jetstream: Boolean(serverInfo.jetstream) } : undefined,
    serviceWarnings: { count: logSink.warnings, last: logSink.lastWarnings },
    figures,
    cleaned,
    seconds: (Date.now() - started) / 1000,
    error: failure ? String(failure.stack || failure) : undefined,
  };
  fs.writeFileSync(settings.out, JSON.stringify(result, null, 2));
  if (failure) {
    console.error(`  [bench] failed: ${failure.stack || failure}`);
    if (logSink.lastWarnings.length) console.error(`  [bench] last service warnings:\n    ${logSink.lastWarnings.join('\n    ')}`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
