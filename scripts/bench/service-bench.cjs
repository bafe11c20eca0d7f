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
const { createRequire } = require('node:module');
const { Client, Pool } = require('pg');
const Fastify = require('fastify');
const { percentile, median, figure } = require('./bench-stats.cjs');

// The raw side and the peer (`nats` 2.29, @moleculer/channels) come from bench-peers/, which the runner
// installs for the bench alone: they do not depend on which NATS client the service uses.
const PEERS = path.join(__dirname, 'bench-peers');
if (!fs.existsSync(path.join(PEERS, 'node_modules', 'nats'))) throw new Error(`${PEERS} has no nats: npm run bench installs it`);
const peerRequire = createRequire(path.join(PEERS, 'package.json'));
const { connect, StringCodec } = peerRequire('nats');

/**
 * The service's own client library, used raw, when it is `@nats-io/*` 3.x: the throughput phase then also
 * measures it with default options, next to raw `nats` 2.29 (the issue-12 baseline), so the client move
 * alone shows. Undefined for a service on another client.
 */
function serviceClientV3() {
  const fromService = createRequire(path.join(__dirname, 'package.json'));
  try {
    return { connect: fromService('@nats-io/transport-node').connect, jetstream: fromService('@nats-io/jetstream').jetstream };
  } catch {
    return undefined;
  }
}

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
  consumeEvents: int('BENCH_CONSUME_N', 20_000),
  consumeDbEvents: int('BENCH_CONSUME_DB_N', 2_000),
  consumeConcurrency: int('BENCH_CONSUME_CONCURRENCY', 16),
  consumeBatch: int('BENCH_CONSUME_BATCH', 256),
  logLevel: env.BENCH_LOG_LEVEL || 'info',
  phases: new Set((env.BENCH_ONLY || 'throughput,latency,consume,tenants,outbox').split(',').map((s) => s.trim())),
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
  molStream: `${STREAM_PREFIX}${phase.toUpperCase()}_MOL`,
  molPrefix: `bench_${RUN}_${phase}_mol`,
  molGroup: `bench-${RUN}-${phase}-mol`,
  rawV3Stream: `${STREAM_PREFIX}${phase.toUpperCase()}_RAWV3`,
  rawV3Prefix: `bench_${RUN}_${phase}_rawv3`,
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
async function buildService(service, phase, { subscriber, outbox = false, options: extra = {} }) {
  const options = { ...messagingOptions(phase), ...extra };
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
function userCreated(i, tenantId = `bench-${RUN}`) {
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

/**
 * A raw pull consumer at a given concurrency, as a nats.js user would write it: consume() with a buffer of
 * `batch`, at most `concurrency` handlers running, each message acknowledged when its handler resolves.
 */
async function rawConcurrentConsumer(js, stream, durable, { batch, concurrency }, handler) {
  const consumer = await js.consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: batch });
  let running = 0;
  let slotFree;
  const settled = (m, ok) => {
    if (ok) m.ack();
    else m.nak();
    running--;
    if (slotFree) {
      const wake = slotFree;
      slotFree = undefined;
      wake();
    }
  };
  const done = (async () => {
    for await (const m of messages) {
      running++;
      handler(JSON.parse(sc.decode(m.data)), m).then(
        () => settled(m, true),
        () => settled(m, false),
      );
      if (running >= concurrency) await new Promise((resolve) => (slotFree = resolve));
    }
  })();
  return {
    async stop() {
      await messages.close();
      await done;
    },
  };
}

// The peer: @moleculer/channels with its NATS adapter (JetStream) on the same server, set up as its README does.
let brokers = 0;
function moleculerBroker() {
  const { ServiceBroker } = peerRequire('moleculer');
  const { Middleware: Channels } = peerRequire('@moleculer/channels');
  return new ServiceBroker({
    nodeID: `bench-${RUN}-${++brokers}`,
    logger: false,
    middlewares: [Channels({ adapter: { type: 'NATS', options: { nats: { url: settings.natsUrl } } } })],
  });
}

/** A stream for the peer with the configuration of the plugin's (the adapter would create one with defaults). */
async function molStreamLike(jsm, pluginStream, n) {
  const { config } = await jsm.streams.info(pluginStream);
  await jsm.streams.add({ ...config, name: n.molStream, subjects: [`${n.molPrefix}.>`] });
}

