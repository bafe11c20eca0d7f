// `saasquatch messaging` run on its own, end to end (issue 3 item 1): on a service that `saasquatch` made without
// the event system (it reads .yo-rc.json), and on a hand-made Fastify service that has never seen this
// generator (no .yo-rc.json). Each one is installed, type-checked and passes its tests against the real
// NATS and PostgreSQL; the first one is also started.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { describeService } from '../support/e2e-service.js';
import { assertSucceeded, generateService, saasquatch, tempFolder } from '../support/e2e.js';

/** Runs `saasquatch messaging` in the service, headless, and returns the service's folder. */
async function addMessaging(service: string, args: readonly string[] = []): Promise<string> {
  assertSucceeded(
    `saasquatch messaging ${args.join(' ')} in ${service}`,
    await saasquatch(service, ['messaging', ...args, '--skip-install']),
  );
  return service;
}

describeService('messaging on a service made without it', { database: true, messageQueue: true }, async () => {
  const service = await generateService('e2e-later-mq', ['--database', '--no-message-queue']);
  await addMessaging(service);
  const saved = JSON.parse(readFileSync(join(service, '.yo-rc.json'), 'utf8'))['generator-saasquatch'];
  expect(saved).toEqual({ serviceName: 'e2e-later-mq', database: true, messageQueue: true });
  return service;
});

/**
 * A Fastify service written by hand: a scoped package name, `build()` in src/app.ts, PostgreSQL through a pg
 * Pool of its own (no @fastify/postgres, which the subscriber's tenant handlers need: messaging adds it).
 */
const FOREIGN_FILES: Record<string, string> = {
  'package.json': JSON.stringify(
    {
      name: '@acme/billing-api',
      version: '2.3.0',
      private: true,
      scripts: { build: 'tsc', typecheck: 'tsc --noEmit', test: 'jest' },
      dependencies: { fastify: '^5.6.0', pg: '^8.13.0' },
      devDependencies: {
        typescript: '~5.9.3',
        '@types/node': '^20.17.0',
        '@types/pg': '^8.11.0',
        jest: '^30.0.0',
        'ts-jest': '^29.4.0',
        '@types/jest': '^30.0.0',
      },
    },
    null,
    2,
  ),
  'tsconfig.json': JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'node16',
        moduleResolution: 'node16',
        strict: true,
        esModuleInterop: true,
        skipLibCheck: true,
        outDir: 'dist',
        types: ['node', 'jest'],
      },
      include: ['src', 'test'],
    },
    null,
    2,
  ),
  'jest.config.js': `module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: {
    '^.+\\\\.ts$': 'ts-jest',
    '^.+\\\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'es2022' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!cookie/)'],
  testTimeout: 30000,
};
`,
  'src/app.ts': `import Fastify from 'fastify';
import { Pool } from 'pg';

export async function build() {
  const server = Fastify({ logger: false });
  const pool = new Pool({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
  server.addHook('onClose', () => pool.end());

  server.get('/invoices/ping', async () => {
    const { rows } = await pool.query<{ ok: number }>('SELECT 1 AS ok');
    return { ok: rows[0]?.ok === 1 };
  });

  return server;
}
`,
  'test/app.test.ts': `import { build } from '../src/app';

describe('billing-api', () => {
  it('answers from PostgreSQL', async () => {
    const app = await build();
    try {
      const response = await app.inject({ method: 'GET', url: '/invoices/ping' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ ok: true });
    } finally {
      await app.close();
    }
  });
});
`,
};

describeService(
  'messaging on a foreign Fastify service',
  { database: true, messageQueue: true },
  async () => {
    const service = join(tempFolder(), 'billing-api');
    for (const [file, content] of Object.entries(FOREIGN_FILES)) {
      mkdirSync(join(service, file, '..'), { recursive: true });
      writeFileSync(join(service, file), content);
    }
    await addMessaging(service);
    // Its name comes from package.json (unscoped), the database feature from its pg dependency.
    const saved = JSON.parse(readFileSync(join(service, '.yo-rc.json'), 'utf8'))['generator-saasquatch'];
    expect(saved).toMatchObject({ serviceName: 'billing-api', database: true, messageQueue: true });
    const app = readFileSync(join(service, 'src/app.ts'), 'utf8');
    expect(app).toMatch(
      /await server\.register\(readiness\);\n\s*await server\.register\(database\);[^\n]*\n\s*await server\.register\(metrics\);\n\s*await server\.register\(natsPublisher\);\n\s*await server\.register\(outbox\);\n\s*await server\.register\(natsSubscriber\);/,
    );
    return service;
  },
  // It has no server.ts to start: its own tests build the app.
  // Not ours to lint: its own package.json has no lint script (linting is the app generator's feature).
  { server: false, lint: false },
);
