// The end-to-end checks every generated service goes through, as vitest suites.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CLOSED_DATABASE_URL,
  assertSucceeded,
  eventsEnv,
  natsStreams,
  npmInstall,
  npmRun,
  run,
  runServiceTests,
  serviceNodeVersion,
  withServer,
  type HttpAnswer,
} from './e2e.js';

export interface Features {
  database: boolean;
  messageQueue: boolean;
}

/** npm scripts and their own tests can take long (install, tsc, jest against NATS and PostgreSQL). */
export const STEP_TIMEOUT = 300_000;

interface ReadyBody {
  status: string;
  checks: Record<string, { status: string; error?: string }>;
}

function readyBody(answer: HttpAnswer): ReadyBody {
  return answer.body as ReadyBody;
}

/** Runs `body`, then removes the JetStream streams named in `env` (a cleanup failure fails only a passing test). */
async function withStreamsRemoved(
  service: string,
  features: Features,
  env: Record<string, string>,
  body: () => Promise<unknown>,
): Promise<void> {
  let failed = false;
  try {
    await body();
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    if (features.messageQueue) {
      const cleanup = natsStreams(service, [env.EVENTS_STREAM!, env.EVENTS_DLQ_STREAM!]);
      if (failed) await cleanup.catch(() => undefined);
      else await cleanup;
    }
  }
}

/**
 * install → typecheck → lint → build → its own tests → the built server: /health 200, /ready 200 with every
 * dependency up, and with a database also /ready 503 (database down) when DATABASE_URL points at a closed port.
 * `prepare` makes the service (generate it, or generate and run messaging on it) and returns its folder.
 */
export function describeService(
  label: string,
  features: Features,
  prepare: () => Promise<string>,
  options: { server?: boolean; lint?: boolean } = {},
): void {
  describe(label, () => {
    let service: string;
    const timed = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
      const start = Date.now();
      try {
        return await work();
      } finally {
        console.log(`[e2e] ${label}: ${step} took ${((Date.now() - start) / 1000).toFixed(1)} s`);
      }
    };

    beforeAll(async () => {
      service = await timed('generate', prepare);
      // npm and every script of the service find this `node` first on PATH.
      const node = assertSucceeded('node --version', await run('node', ['--version'], { cwd: service })).stdout.trim();
      console.log(`[e2e] ${label}: runs on Node ${node}`);
      expect(node).toMatch(new RegExp(`^v${serviceNodeVersion()}\\.`));
      await timed('npm install', () => npmInstall(service));
    }, 600_000);

    it('type-checks', async () => {
      await timed('typecheck', () => npmRun(service, 'typecheck'));
    }, STEP_TIMEOUT);

    if (options.lint !== false) {
      it('lints', async () => {
        await timed('lint', () => npmRun(service, 'lint'));
      }, STEP_TIMEOUT);
    }

    it('builds', async () => {
      await timed('build', () => npmRun(service, 'build'));
    }, STEP_TIMEOUT);

    it('passes its own tests against the real services', async () => {
      // Tests that build the whole app connect to NATS with the configured streams: give them names of their own.
      const env: Record<string, string> = features.messageQueue ? eventsEnv(`${label}-test`) : {};
      await withStreamsRemoved(service, features, env, async () => {
        const summary = await timed('npm test', () => runServiceTests(service, label, env));
        expect(summary.passed).toBeGreaterThan(0);
        expect(summary.failed).toBe(0);
      });
    }, STEP_TIMEOUT);

    if (options.server === false) return;

    const expectedChecks = [...(features.database ? ['database'] : []), ...(features.messageQueue ? ['nats'] : [])];

    it(`starts: /health 200, /ready 200 with ${expectedChecks.join(' and ') || 'no dependency'} up, exits 0 on SIGTERM`, async () => {
      const env: Record<string, string> = features.messageQueue ? eventsEnv(label) : {};
      await withStreamsRemoved(service, features, env, () =>
        timed('server', () =>
          withServer(service, env, async (server) => {
            const health = await server.get('/health');
            expect(health.status, health.text).toBe(200);

            const ready = await server.get('/ready');
            expect(ready.status, ready.text).toBe(200);
            expect(readyBody(ready).status, ready.text).toBe('ready');
            const checks = readyBody(ready).checks;
            expect(Object.keys(checks), ready.text).toEqual(expect.arrayContaining(expectedChecks));
            for (const [name, check] of Object.entries(checks)) expect(check.status, `${name}: ${ready.text}`).toBe('up');

            if (features.messageQueue) {
              // The stream names come from the environment (SPEC 3.2): this start created its own.
              const streams = await natsStreams(service);
              expect(streams).toContain(env.EVENTS_STREAM);
              expect(streams).toContain(env.EVENTS_DLQ_STREAM);
            }
          }),
        ),
      );
    }, STEP_TIMEOUT);

    if (features.database) {
      it('reports the database down on /ready (503) and stays alive on /health when PostgreSQL is unreachable', async () => {
        const env: Record<string, string> = {
          DATABASE_URL: CLOSED_DATABASE_URL,
          ...(features.messageQueue ? eventsEnv(`${label}-down`) : {}),
        };
        await withStreamsRemoved(service, features, env, () =>
          timed('server with database down', () =>
            withServer(service, env, async (server) => {
              const health = await server.get('/health');
              expect(health.status, health.text).toBe(200);

              const ready = await server.get('/ready');
              expect(ready.status, ready.text).toBe(503);
              expect(readyBody(ready).status, ready.text).toBe('not_ready');
              expect(readyBody(ready).checks.database?.status, ready.text).toBe('down');
              if (features.messageQueue) expect(readyBody(ready).checks.nats?.status, ready.text).toBe('up');
            }),
          ),
        );
      }, STEP_TIMEOUT);
    }
  });
}