// ---------------------------------------------------------------------------------------------------
// Phases. Each returns its figures; repetitions alternate which side goes first.

async function throughputPhase(ctx) {
  const n = names('tp');
  const app = await buildService(ctx.service, 'tp', { subscriber: false });
  ctx.apps.push(app);
  await app.ready();
  await rawStreamLike(ctx.jsm, n.stream, n);
  await molStreamLike(ctx.jsm, n.stream, n);
  const broker = moleculerBroker();
  await broker.start();
  let brokerStopped;
  const stopBroker = () => (brokerStopped ??= broker.stop());
  ctx.stops.push(stopBroker);
  const subject = `${n.rawPrefix}.user.created`;
  const molChannel = `${n.molPrefix}.user.created`;
  // Every side sends the event id as Nats-Msg-Id, so JetStream deduplicates for each of them alike.
  const sides = {
    raw: (event) => ctx.js.publish(subject, sc.encode(JSON.stringify(event)), { msgID: event.id }),
    publishEvent: (event) => app.publishEvent(event),
    moleculer: (event) => broker.sendToChannel(molChannel, event, { msgID: event.id }),
  };
  const v3 = serviceClientV3();
  if (v3) {
    const nc = await v3.connect({ servers: settings.natsUrl, name: `${settings.serviceName}-bench-raw-v3` });
    ctx.stops.push(() => (nc.isClosed() ? Promise.resolve() : nc.drain()));
    const { config } = await ctx.jsm.streams.info(n.rawStream);
    await ctx.jsm.streams.add({ ...config, name: n.rawV3Stream, subjects: [`${n.rawV3Prefix}.>`] });
    const js = v3.jetstream(nc);
    const v3Subject = `${n.rawV3Prefix}.user.created`;
    sides.rawV3 = (event) => js.publish(v3Subject, sc.encode(JSON.stringify(event)), { msgID: event.id });
  }
  const names_ = Object.keys(sides);

  log(`throughput: warm-up (${settings.warmupEvents} events each side)`);
  const warm = userEvents(settings.warmupEvents);
  for (const side of names_) await bounded(warm, settings.inFlight, sides[side]);

  // The machines are shared: load comes and goes within a second. So that every side meets the same load,
  // each repetition interleaves them in slices (raw slice 1, publishEvent slice 1, moleculer slice 1, then
  // the next slice in another order, …), each slice with up to settings.inFlight publishes in flight; a
  // side's throughput is N divided by the time its slices took together.
  const slices = Math.max(1, Math.min(settings.slices, Math.floor(settings.events / settings.inFlight)));
  const eps = Object.fromEntries(names_.map((side) => [side, []]));
  const ratios = { raw: [], moleculer: [], rawV3: [] };
  for (let rep = 0; rep < settings.repetitions; rep++) {
    // The same payloads for every side (each side has its own stream, so ids do not collide).
    const events = userEvents(settings.events);
    const ms = Object.fromEntries(names_.map((side) => [side, 0]));
    for (let slice = 0; slice < slices; slice++) {
      const part = events.slice(Math.floor((slice * events.length) / slices), Math.floor(((slice + 1) * events.length) / slices));
      for (let i = 0; i < names_.length; i++) {
        const side = names_[(i + slice + rep) % names_.length];
        ms[side] += await bounded(part, settings.inFlight, sides[side]);
      }
    }
    for (const side of names_) eps[side].push(settings.events / (ms[side] / 1000));
    ratios.raw.push(eps.publishEvent.at(-1) / eps.raw.at(-1));
    ratios.moleculer.push(eps.publishEvent.at(-1) / eps.moleculer.at(-1));
    if (v3) ratios.rawV3.push(eps.rawV3.at(-1) / eps.raw.at(-1));
    log(
      `throughput rep ${rep + 1}/${settings.repetitions}: raw ${eps.raw.at(-1).toFixed(0)}/s, publishEvent ${eps.publishEvent.at(-1).toFixed(0)}/s, ` +
        `moleculer ${eps.moleculer.at(-1).toFixed(0)}/s (publishEvent ×${ratios.raw.at(-1).toFixed(2)} raw, ×${ratios.moleculer.at(-1).toFixed(2)} moleculer)` +
        (v3 ? `, raw v3 ${eps.rawV3.at(-1).toFixed(0)}/s` : ''),
    );
    for (const stream of [n.stream, n.rawStream, n.molStream, ...(v3 ? [n.rawV3Stream] : [])]) await ctx.jsm.streams.purge(stream);
  }
  await stopBroker();
  await app.close();
  return {
    throughput_raw: figure('events/s', eps.raw),
    throughput_publishEvent: figure('events/s', eps.publishEvent),
    throughput_moleculer: figure('events/s', eps.moleculer),
    throughput_ratio: figure('×', ratios.raw, { target: '>= 1.6', meets: median(ratios.raw) >= 1.6 }),
    throughput_vs_moleculer: figure('×', ratios.moleculer, { target: '>= 1.5', meets: median(ratios.moleculer) >= 1.5 }),
    ...(v3 ? { throughput_raw_v3: figure('events/s', eps.rawV3), throughput_raw_v3_ratio: figure('×', ratios.rawV3) } : {}),
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
    latency_p99_ratio: figure('×', out.p99Ratio, { target: '<= 1.2', meets: median(out.p99Ratio) <= 1.2 }),
  };
}

