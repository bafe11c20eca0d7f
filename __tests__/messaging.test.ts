import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import helpers from 'yeoman-test';
import { describe, expect, it } from 'vitest';
import { MESSAGING_GENERATOR, keptFolder, readTree, runApp, runMessaging } from './support/generators.js';

const COMPOSER = fileURLToPath(new URL('./fixtures/generator-composer/index.js', import.meta.url));

interface ComposeFile {
  services: Record<string, Record<string, unknown>>;
  volumes?: Record<string, unknown>;
}

const EVENT_FILES = [
  'src/messaging/nats-client.ts',
  'src/plugins/nats-publisher.ts',
  'src/plugins/nats-subscriber.ts',
  'src/types/events.ts',
  'test/integration/nats-events.test.ts',
  'docs/EVENTS.md',
];

const FOREIGN_PACKAGE = JSON.stringify({
  name: '@acme/catalog-api',
  version: '1.4.0',
  dependencies: { fastify: '^5.2.0', pg: '^8.11.0' },
});

const FOREIGN_APP = `import Fastify from 'fastify';

export async function build() {
  const server = Fastify({ logger: true });
  server.get('/', async () => ({ hello: 'world' }));
  return server;
}
`;

const APP_WITH_POSTGRES = `import fastifyPostgres from '@fastify/postgres';
import Fastify from 'fastify';

export async function build() {
  const server = Fastify({ logger: true });
  await server.register(fastifyPostgres, { connectionString: process.env.DATABASE_URL });
  return server;
}
`;

/** Prettier's output for a long import: one name per line. */
const PRETTIER_APP = `import Fastify from 'fastify';
import {
  loadSettings,
  type Settings,
} from './settings';

export async function build(settings: Settings = loadSettings()) {
  const server = Fastify({ logger: settings.logger });
  return server;
}
`;

/** A Compose file of the user's whose last top-level key is \`volumes:\`, with comments. */
const COMPOSE_WITH_VOLUMES_LAST = `# our local stack
services:
  api:
    build: .
    environment:
      - PORT=3000 # the HTTP port
  db:
    image: postgres:16-alpine
    volumes:
      - db-data:/var/lib/postgresql/data

volumes:
  db-data:
`;

const AUTOLOAD_APP = `import type { FastifyInstance } from 'fastify';

export default async function app(fastify: FastifyInstance) {
  fastify.get('/', async () => ({ hello: 'world' }));
}
`;


