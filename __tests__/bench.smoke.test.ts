// CI does not run the benchmark (`npm run bench`), but it runs its quick mode so that it cannot rot:
// the whole pipeline (generate, install, build, measure against the local NATS and PostgreSQL, clean up),
// with a small N and one repetition.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const RUNNER = fileURLToPath(new URL('../scripts/bench/run.mjs', import.meta.url));

const FIGURES = [
  'throughput_raw',
  'throughput_publishEvent',
  'throughput_moleculer',
  'throughput_ratio',
  'throughput_vs_moleculer',
  'throughput_raw_v3',
  'throughput_raw_v3_ratio',
  'latency_raw_p50',
  'latency_raw_p99',
  'latency_plugin_p50',
  'latency_plugin_p99',
  'latency_p50_ratio',
  'latency_p99_ratio',
  'consume_raw',
  'consume_plugin',
  'consume_moleculer',
  'consume_ratio',
  'consume_vs_moleculer',
  'consume_db_raw',
  'consume_db_plugin',
  'consume_db_ratio',
  'tenant_ready_p50',
  'tenant_ready_p99',
  'outbox_tx1_throughput',
  'outbox_tx100_throughput',
  'outbox_direct_throughput',
  'outbox_commit_stored_p50',
  'outbox_commit_stored_p99',
  'generation_skip_install',
] as const;

interface Figure {
  unit: string;
  median: number;
  min: number;
  max: number;
  repetitions: number[];
}

interface Results {
  quick: boolean;
  tempFolder: string;
  machine: { cores: number };
  figures: Record<string, Figure>;
  cleaned: { streams: string[]; schemas: string[] };
  error?: string;
}

describe('npm run bench -- --quick', () => {
  const folder = mkdtempSync(join(tmpdir(), 'saasquatch-bench-smoke-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('measures every figure, writes them as JSON and removes what it created', async () => {
    const out = join(folder, 'results.json');
    // globalSetup has just built the generator.
    const { stdout } = await promisify(execFile)(process.execPath, [RUNNER, '--quick', '--skip-build', '--out', out], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 580_000, // installs a generated service first: slow on a loaded 2-core machine
    });
    expect(stdout).toContain(`results: ${out}`);

    const results = JSON.parse(readFileSync(out, 'utf8')) as Results;
    expect(results.error).toBeUndefined();
    expect(results.quick).toBe(true);
    expect(results.machine.cores).toBeGreaterThan(0);
    for (const name of FIGURES) {
      const figure = results.figures[name];
      expect(figure, name).toBeDefined();
      expect(figure!.repetitions.length, name).toBeGreaterThanOrEqual(1);
      for (const value of [figure!.median, figure!.min, figure!.max, ...figure!.repetitions]) {
        expect(Number.isFinite(value) && value > 0, `${name}: ${value}`).toBe(true);
      }
      expect(figure!.min).toBeLessThanOrEqual(figure!.median);
      expect(figure!.median).toBeLessThanOrEqual(figure!.max);
    }
    // Its streams (each phase's events, dead-letter and raw streams) and tenant schemas are gone, and so is its temporary folder.
    expect(results.cleaned.streams.length).toBeGreaterThanOrEqual(14);
    expect(results.cleaned.schemas.length).toBeGreaterThan(0);
    expect(existsSync(results.tempFolder)).toBe(false);
  }, 600_000);

  it('--cluster measures throughput and latency on a private 3-node cluster with streams of 1 and of 3 replicas', async () => {
    const out = join(folder, 'cluster.json');
    const { stdout } = await promisify(execFile)(process.execPath, [RUNNER, '--quick', '--cluster', '--skip-build', '--out', out], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 580_000, // installs a generated service first: slow on a loaded 2-core machine
    });
    expect(stdout).toMatch(/R3 throughput: fastify\.publishEvent/);
    const results = JSON.parse(readFileSync(out, 'utf8')) as Results;
    expect(results.error).toBeUndefined();
    for (const name of ['throughput_publishEvent', 'latency_plugin_p99']) {
      for (const key of [`r1_${name}`, `r3_${name}`, `r3_over_r1_${name}`]) {
        expect(Number.isFinite(results.figures[key]?.median) && results.figures[key]!.median > 0, key).toBe(true);
      }
    }
    expect(existsSync(results.tempFolder)).toBe(false);
  }, 600_000);
});