/**
 * Consuming (issue 12): N events already in a stream, from its handler's first run to its last (steady
 * state: no side's start-up counts), each side at the same concurrency (BENCH_CONSUME_CONCURRENCY):
 * - no-op handler: the subscriber plugin (a handler for tenant.ready, a type with no built-in handler),
 *   a raw pull consumer with the plugin's consumer configuration and pull buffer, and @moleculer/channels
 *   (maxInFlight = the same concurrency);
 * - the built-in user.created handler writing to PostgreSQL (TenantService.applyUserEvent): the plugin,
 *   against a raw pull consumer calling the same TenantService method.
 * Each repetition runs the sides in another order; a side's durable consumer carries over between them.
 */
async function consumePhase(ctx) {
  const concurrency = settings.consumeConcurrency;
  const options = { consumerConcurrency: concurrency, consumerBatch: settings.consumeBatch };
  const noop = names('cn');
  const db = names('cdb');
  const consumer = `${settings.serviceName}-workers`;
  const tenantId = `${RUN}-db`;
  const { TenantService } = require(dist('services/tenant.service.js'));

  // One app per repetition and variant, as a restarted instance: it registers (streams and the durable
  // consumer exist after that), the events go in, and the clock starts when it gets ready (consuming starts).
  const pluginApp = async (variant, onNoop) => {
    const app = await buildService(ctx.service, variant, { subscriber: true, options });
    ctx.apps.push(app);
    if (onNoop) app.registerHandler('tenant.ready', async () => onNoop());
    return app;
  };
  const fill = async (subject, events) => {
    await bounded(events, settings.inFlight, (event) => ctx.js.publish(subject, sc.encode(JSON.stringify(event)), { msgID: event.id }));
  };
  // A moment: the time, and the CPU time this process has used (user and system, µs).
  const mark = () => {
    const cpu = process.cpuUsage();
    return { at: now(), cpu: cpu.user + cpu.system };
  };
  /**
   * Steady-state throughput: events per second from the first handler run to the last (so that no side's
   * start-up counts: connecting, creating the consumer, the service's onReady hooks), and this process's CPU
   * time per event in between.
   */
  const rate = ({ from, to, events }) => ({ eps: events / ((to.at - from.at) / 1000), cpuPerEvent: (to.cpu - from.cpu) / events });
  /** Resolves with the span from the first to the `count`th handler run, or rejects after the deadline. */
  const counter = (count) => {
    let seen = 0;
    let from;
    let resolve;
    const all = new Promise((r) => (resolve = r));
    return {
      all,
      tick() {
        seen++;
        if (seen === 1) from = mark();
        if (seen === count) resolve({ from, to: mark(), events: count - 1 });
      },
    };
  };
  const within = (promise, what) =>
    Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not done within 120 s`)), 120_000).unref())]);
  /**
   * For a built-in handler (no second handler can be registered for its type): polls the service's own
   * events_handled_total (in process, no I/O) until `count` runs of `type` ended well.
   */
  const handledSpan = async (app, type, count) => {
    const handled = async () => {
      const { values } = await app.metricsRegistry.getSingleMetric('events_handled_total').get();
      return values.filter(({ labels }) => labels.type === type && labels.result === 'ok').reduce((sum, { value }) => sum + value, 0);
    };
    const deadline = now() + 120_000;
    let from;
    for (;;) {
      const done = await handled();
      if (done > 0 && !from) from = { ...mark(), done };
      if (done >= count) return { from, to: mark(), events: count - from.done };
      if (now() > deadline) throw new Error(`${type}: ${done} of ${count} handled after 120 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };

  // Setup: the streams and consumers of the plugin (by registering it once), and their raw and peer copies.
  for (const variant of [noop, db]) {
    const phase = variant === noop ? 'cn' : 'cdb';
    const app = await pluginApp(phase);
    await app.close();
    await rawStreamLike(ctx.jsm, variant.stream, variant);
    await rawConsumerLike(ctx.jsm, variant.stream, consumer, variant, variant.subjectPrefix);
  }
  await molStreamLike(ctx.jsm, noop.stream, noop);
  const pool = new Pool({ connectionString: settings.databaseUrl, max: concurrency });
  let poolEnded;
  const endPool = () => (poolEnded ??= pool.end());
  ctx.stops.push(endPool);
  const tenants = new TenantService(pool);
  await tenants.createTenantSchema(tenantId);
  const userEvent = (i) => {
    const event = userCreated(i, tenantId);
    return event;
  };
  const applyUser = (event, m) => {
    const { userId, email, name } = event.data;
    return tenants.applyUserEvent(tenantId, { eventId: event.id, userId, position: m.seq, kind: 'created', email, name });
  };

  const sides = {
    async plugin() {
      const count = counter(settings.consumeEvents);
      const app = await pluginApp('cn', count.tick);
      await fill(`${noop.subjectPrefix}.tenant.ready`, latencyEvents(settings.consumeEvents));
      await app.ready();
      const span = await within(count.all, 'plugin, no-op handler');
      await app.close();
      return rate(span);
    },
    async raw() {
      const count = counter(settings.consumeEvents);
      await fill(`${noop.rawPrefix}.tenant.ready`, latencyEvents(settings.consumeEvents));
      const loop = await rawConcurrentConsumer(ctx.js, noop.rawStream, noop.rawDurable, { batch: settings.consumeBatch, concurrency }, async () => count.tick());
      const span = await within(count.all, 'raw pull consumer, no-op handler');
      await loop.stop();
      return rate(span);
    },
    async moleculer() {
      const count = counter(settings.consumeEvents);
      const broker = moleculerBroker();
      broker.createService({
        name: `bench-${RUN}`,
        channels: {
          [`${noop.molPrefix}.tenant.ready`]: {
            group: noop.molGroup,
            maxInFlight: concurrency,
            // The stream is there already; a new durable starts at the stream's first message, as the plugin's does.
            nats: { streamConfig: { name: noop.molStream, subjects: [`${noop.molPrefix}.>`] }, consumerOptions: { config: { deliver_policy: 'all' } } },
            async handler() {
              count.tick();
            },
          },
        },
      });
      await fill(`${noop.molPrefix}.tenant.ready`, latencyEvents(settings.consumeEvents));
      await broker.start();
      try {
        const span = await within(count.all, 'moleculer-channels, no-op handler');
        return rate(span);
      } finally {
        await broker.stop();
      }
    },
    async pluginDb() {
      const app = await pluginApp('cdb');
      await fill(`${db.subjectPrefix}.user.created`, Array.from({ length: settings.consumeDbEvents }, (_, i) => userEvent(i)));
      await app.ready();
      const span = await handledSpan(app, 'user.created', settings.consumeDbEvents);
      await app.close();
      return rate(span);
    },
    async rawDb() {
      const count = counter(settings.consumeDbEvents);
      await fill(`${db.rawPrefix}.user.created`, Array.from({ length: settings.consumeDbEvents }, (_, i) => userEvent(i)));
      const loop = await rawConcurrentConsumer(ctx.js, db.rawStream, db.rawDurable, { batch: settings.consumeBatch, concurrency }, async (event, m) => {
        await applyUser(event, m);
        count.tick();
      });
      const span = await within(count.all, 'raw pull consumer, user.created handler');
      await loop.stop();
      return rate(span);
    },
  };
  // BENCH_CONSUME_SIDES runs some of them only (to profile one); the ratios need all of them.
  const order = env.BENCH_CONSUME_SIDES ? env.BENCH_CONSUME_SIDES.split(',') : Object.keys(sides);
  for (const side of order) if (!sides[side]) throw new Error(`BENCH_CONSUME_SIDES: unknown side ${side} (one of ${Object.keys(sides).join(', ')})`);

  log(`consume: warm-up (${Math.min(settings.warmupEvents, settings.consumeEvents)} events, each side once)`);
  const measured = { ...settings };
  settings.consumeEvents = Math.min(settings.warmupEvents, settings.consumeEvents);
  settings.consumeDbEvents = Math.min(settings.warmupEvents, settings.consumeDbEvents);
  for (const side of order) await sides[side]();
  settings.consumeEvents = measured.consumeEvents;
  settings.consumeDbEvents = measured.consumeDbEvents;

  const eps = Object.fromEntries(order.map((side) => [side, []]));
  const ratios = { raw: [], moleculer: [], db: [] };
  for (let rep = 0; rep < settings.repetitions; rep++) {
    // CPU time of this process per event while a side consumed: steadier than events/s on a loaded
    // machine, and it tells where the cost is (logged, not a figure).
    const cpu = {};
    for (let i = 0; i < order.length; i++) {
      const side = order[(i + rep) % order.length];
      const measured = await sides[side]();
      eps[side].push(measured.eps);
      cpu[side] = measured.cpuPerEvent;
    }
    const last = (side) => eps[side]?.at(-1);
    const ratio = (list, a, b) => last(a) && last(b) && list.push(last(a) / last(b));
    ratio(ratios.raw, 'plugin', 'raw');
    ratio(ratios.moleculer, 'plugin', 'moleculer');
    ratio(ratios.db, 'pluginDb', 'rawDb');
    log(
      `consume rep ${rep + 1}/${settings.repetitions} (${concurrency} at a time): ` +
        order.map((side) => `${side} ${last(side).toFixed(0)}/s (${cpu[side].toFixed(0)} µs CPU/event)`).join(', ') +
        (ratios.raw.length === rep + 1 ? ` (plugin ×${ratios.raw.at(-1).toFixed(2)} raw)` : '') +
        (ratios.moleculer.length === rep + 1 ? ` (plugin ×${ratios.moleculer.at(-1).toFixed(2)} moleculer)` : ''),
    );
    for (const stream of [noop.stream, noop.rawStream, noop.molStream, db.stream, db.rawStream]) await ctx.jsm.streams.purge(stream);
  }
  await endPool();
  if (env.BENCH_CONSUME_SIDES) return {};
  return {
    consume_raw: figure('events/s', eps.raw),
    consume_plugin: figure('events/s', eps.plugin),
    consume_moleculer: figure('events/s', eps.moleculer),
    consume_ratio: figure('×', ratios.raw, { target: '>= 0.9', meets: median(ratios.raw) >= 0.9 }),
    consume_vs_moleculer: figure('×', ratios.moleculer, { target: '>= 1.2', meets: median(ratios.moleculer) >= 1.2 }),
    consume_db_raw: figure('events/s', eps.rawDb),
    consume_db_plugin: figure('events/s', eps.pluginDb),
    consume_db_ratio: figure('×', ratios.db),
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
 * event per transaction, one transaction at a time, from sending COMMIT to the message reaching a core
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
  const inTransaction = async (work, committing = () => {}) => {
    const client = await app.pg.pool.connect();
    try {
      await client.query('BEGIN');
      await work(client);
      committing();
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
      // Timed from sending COMMIT: the relay sees the row once the server has committed it, which can be
      // before this process has read the server's answer, so a time from COMMIT returning can be below zero.
      let committedFrom = 0;
      await inTransaction(
        async (client) => app.publishEvent(event, { client }),
        () => (committedFrom = now()),
      );
      times.push((await stored) - committedFrom);
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
    if (settings.phases.has('consume')) Object.assign(figures, await consumePhase(ctx));
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