describe('saasquatch:messaging on a service made by saasquatch without messaging', () => {
  const serviceWithoutMessaging = async (database: boolean) => {
    const folder = keptFolder();
    await runApp().inDir(folder).withOptions({ serviceName: 'ledger', database, messageQueue: false });
    return folder;
  };

  it.each([true, false])('reads .yo-rc.json (database=%s) and adds the event system', async (database) => {
    const folder = await serviceWithoutMessaging(database);
    const result = await runMessaging().cd(folder);
    result.assertFile(EVENT_FILES);
    if (database) result.assertFile('src/services/tenant.service.ts');
    else result.assertNoFile('src/services/tenant.service.ts');
    result.assertFileContent('src/messaging/config.ts', "'ledger'");
    result.assertJsonFileContent('.yo-rc.json', {
      'generator-saasquatch': { serviceName: 'ledger', database, messageQueue: true },
    });
    const { dependencies } = JSON.parse(readFileSync(join(result.cwd, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(dependencies).filter((name) => /nats/.test(name)).sort()).toEqual(['@nats-io/jetstream', '@nats-io/transport-node']);
  });

  it('registers the publisher then the subscriber at the needle, with their imports', async () => {
    const folder = await serviceWithoutMessaging(true);
    const result = await runMessaging().cd(folder);
    result.assertFileContent(
      'src/app.ts',
      /await app\.register\(database, [^\n]+\n {2}await app\.register\(metrics\);\n {2}await app\.register\(natsPublisher\);\n {2}await app\.register\(outbox\);\n {2}await app\.register\(natsSubscriber\);\n {2}\/\/ saasquatch:register-plugins/,
    );
    result.assertFileContent('src/app.ts', "import natsPublisher from './plugins/nats-publisher';");
    result.assertFileContent('src/app.ts', "import natsSubscriber from './plugins/nats-subscriber';");
    result.assertFileContent('.env.example', /^NATS_URL=nats:\/\/127\.0\.0\.1:4222$/m);
    result.assertFileContent('docker-compose.yml', /^ {2}nats:$/m);
    result.assertFileContent('docker-compose.yml', 'NATS_URL: nats://nats:4222');
  });

  it('adds its own parts to the README, the readiness test and the Compose file', async () => {
    const folder = await serviceWithoutMessaging(false);
    const result = await runMessaging().cd(folder);
    result.assertFileContent('README.md', /\n## Event system\n\n[^\n]*\[docs\/EVENTS\.md\]\(docs\/EVENTS\.md\)/);
    result.assertFileContent(
      'test/app.test.ts',
      "    expect(response.statusCode).toBe(200);\n    expect(report.checks.nats.status).toBe('up');\n  });",
    );
    // Built from the environment, the app test would otherwise consume from the default streams and leave its consumers there.
    result.assertFileContent('test/app.test.ts', /^import \{ useStreamsOfItsOwn \} from '\.\/integration\/harness';$/m);
    result.assertFileContent('test/app.test.ts', /\nuseStreamsOfItsOwn\('app'\);\n\ndescribe\(/);
    const compose = parseDocument(readTree(folder)['docker-compose.yml']!).toJS() as ComposeFile;
    expect(compose.services.app).toMatchObject({
      environment: { NATS_URL: 'nats://nats:4222' },
      depends_on: { nats: { condition: 'service_healthy' } },
    });
    expect(compose.services.nats).toMatchObject({ image: expect.stringMatching(/^nats:2\.1[2-9]-alpine$/), healthcheck: expect.any(Object) });
  });

  it('adds a Compose profile `cluster` of three JetStream nodes routed to each other, which the app does not depend on', async () => {
    const folder = await serviceWithoutMessaging(true);
    await runMessaging().cd(folder);
    const compose = parseDocument(readTree(folder)['docker-compose.yml']!).toJS() as ComposeFile;
    const nodes = ['nats-1', 'nats-2', 'nats-3'];
    for (const [index, node] of nodes.entries()) {
      const definition = compose.services[node]!;
      expect(definition).toMatchObject({ image: expect.stringMatching(/^nats:2\.1[2-9]-alpine$/), profiles: ['cluster'], ports: [`${4223 + index}:4222`] });
      const command = definition.command as string[];
      const flag = (name: string) => command[command.indexOf(name) + 1];
      expect(command).toContain('-js');
      expect(flag('-n')).toBe(node);
      expect(flag('--cluster_name')).toBe('nats-cluster');
      expect(flag('--routes')!.split(',').sort()).toEqual(nodes.filter((other) => other !== node).map((other) => `nats://${other}:6222`));
    }
    expect(Object.keys(compose.services.app!.depends_on as object)).not.toContain('nats-1');
  });

  it('changes nothing when run a second time', async () => {
    const folder = await serviceWithoutMessaging(true);
    await runMessaging().cd(folder);
    const before = readTree(folder);
    await runMessaging().cd(folder);
    expect(readTree(folder)).toEqual(before);
  });
});

describe('saasquatch:messaging on an existing service without .yo-rc.json', () => {
  const foreignService = (app: string) =>
    runMessaging().withFiles({ 'package.json': FOREIGN_PACKAGE, 'src/app.ts': app }).commitFiles();

  it('takes the name from package.json and detects the database from pg', async () => {
    const result = await foreignService(FOREIGN_APP);
    result.assertFile([...EVENT_FILES, 'src/services/tenant.service.ts', 'src/plugins/readiness.ts']);
    result.assertJsonFileContent('.yo-rc.json', {
      'generator-saasquatch': { serviceName: 'catalog-api', database: true, messageQueue: true },
    });
    result.assertJsonFileContent('package.json', {
      name: '@acme/catalog-api',
      dependencies: { pg: '^8.11.0', fastify: '^5.2.0', '@fastify/postgres': /^\^6/ as unknown as string },
    });
  });

  it('adds the dlq script and tsx, which runs it without a build, and keeps a dlq script the service has', async () => {
    const added = await foreignService(FOREIGN_APP);
    added.assertFile(['src/tools/dlq.ts', 'src/messaging/dead-letters.ts', 'test/integration/dlq-tool.test.ts']);
    added.assertJsonFileContent('package.json', {
      scripts: { dlq: 'tsx src/tools/dlq.ts' },
      devDependencies: { tsx: /^\^4/ as unknown as string },
    });

    const own = JSON.stringify({ ...JSON.parse(FOREIGN_PACKAGE), scripts: { dlq: 'node scripts/our-dlq.js' } });
    const kept = await runMessaging().withFiles({ 'package.json': own, 'src/app.ts': FOREIGN_APP }).commitFiles();
    kept.assertJsonFileContent('package.json', { scripts: { dlq: 'node scripts/our-dlq.js' } });
  });

  it('registers readiness, database, publisher and subscriber on the instance it builds, before it is returned', async () => {
    const result = await foreignService(FOREIGN_APP);
    result.assertFileContent(
      'src/app.ts',
      /server\.get[^\n]+\n {2}await server\.register\(readiness\);\n {2}await server\.register\(database\);[^\n]*\n {2}await server\.register\(metrics\);\n {2}await server\.register\(natsPublisher\);\n {2}await server\.register\(outbox\);\n {2}await server\.register\(natsSubscriber\);\n {2}\/\/ saasquatch:register-plugins\n {2}return server;/,
    );
    result.assertFileContent('src/app.ts', "import readiness from './plugins/readiness';");
    // The subscriber's tenant handlers need fastify.pg: a pg dependency alone does not register it.
    result.assertFileContent('src/app.ts', "import database from './plugins/database';");
    result.assertFileContent('src/plugins/database.ts', 'process.env.DATABASE_URL');
  });

  it('leaves the database alone when the service registers @fastify/postgres itself', async () => {
    const result = await foreignService(APP_WITH_POSTGRES);
    result.assertNoFile('src/plugins/database.ts');
    result.assertNoFileContent('src/app.ts', 'register(database)');
    result.assertFileContent(
      'src/app.ts',
      /register\(fastifyPostgres[^\n]+\n {2}await server\.register\(readiness\);\n {2}await server\.register\(metrics\);\n {2}await server\.register\(natsPublisher\);/,
    );
  });

  it('lets an option override the detected database', async () => {
    const result = await foreignService(FOREIGN_APP).withOptions({ database: false });
    result.assertNoFile('src/services/tenant.service.ts');
    result.assertJsonFileContent('.yo-rc.json', { 'generator-saasquatch': { database: false } });
  });

  it('writes everything else and prints the lines to add when it cannot find the instance', async () => {
    const logged: string[] = [];
    const result = await foreignService(AUTOLOAD_APP).onGenerator((generator) => {
      (generator as unknown as { log: (message: string) => void }).log = (message) => logged.push(message);
    });
    result.assertFile(EVENT_FILES);
    result.assertEqualsFileContent('src/app.ts', AUTOLOAD_APP);
    const printed = logged.join('\n');
    expect(printed).toContain("import natsPublisher from './plugins/nats-publisher';");
    expect(printed).toContain('await app.register(natsPublisher);');
    expect(printed).toContain('await app.register(natsSubscriber);');
    expect(printed).toContain('await app.register(database);');
    result.assertFile('src/plugins/database.ts');
  });

  it('changes nothing when run a second time', async () => {
    const folder = keptFolder();
    await runMessaging()
      .inDir(folder)
      .withFiles({ 'package.json': FOREIGN_PACKAGE, 'src/app.ts': FOREIGN_APP })
      .commitFiles();
    const before = readTree(folder);
    await runMessaging().cd(folder);
    expect(readTree(folder)).toEqual(before);
  });
});

describe('saasquatch:messaging edits structurally', () => {
  it('adds its imports after a multi-line import', async () => {
    const result = await runMessaging()
      .withFiles({ 'package.json': FOREIGN_PACKAGE, 'src/app.ts': PRETTIER_APP })
      .commitFiles()
      .withOptions({ database: false });
    result.assertFileContent(
      'src/app.ts',
      "} from './settings';\nimport metrics from './plugins/metrics';\nimport natsPublisher from './plugins/nats-publisher';\nimport natsSubscriber from './plugins/nats-subscriber';\nimport readiness from './plugins/readiness';\n\nexport",
    );
  });

  it('puts NATS under services: in a Compose file whose last key is volumes:, keeping its comments', async () => {
    const result = await runMessaging()
      .withFiles({ 'package.json': FOREIGN_PACKAGE, 'src/app.ts': FOREIGN_APP, 'docker-compose.yml': COMPOSE_WITH_VOLUMES_LAST })
      .commitFiles();
    const text = readTree(result.cwd)['docker-compose.yml']!;
    const compose = parseDocument(text).toJS() as ComposeFile;
    expect(Object.keys(compose.services)).toEqual(['api', 'db', 'nats', 'nats-1', 'nats-2', 'nats-3']);
    expect(compose.volumes).toEqual({ 'db-data': null });
    expect(compose.services.api).toMatchObject({ environment: ['PORT=3000', 'NATS_URL=nats://nats:4222'] });
    expect(text).toContain('# our local stack');
    expect(text).toContain('- PORT=3000 # the HTTP port');
  });
});

describe('saasquatch:messaging composed by another generator', () => {
  const composed = (by: 'namespace' | 'path') =>
    helpers
      .run(COMPOSER)
      .withGenerators([[MESSAGING_GENERATOR, { namespace: 'saasquatch:messaging' }]])
      .withFiles({ 'package.json': JSON.stringify({ name: 'catalog' }), 'src/app.ts': FOREIGN_APP })
      .commitFiles()
      .withOptions({ by } as Record<string, unknown>);

  it.each(['namespace', 'path'] as const)('runs by %s with options instead of answers', async (by) => {
    const result = await composed(by);
    result.assertFile(EVENT_FILES);
    result.assertNoFile('src/services/tenant.service.ts');
    result.assertJsonFileContent('.yo-rc.json', {
      'generator-saasquatch': { serviceName: 'catalog', database: false, messageQueue: true },
    });
    result.assertFileContent('src/app.ts', 'await server.register(natsSubscriber);');
  });
});

describe('saasquatch:messaging bad input', () => {
  const runIn = (files: Record<string, string>) => {
    const folder = keptFolder();
    return {
      folder,
      run: runMessaging().inDir(folder).withFiles(files).commitFiles(),
    };
  };

  it('refuses a folder without package.json and writes nothing', async () => {
    const { folder, run } = runIn({ 'notes.md': 'not a service' });
    await expect(run).rejects.toThrow(/No package\.json in .*: run saasquatch:messaging inside a service/);
    expect(readdirSync(folder)).toEqual(['notes.md']);
  });

  it('refuses a service without src/app.ts and writes nothing', async () => {
    const { folder, run } = runIn({ 'package.json': FOREIGN_PACKAGE });
    await expect(run).rejects.toThrow(/No src\/app\.ts/);
    expect(readTree(folder)).toEqual({ 'package.json': FOREIGN_PACKAGE });
  });

  it('refuses a Compose file that is not YAML with one line, writing nothing', async () => {
    const files = { 'package.json': FOREIGN_PACKAGE, 'src/app.ts': FOREIGN_APP, 'docker-compose.yml': 'services:\n  app: [\n' };
    const { folder, run } = runIn(files);
    await expect(run).rejects.toThrow(/^docker-compose\.yml is not valid YAML \(.*\): fix it/);
    expect(readTree(folder)).toEqual(files);
  });

  it('refuses a package name that cannot name a service', async () => {
    const { folder, run } = runIn({ 'package.json': JSON.stringify({ name: 'Catalog_API' }), 'src/app.ts': FOREIGN_APP });
    await expect(run).rejects.toThrow(/Invalid service name: .*not kebab-case/);
    expect(Object.keys(readTree(folder)).sort()).toEqual(['package.json', 'src/app.ts']);
  });
});

describe('docs/EVENTS.md', () => {
  /** `| \`NAME\` | \`default\` or (none) | meaning |` rows of the Configuration section. */
  const documented = (markdown: string) => {
    const section = markdown.slice(markdown.indexOf('## Configuration'), markdown.indexOf('\n## ', markdown.indexOf('## Configuration') + 1));
    return Object.fromEntries(
      [...section.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| (?:`([^`]*)`|\(none\)) \|/gm)].map((row) => [row[1], row[2] ?? '(none)']),
    );
  };
  /** `NAME: { … }` properties of the env-schema in src/messaging/config.ts, with their default or (none). */
  const read = (source: string) =>
    Object.fromEntries(
      [...source.matchAll(/^\s+([A-Z][A-Z0-9_]+): \{[^\n]*?(?:default: ('[^']*'|-?\d+|true|false) )?\},?$/gm)].map((match) => [
        match[1],
        match[2]?.replace(/'/g, '') ?? '(none)',
      ]),
    );

  it.each([true, false])('documents exactly the variables the code reads, with their defaults (database=%s)', async (database) => {
    const result = await runApp().withOptions({ serviceName: 'ledger', database, messageQueue: true, skipInstall: true });
    const files = readTree(result.cwd);
    const fromDocs = documented(files['docs/EVENTS.md']!);
    const fromCode = read(files['src/messaging/config.ts']!);
    expect(Object.keys(fromCode).length).toBeGreaterThanOrEqual(19);
    expect(fromDocs).toEqual(fromCode);
  });
});
