#!/usr/bin/env node
// `npm run bench`: what the generated event pipeline costs over the raw `nats` client (issue 4).
//
// 1. builds this generator; 2. times the CLI generating a service with --skip-install (median of 5);
// 3. generates a service with messaging + database into a temporary folder, installs and builds it;
// 4. runs service-bench.cjs inside that service (one process, its own dist/ and its own `nats`) against
//    the local NATS (JetStream) and PostgreSQL; 5. prints the table and writes the JSON.
// Everything it creates (temporary folders; streams, consumers and tenant schemas, by run id) is removed,
// also when a step fails or the run is interrupted.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startNatsCluster } from './nats-cluster.mjs';

const require = createRequire(import.meta.url);
const { figure } = require('./bench-stats.cjs');

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const CLI = join(REPO, 'dist', 'cli', 'saasquatch.js');

const USAGE = `Usage: npm run bench -- [options]

  --quick           small N and one repetition (CI's smoke test); also BENCH_QUICK=1
  --out <file>      where to write the JSON (default .bench/results-<timestamp>.json); also BENCH_OUT
  --only <phases>   comma-separated subset of throughput,latency,consume,tenants,outbox,generation
  --cluster         throughput and latency on a private 3-node NATS cluster, streams of 1 and of 3 replicas
                    (R1 next to R3); needs nats-server on PATH (or NATS_SERVER_BIN)
  --cpu-prof        run the service benchmark under node --cpu-prof (profiles in .bench/profiles/)
  --skip-build      do not rebuild the generator first (dist/ must be current)
  --keep            keep the temporary folder (the generated service) for inspection
  -h, --help        this text

Environment: NATS_URL (default nats://127.0.0.1:4222), DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/test), BENCH_N, BENCH_IN_FLIGHT, BENCH_LATENCY_EVENTS, BENCH_TENANTS,
BENCH_REPS, BENCH_WARMUP, BENCH_CONSUME_N, BENCH_CONSUME_DB_N (events consumed per side), BENCH_CONSUME_CONCURRENCY
(default 16), BENCH_CONSUME_BATCH (pull buffer, default 256), BENCH_SLICES (throughput turns per repetition), BENCH_GENERATION_RUNS,
BENCH_OUTBOX_N, BENCH_OUTBOX_WRITERS (transactions at a time), BENCH_OUTBOX_LATENCY_EVENTS,
BENCH_LOG_LEVEL (the service's log level, default info).`;

function parseArgs(argv) {
  const args = { quick: ['1', 'true'].includes(process.env.BENCH_QUICK ?? ''), out: process.env.BENCH_OUT };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--quick') args.quick = true;
    else if (arg === '--out') args.out = value();
    else if (arg.startsWith('--out=')) args.out = arg.slice(6);
    else if (arg === '--only') args.only = value();
    else if (arg.startsWith('--only=')) args.only = arg.slice(7);
    else if (arg === '--cpu-prof') args.cpuProf = true;
    else if (arg === '--cluster') args.cluster = true;
    else if (arg === '--skip-build') args.skipBuild = true;
    else if (arg === '--keep') args.keep = true;
    else if (arg === '-h' || arg === '--help') args.help = true;
    else throw new Error(`unknown option ${arg} (see --help)`);
  }
  return args;
}

const PHASES = ['throughput', 'latency', 'consume', 'tenants', 'outbox', 'generation'];

/** Runs a command; resolves with its output, rejects (with the output's tail) when it exits non-zero. */
function run(command, args, { cwd, env, inherit = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    current.child = child;
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      current.child = undefined;
      if (code === 0) resolvePromise(output);
      else {
        const tail = output.trim().split('\n').slice(-30).join('\n');
        reject(new Error(`${command} ${args.join(' ')} (in ${cwd ?? process.cwd()}) exited with ${code ?? signal}${tail ? `:\n${tail}` : ''}`));
      }
    });
  });
}
const current = { child: undefined };

