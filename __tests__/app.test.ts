import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { keptFolder, readTree, reviewedFiles, runApp, runMessaging } from './support/generators.js';

const BASE_FILES = [
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'jest.config.js',
  '.env.example',
  '.gitignore',
  '.dockerignore',
  'Dockerfile',
  'docker-compose.yml',
  'README.md',
  'src/app.ts',
  'src/server.ts',
  'src/config.ts',
  'src/plugins/readiness.ts',
  'src/routes/health.ts',
  'test/app.test.ts',
  'test/config.test.ts',
];
const MESSAGING_FILES = [
  'src/plugins/nats-publisher.ts',
  'src/plugins/nats-subscriber.ts',
  'src/types/events.ts',
  'test/integration/nats-events.test.ts',
  'docs/EVENTS.md',
];


const variants = [
  { database: false, messageQueue: false },
  { database: true, messageQueue: false },
  { database: false, messageQueue: true },
  { database: true, messageQueue: true },
];

describe.each(variants)('saasquatch:app with database=$database, messageQueue=$messageQueue', (features) => {
  const run = () => runApp().withOptions({ serviceName: 'orders-api', ...features });

  it('writes the base service, and only the files of the chosen features', async () => {
    const result = await run();
    result.assertFile(BASE_FILES);
    if (features.database) result.assertFile('src/plugins/database.ts');
    else result.assertNoFile('src/plugins/database.ts');
    if (features.messageQueue) result.assertFile(MESSAGING_FILES);
    else result.assertNoFile(MESSAGING_FILES);
    if (features.database && features.messageQueue) result.assertFile('src/services/tenant.service.ts');
    else result.assertNoFile('src/services/tenant.service.ts');
  });

  it('saves the answers in .yo-rc.json', async () => {
    const result = await run();
    result.assertJsonFileContent('.yo-rc.json', {
      'generator-saasquatch': { serviceName: 'orders-api', ...features },
    });
  });

  it('writes a package.json with the scripts and the dependencies of the features', async () => {
    const result = await run();
    result.assertJsonFileContent('package.json', {
      name: 'orders-api',
      private: true,
      scripts: {
        build: 'tsc -p tsconfig.build.json',
        start: 'node dist/server.js',
        test: 'jest',
        'test:integration': 'jest test/integration',
        typecheck: 'tsc --noEmit',
      },
      dependencies: { fastify: /^\^5\./ as unknown as string, 'fastify-plugin': '^6.0.0', 'env-schema': '^8.0.0' },
      devDependencies: { typescript: '~5.9.3', jest: '^30.0.0', 'ts-jest': '^29.4.0' },
    });
    const check = features.database ? result.assertJsonFileContent : result.assertNoJsonFileContent;
    check.call(result, 'package.json', { dependencies: { '@fastify/postgres': '^6.0.0', pg: '^8.13.0' } });
    const { dependencies } = JSON.parse(readFileSync(join(result.cwd, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const natsClient = features.messageQueue ? { '@nats-io/transport-node': '^3.4.0', '@nats-io/jetstream': '^3.4.0' } : {};
    expect(Object.fromEntries(Object.entries(dependencies).filter(([name]) => /nats/.test(name)))).toEqual(natsClient);
  });

  it('wires the features into the app and its configuration', async () => {
    const result = await run();
    const wire = (present: boolean, file: string, text: string | RegExp) =>
      present ? result.assertFileContent(file, text) : result.assertNoFileContent(file, text);
    wire(features.database, 'src/app.ts', 'await app.register(database, { connectionString: config.DATABASE_URL, caFile: config.DATABASE_CA_FILE });');
    wire(features.database, 'src/config.ts', "required: ['PORT', 'HOST', 'LOG_LEVEL', 'SERVICE_NAME', 'DATABASE_URL']");
    wire(features.database, 'docker-compose.yml', /^ {2}postgres:$/m);
    wire(features.messageQueue, 'docker-compose.yml', /^ {2}nats:$/m);
    wire(features.messageQueue, 'src/app.ts', /register\(natsPublisher\);\n(\s+await app\.register\(outbox\);\n)?\s+await app\.register\(natsSubscriber\);/);
    wire(features.messageQueue && features.database, 'src/app.ts', /register\(natsPublisher\);\n\s+await app\.register\(outbox\);\n/);
    wire(features.messageQueue, '.env.example', 'NATS_URL=');
    wire(features.messageQueue, 'README.md', '## Event system');
    wire(features.messageQueue, 'test/app.test.ts', "expect(report.checks.nats.status).toBe('up');");
    wire(features.database, 'test/app.test.ts', "expect(report.checks.database.status).toBe('up');");
    result.assertFileContent('src/config.ts', "default: 'orders-api'");
  });

  it('writes the file list, dependencies and edited files a reviewer expects (snapshot)', async () => {
    const result = await run();
    expect(reviewedFiles(result.cwd)).toMatchSnapshot();
  });
});

describe('one room per feature', () => {
  it.each([true, false])('app --message-queue writes exactly what app then messaging writes (database=%s)', async (database) => {
    const composed = keptFolder();
    await runApp().inDir(composed).withOptions({ serviceName: 'ledger', database, messageQueue: true });
    const sequential = keptFolder();
    await runApp().inDir(sequential).withOptions({ serviceName: 'ledger', database, messageQueue: false });
    await runMessaging().cd(sequential);
    const [left, right] = [readTree(composed), readTree(sequential)];
    expect(Object.keys(right).sort()).toEqual(Object.keys(left).sort());
    for (const file of Object.keys(left)) expect(right[file], file).toBe(left[file]);
    // The messaging parts came from the messaging generator's edits, so both have them.
    expect(left['README.md']).toContain('[docs/EVENTS.md](docs/EVENTS.md)');
    expect(left['test/app.test.ts']).toContain("expect(report.checks.nats.status).toBe('up');");
  });

  it('the app templates know nothing of the event system', () => {
    const templates = fileURLToPath(new URL('../generators/app/templates/', import.meta.url));
    for (const [file, content] of Object.entries(readTree(templates))) {
      expect(content, file).not.toMatch(/nats|messageQueue|events\.md/i);
    }
  });
});

describe('saasquatch:app prompts', () => {
  it('asks for name and features and uses the answers', async () => {
    const result = await runApp()
      .withAnswers({ serviceName: 'billing', database: false, messageQueue: false });
    expect(Object.keys(result.askedQuestions).length).toBeGreaterThan(0);
    expect(result.askedQuestions.map((question) => question.name)).toEqual(['serviceName', 'database', 'messageQueue']);
    result.assertJsonFileContent('package.json', { name: 'billing' });
    result.assertNoFile('src/plugins/database.ts');
  });

  it('asks only what the options leave open', async () => {
    const result = await runApp()
      .withOptions({ serviceName: 'billing', database: true })
      .withAnswers({ messageQueue: false });
    expect(result.askedQuestions.map((question) => question.name)).toEqual(['messageQueue']);
  });

  it('asks nothing with --defaults and takes every default', async () => {
    const result = await runApp().withOptions({ defaults: true });
    expect(result.askedQuestions).toEqual([]);
    result.assertFile(['src/plugins/database.ts', 'src/plugins/nats-publisher.ts']);
  });
});

describe('saasquatch:app target folder', () => {
  it('writes into ./<service-name> when the current folder is not empty', async () => {
    const result = await runApp()
      .doInDir((dir) => writeFileSync(join(dir, 'notes.txt'), 'mine'))
      .withOptions({ serviceName: 'inventory', database: false, messageQueue: false });
    result.assertFile(['notes.txt', 'inventory/package.json', 'inventory/.yo-rc.json', 'inventory/src/app.ts']);
    result.assertNoFile('package.json');
  });

  it('writes into the current folder with --here', async () => {
    const result = await runApp()
      .doInDir((dir) => writeFileSync(join(dir, 'notes.txt'), 'mine'))
      .withOptions({ serviceName: 'inventory', database: false, messageQueue: false, here: true });
    result.assertFile(['notes.txt', 'package.json', 'src/app.ts']);
  });
});

describe('saasquatch:app bad input', () => {
  const badNames = [
    ['not kebab-case', 'Orders_API', /not kebab-case/],
    ['empty', '', /empty/],
    ['longer than 50 characters', `a${'-b'.repeat(30)}`, /limit is 50/],
    ['reserved by npm', 'node_modules', /not kebab-case|reserved/],
    ['a Node.js core module', 'http', /reserved/],
  ] as const;

  it.each(badNames)('refuses a service name that is %s, writing nothing', async (_why, serviceName, message) => {
    let folder = '';
    await expect(
      runApp()
        .inTmpDir((dir) => {
          folder = dir;
        })
        .withOptions({ serviceName, database: false, messageQueue: false }),
    ).rejects.toThrow(message);
    expect(readdirSync(folder)).toEqual([]);
  });

  it('refuses a target folder that already holds another project, leaving it as it was', async () => {
    let folder = '';
    await expect(
      runApp()
        .inTmpDir((dir) => {
          folder = dir;
          mkdirSync(join(dir, 'payments'));
          writeFileSync(join(dir, 'payments', 'package.json'), '{"name":"legacy-payments"}');
        })
        .withOptions({ serviceName: 'payments', database: true, messageQueue: false }),
    ).rejects.toThrow(/already holds another project/);
    expect(readTree(folder)).toEqual({ 'payments/package.json': '{"name":"legacy-payments"}' });
  });

  it('refuses a --service-name other than the one saved in .yo-rc.json', async () => {
    const folder = keptFolder();
    await runApp().inDir(folder).withOptions({ serviceName: 'ledger', database: false, messageQueue: false });
    await expect(
      runApp().cd(folder).withOptions({ serviceName: 'journal' }),
    ).rejects.toThrow(/holds the service "ledger"/);
  });

  it('refuses to remove a feature the service already has', async () => {
    const folder = keptFolder();
    await runApp().inDir(folder).withOptions({ serviceName: 'ledger', database: true, messageQueue: false });
    await expect(runApp().cd(folder).withOptions({ database: false })).rejects.toThrow(
      /--no-database conflicts/,
    );
  });
});

describe('saasquatch:app run twice', () => {
  it.each(variants)('changes no file and asks nothing the second time (%o)', async (features) => {
    const folder = keptFolder();
    await runApp().inDir(folder).withOptions({ serviceName: 'ledger', ...features });
    const before = readTree(folder);
    const second = await runApp().cd(folder).withAnswers({});
    expect(second.askedQuestions).toEqual([]);
    expect(readTree(folder)).toEqual(before);
  });

  it('finds the service in ./<service-name> when run again from the parent folder', async () => {
    const folder = keptFolder();
    writeFileSync(join(folder, 'notes.txt'), 'mine');
    await runApp().cd(folder).withOptions({ serviceName: 'ledger', database: true, messageQueue: false });
    const before = readTree(folder);
    expect(Object.keys(before)).toContain('ledger/src/plugins/database.ts');
    const second = await runApp().cd(folder).withOptions({ serviceName: 'ledger' }).withAnswers({});
    expect(second.askedQuestions).toEqual([]);
    expect(readTree(folder)).toEqual(before);
  });
});