async function step(label, fn) {
  const start = performance.now();
  process.stdout.write(`• ${label} … `);
  try {
    const result = await fn();
    const seconds = (performance.now() - start) / 1000;
    console.log(`${seconds.toFixed(1)} s`);
    return { result, seconds };
  } catch (error) {
    console.log('failed');
    throw error;
  }
}

/** The CLI writes into the current folder when it is empty, else into ./<service-name>. */
function generatedRoot(folder, serviceName) {
  if (existsSync(join(folder, 'package.json'))) return folder;
  if (existsSync(join(folder, serviceName, 'package.json'))) return join(folder, serviceName);
  throw new Error(`the CLI wrote no package.json in ${folder} or ${join(folder, serviceName)}`);
}

/** What the bench compares against: none has an install script (checked with `npm view`). */
const PEER_PACKAGES = ['nats@2.29', 'moleculer@0.14', '@moleculer/channels@0.1.8'];

const generateArgs = (serviceName) => [CLI, '--service-name', serviceName, '--database', '--message-queue', '--skip-install'];

// ---------------------------------------------------------------------------------------------------
const ROWS = [
  ['throughput_raw', 'throughput: raw js.publish'],
  ['throughput_publishEvent', 'throughput: fastify.publishEvent'],
  ['throughput_moleculer', 'throughput: @moleculer/channels sendToChannel'],
  ['throughput_ratio', '  publishEvent / raw        (target ≥ 1.6)'],
  ['throughput_vs_moleculer', '  publishEvent / moleculer  (target ≥ 1.5)'],
  ['throughput_raw_v3', "throughput: raw js.publish, the service's @nats-io/* 3.x"],
  ['throughput_raw_v3_ratio', '  raw 3.x / raw nats 2.29'],
  ['latency_raw_p50', 'publish→handler p50: raw pull consumer'],
  ['latency_raw_p99', 'publish→handler p99: raw pull consumer'],
  ['latency_plugin_p50', 'publish→handler p50: subscriber plugin'],
  ['latency_plugin_p99', 'publish→handler p99: subscriber plugin'],
  ['latency_p50_ratio', '  p50 plugin / raw'],
  ['latency_p99_ratio', '  p99 plugin / raw          (target ≤ 1.2)'],
  ['consume_raw', 'consume, no-op handler: raw pull consumer'],
  ['consume_plugin', 'consume, no-op handler: subscriber plugin'],
  ['consume_moleculer', 'consume, no-op handler: @moleculer/channels'],
  ['consume_ratio', '  plugin / raw              (target ≥ 0.9)'],
  ['consume_vs_moleculer', '  plugin / moleculer        (target ≥ 1.2)'],
  ['consume_db_raw', 'consume, user.created → PostgreSQL: raw pull consumer'],
  ['consume_db_plugin', 'consume, user.created → PostgreSQL: subscriber plugin'],
  ['consume_db_ratio', '  plugin / raw'],
  ['tenant_ready_p50', 'tenant.created→tenant.ready p50'],
  ['tenant_ready_p99', 'tenant.created→tenant.ready p99'],
  ['outbox_tx1_throughput', 'outbox: transactions of 1 (committed and relayed)'],
  ['outbox_tx100_throughput', 'outbox: transactions of 100 (committed and relayed)'],
  ['outbox_direct_throughput', 'outbox run: publishEvent without a client'],
  ['outbox_commit_stored_p50', 'outbox commit→stored p50'],
  ['outbox_commit_stored_p99', 'outbox commit→stored p99'],
  ['generation_skip_install', 'CLI generation, --skip-install'],
];

function format(value, unit) {
  if (unit === 'events/s') return Math.round(value).toLocaleString('en-US');
  if (unit === '×') return value.toFixed(2);
  return value < 10 ? value.toFixed(3) : value < 100 ? value.toFixed(2) : value.toFixed(1);
}

/** On a cluster: the figures that change with the replica count, each for R1 and R3, and R3 over R1. */
const CLUSTER_KEYS = ['throughput_raw', 'throughput_publishEvent', 'latency_raw_p50', 'latency_raw_p99', 'latency_plugin_p50', 'latency_plugin_p99'];
const CLUSTER_ROWS = CLUSTER_KEYS.flatMap((key) => {
  const label = ROWS.find(([row]) => row === key)[1];
  return [
    [`r1_${key}`, `R1 ${label}`],
    [`r3_${key}`, `R3 ${label}`],
    [`r3_over_r1_${key}`, `  R3 / R1`],
  ];
});

function table(figures, rowList = ROWS) {
  const lines = [];
  const head = ['figure', 'median', 'min', 'max', 'unit', 'n'];
  const rows = rowList.filter(([key]) => figures[key]).map(([key, label]) => {
    const f = figures[key];
    const verdict = f.meets === undefined ? '' : f.meets ? '  ✓' : '  ✗ misses target';
    return [label, format(f.median, f.unit), format(f.min, f.unit), format(f.max, f.unit), f.unit + verdict, String(f.repetitions.length)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === 4 ? 0 : r[i].length))));
  const line = (cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]) : i === 4 ? c : c.padStart(widths[i]))).join('  ');
  lines.push(line([head[0], head[1], head[2], head[3], head[5], head[4]]));
  lines.push('-'.repeat(widths[0] + widths[1] + widths[2] + widths[3] + widths[5] + 8 + 20));
  for (const r of rows) lines.push(line([r[0], r[1], r[2], r[3], r[5], r[4]]));
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------
async function main() {
  const wallStart = performance.now();
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const phases = new Set(args.only ? args.only.split(',').map((s) => s.trim()) : args.cluster ? ['throughput', 'latency'] : PHASES);
  for (const phase of phases) if (!PHASES.includes(phase)) throw new Error(`--only: unknown phase ${phase} (one of ${PHASES.join(', ')})`);

  const timestamp = new Date().toISOString();
  const stamp = timestamp.replace(/[:.]/g, '-');
  const out = resolve(args.out ?? join(REPO, '.bench', `results-${stamp}.json`));
  const runId = `r${randomBytes(4).toString('hex').slice(0, 7)}`;
  const serviceName = `bench-${runId}`;
  const quick = args.quick;
  const knobs = {
    BENCH_N: process.env.BENCH_N ?? (quick ? '1000' : '20000'),
    BENCH_IN_FLIGHT: process.env.BENCH_IN_FLIGHT ?? '256',
    BENCH_LATENCY_EVENTS: process.env.BENCH_LATENCY_EVENTS ?? (quick ? '100' : '2000'),
    BENCH_TENANTS: process.env.BENCH_TENANTS ?? (quick ? '10' : '200'),
    BENCH_OUTBOX_N: process.env.BENCH_OUTBOX_N ?? (quick ? '500' : '10000'),
    BENCH_OUTBOX_LATENCY_EVENTS: process.env.BENCH_OUTBOX_LATENCY_EVENTS ?? (quick ? '50' : '1000'),
    BENCH_CONSUME_N: process.env.BENCH_CONSUME_N ?? (quick ? '500' : '20000'),
    BENCH_CONSUME_DB_N: process.env.BENCH_CONSUME_DB_N ?? (quick ? '100' : '2000'),
    BENCH_REPS: process.env.BENCH_REPS ?? (quick ? '1' : '5'),
    BENCH_WARMUP: process.env.BENCH_WARMUP ?? (quick ? '100' : '1000'),
  };
  const generationRuns = Number(process.env.BENCH_GENERATION_RUNS ?? (quick ? 1 : 5));
  const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';
  const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

  console.log(`saasquatch bench ${quick ? '(quick) ' : ''}run ${runId}: NATS ${natsUrl}, PostgreSQL ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}, ${availableParallelism()} cores`);

  const temp = mkdtempSync(join(tmpdir(), 'saasquatch-bench-'));
  let interrupted = false;
  const cleanupTemp = () => {
    if (args.keep) console.log(`kept ${temp}`);
    else rmSync(temp, { recursive: true, force: true });
  };
  // A safety net for any way out that skips the regular cleanup below.
  process.once('exit', () => {
    if (!args.keep) rmSync(temp, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      console.error(`\n${signal}: stopping, cleaning up`);
      const child = current.child;
      const finish = () => {
        cleanupTemp();
        process.exit(130);
      };
      if (child && child.exitCode === null) {
        // The benchmark program removes its streams and schemas on SIGTERM before it exits.
        child.once('close', finish);
        child.kill('SIGTERM');
      } else finish();
    });
  }

  const steps = {};
  const figures = {};
  let service = {};
  let failure;
  try {
    if (!args.skipBuild) steps.buildGenerator = (await step('building the generator (npm run build)', () => run('npm', ['run', '--silent', 'build'], { cwd: REPO }))).seconds;
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build`);

    if (phases.has('generation')) {
      const { result: times } = await step(`timing the CLI with --skip-install (${generationRuns} runs${quick ? '' : ' after 1 warm-up'})`, async () => {
        const times = [];
        for (let i = quick ? 0 : -1; i < generationRuns; i++) {
          const folder = join(temp, `generation-${i + 1}`);
          mkdirSync(folder);
          const start = performance.now();
          await run(process.execPath, generateArgs(`gen-${runId}`), { cwd: folder });
          const ms = performance.now() - start;
          const root = generatedRoot(folder, `gen-${runId}`);
          if (!existsSync(join(root, 'src', 'plugins', 'nats-publisher.ts'))) throw new Error(`the generated service in ${root} has no src/plugins/nats-publisher.ts`);
          rmSync(folder, { recursive: true, force: true });
          if (i >= 0) times.push(ms);
        }
        return times;
      });
      figures.generation_skip_install = figure('ms', times);
    }

    const servicePhases = ['throughput', 'latency', ...(args.cluster ? [] : ['consume', 'tenants', 'outbox'])].filter((p) => phases.has(p));
    if (servicePhases.length > 0) {
      const folder = join(temp, 'service');
      mkdirSync(folder);
      await step(`generating ${serviceName} (messaging + database)`, () => run(process.execPath, generateArgs(serviceName), { cwd: folder }));
      const root = generatedRoot(folder, serviceName);
      steps.install = (await step('npm install --prefer-offline', () => run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: root }))).seconds;
      steps.buildService = (await step('npm run build (the service)', () => run('npm', ['run', 'build'], { cwd: root }))).seconds;
      // The comparison's other sides (raw `nats` 2.29 with default options, @moleculer/channels) come from
      // packages the bench installs for itself, in a folder of their own: whichever NATS client the service
      // uses, they stay the same.
      const peers = join(root, 'bench-peers');
      mkdirSync(peers);
      writeFileSync(join(peers, 'package.json'), JSON.stringify({ name: 'bench-peers', private: true }) + '\n');
      steps.installPeers = (
        await step(`npm install --no-save ${PEER_PACKAGES.join(' ')} (the bench's own)`, () =>
          run('npm', ['install', '--no-save', '--prefer-offline', '--no-audit', '--no-fund', ...PEER_PACKAGES], { cwd: peers }),
        )
      ).seconds;
      copyFileSync(join(HERE, 'service-bench.cjs'), join(root, 'saasquatch-bench.cjs'));
      copyFileSync(join(HERE, 'bench-stats.cjs'), join(root, 'bench-stats.cjs'));

      const serviceOut = join(temp, 'service-results.json');
      const nodeArgs = [];
      if (args.cpuProf) {
        const profiles = join(REPO, '.bench', 'profiles', stamp);
        mkdirSync(profiles, { recursive: true });
        nodeArgs.push('--cpu-prof', '--cpu-prof-dir', profiles);
        console.log(`  CPU profiles go to ${profiles} (node scripts/bench/profile-summary.mjs <file> reads one)`);
      }
      const benchmark = async (label, env, out) => {
        console.log(`• benchmark${label} (${servicePhases.join(', ')}) in one process inside the service:`);
        const benchStart = performance.now();
        try {
          await run(process.execPath, [...nodeArgs, 'saasquatch-bench.cjs'], {
            cwd: root,
            inherit: true,
            env: {
              ...process.env,
              ...knobs,
              NATS_URL: natsUrl,
              DATABASE_URL: databaseUrl,
              SERVICE_NAME: serviceName,
              BENCH_RUN_ID: runId,
              BENCH_ONLY: servicePhases.join(','),
              BENCH_SERVICE_OUT: out,
              ...env,
            },
          });
        } finally {
          steps[`benchmark${label.replace(/\W/g, '_')}`] = (performance.now() - benchStart) / 1000;
        }
        return existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : {};
      };
      if (!args.cluster) {
        try {
          service = await benchmark('', {}, serviceOut);
        } finally {
          Object.assign(figures, service.figures);
        }
      } else {
        const cluster = (await step('starting a 3-node NATS cluster', () => startNatsCluster())).result;
        try {
          for (const replicas of [1, 3]) {
            service = await benchmark(` on the cluster, R${replicas}`, { NATS_URL: cluster.url, NATS_STREAM_REPLICAS: String(replicas) }, join(temp, `service-results-r${replicas}.json`));
            for (const [key, value] of Object.entries(service.figures ?? {})) figures[`r${replicas}_${key}`] = value;
            if (service.error) break;
          }
        } finally {
          await cluster.stop();
        }
        for (const key of CLUSTER_KEYS) {
          const [r1, r3] = [figures[`r1_${key}`], figures[`r3_${key}`]];
          if (r1 && r3) figures[`r3_over_r1_${key}`] = { unit: '×', median: r3.median / r1.median, min: r3.median / r1.median, max: r3.median / r1.median, repetitions: [r3.median / r1.median] };
        }
      }
    }
  } catch (error) {
    failure = error;
  }

  const targets = Object.fromEntries(
    ['throughput_ratio', 'throughput_vs_moleculer', 'latency_p99_ratio', 'consume_ratio', 'consume_vs_moleculer']
      .filter((key) => figures[key])
      .map((key) => [key, { target: figures[key].target, median: figures[key].median, meets: figures[key].meets }]),
  );
  const results = {
    tool: 'generator-saasquatch npm run bench',
    version: JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version,
    timestamp,
    runId,
    quick,
    tempFolder: temp,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      natsServer: service.natsServer,
      note: 'shared and noisy machines: compare ratios, not absolute numbers',
    },
    parameters: { ...service.parameters, generationRuns },
    figures,
    targets,
    serviceWarnings: service.serviceWarnings,
    cleaned: service.cleaned,
    stepsSeconds: steps,
    wallSeconds: (performance.now() - wallStart) / 1000,
    error: failure ? failure.message : service.error,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');

  console.log(Object.keys(figures).length ? `\n${table(figures, args.cluster ? CLUSTER_ROWS : ROWS)}\n` : '\nno figures measured\n');
  if (service.serviceWarnings?.count) console.log(`the service logged ${service.serviceWarnings.count} warnings or errors (last ones in the JSON)`);
  if (service.cleaned) console.log(`cleaned up: ${service.cleaned.streams.length} streams (with their consumers), ${service.cleaned.schemas.length} tenant schemas`);
  cleanupTemp();
  console.log(`results: ${out}`);
  console.log(`total wall time: ${((performance.now() - wallStart) / 1000).toFixed(1)} s`);
  if (failure) throw failure;
  if (service.error) throw new Error('the benchmark program failed (see above)');
}

main().catch((error) => {
  console.error(`bench: ${error.message}`);
  process.exitCode = 1;
});
