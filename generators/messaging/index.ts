import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Generator, { type BaseOptions } from 'yeoman-generator';
import { dependenciesFor } from '../../lib/dependency-versions.js';
import { ComposeFileError, addComposeService, type ComposeAddition } from '../../lib/edits/compose.js';
import { addImports } from '../../lib/edits/imports.js';
import { editInPlace } from '../../lib/edits/in-place.js';
import { appendOnce, insertBeforeNeedle, insertInBlock, lineEndingOf } from '../../lib/edits/text.js';
import { UsageError, assertServiceName, readOption, type ServiceConfig } from '../../lib/service-config.js';
import { filesFor } from '../../lib/template-files.js';
import { databasePlugin, readinessPlugin } from '../app/files.js';
import { files, packages, scripts as scriptsToAdd } from './files.js';

/** What `yo --help`, `yo saasquatch:messaging --help` and `saasquatch --help` say this generator does. */
export const description = 'Adds the NATS JetStream event system to the service in the current folder';

export type MessagingOptions = BaseOptions & {
  serviceName?: string;
  database?: boolean;
};

interface PackageJson {
  name?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export const REGISTER_NEEDLE = '// saasquatch:register-plugins';
/** The app generator's templates: messaging writes its readiness (and database) plugin into services that lack it. */
const APP_TEMPLATES = fileURLToPath(new URL('../app/templates/', import.meta.url));

const PLUGIN_IMPORTS = [
  "import metrics from './plugins/metrics';",
  "import natsPublisher from './plugins/nats-publisher';",
  "import natsSubscriber from './plugins/nats-subscriber';",
];
/** With database: the transactional outbox, registered between the publisher and the subscriber (docs/EVENTS.md). */
const OUTBOX_IMPORT = "import outbox from './plugins/outbox';";
const READINESS_IMPORT = "import readiness from './plugins/readiness';";
const DATABASE_IMPORT = "import database from './plugins/database';";
/** A value import of @fastify/postgres (a type-only import registers nothing). */
const POSTGRES_IMPORT = /^import\s+(?!type\s)[^;]*?from\s+['"]@fastify\/postgres['"]/m;

const ENV_EXAMPLE_BLOCK = `# NATS event system (docs/EVENTS.md lists every variable)
NATS_URL=nats://127.0.0.1:4222
`;
const README_SECTION = `## Event system

The service publishes and consumes events on NATS JetStream. [docs/EVENTS.md](docs/EVENTS.md) describes the events,
the plugins and every variable (\`NATS_URL\`, \`EVENTS_*\`, …); \`SERVICE_NAME\` also names the NATS connection and
the durable consumer. The integration tests (\`npm run test:integration\`) use a real NATS with JetStream from
\`NATS_URL\`; \`docker compose up -d nats\` starts one locally.

| command | what it does |
|---|---|
| \`npm run asyncapi\` | writes \`docs/asyncapi.yaml\` (AsyncAPI 3.0) from the event schemas |
| \`npm run dlq -- list\` | reads the dead-letter queue (\`show\`, \`replay\`, \`purge\`: docs/EVENTS.md) |
`;
/** The line the app's readiness test gets, and where: after the last expectation of that test. */
const READINESS_TEST = {
  file: 'test/app.test.ts',
  test: "'reports every dependency up on GET /ready'",
  expectation: "expect(report.checks.nats.status).toBe('up');",
};
/** These tests build the app from the environment: each gets streams of its own instead of the default ones. */
const TESTS_WITH_STREAMS_OF_THEIR_OWN = [
  { file: 'test/app.test.ts', importLine: "import { useStreamsOfItsOwn } from './integration/harness';", call: "useStreamsOfItsOwn('app');" },
  { file: 'test/server.test.ts', importLine: "import { useStreamsOfItsOwn } from './integration/harness';", call: "useStreamsOfItsOwn('server');" },
];
const COMPOSE_NATS: ComposeAddition = {
  service: 'nats',
  definition: `image: nats:2.12-alpine
command: ["-js", "-sd", "/data", "-m", "8222"]
ports:
  - "4222:4222"
healthcheck:
  test: ["CMD", "wget", "-q", "-O", "-", "http://127.0.0.1:8222/healthz?js-enabled-only=true"]
  interval: 2s
  timeout: 2s
  retries: 30
`,
  environment: { NATS_URL: 'nats://nats:4222' },
  condition: 'service_healthy',
};
/**
 * Profile `cluster` (SPEC 6): three JetStream nodes clustered over routes, started only on
 * `docker compose --profile cluster up -d`; the application does not depend on them.
 */
const COMPOSE_NATS_CLUSTER: ComposeAddition[] = [1, 2, 3].map((node) => {
  const routes = [1, 2, 3].filter((other) => other !== node).map((other) => `nats://nats-${other}:6222`);
  return {
    service: `nats-${node}`,
    definition: `image: nats:2.12-alpine
profiles: ["cluster"]
command: ["-js", "-sd", "/data", "-n", "nats-${node}", "--cluster_name", "nats-cluster", "--cluster", "nats://0.0.0.0:6222", "--routes", "${routes.join(',')}", "-m", "8222"]
ports:
  - "${4222 + node}:4222"
healthcheck:
  test: ["CMD", "wget", "-q", "-O", "-", "http://127.0.0.1:8222/healthz"]
  interval: 2s
  timeout: 2s
  retries: 30
`,
  };
});
const COMPOSE_FILES = ['docker-compose.yml', 'docker-compose.yaml', 'compose.yaml', 'compose.yml'];

/** `@acme/billing-api` → `billing-api`. */
const unscoped = (name: string) => name.replace(/^@[^/]+\//, '');

export default class MessagingGenerator extends Generator<ServiceConfig, MessagingOptions> {
  private service!: Pick<ServiceConfig, 'serviceName' | 'database'>;
  private manualLines: string[] = [];
  /** With the database feature on a service that does not register @fastify/postgres yet: the subscriber needs it. */
  private addsDatabasePlugin = false;

  constructor(args: string[], options: MessagingOptions) {
    super(args, options);
    this.desc(description);
    this.option('service-name', { type: String, description: 'Service name (default: from .yo-rc.json, else package.json)' });
    this.option('database', { type: Boolean, description: 'Use PostgreSQL for tenants and users (default: saved answer, else detected from a pg dependency)' });
  }

  #given<Name extends keyof MessagingOptions>(name: Name): MessagingOptions[Name] | undefined {
    return readOption(this.options, name);
  }

  /**
   * Runs at the start of `writing`, not in `initializing`: when `saasquatch` composes this generator,
   * the service's package.json and src/app.ts exist only once the app generator's writing has run.
   */
  #detectService(): Pick<ServiceConfig, 'serviceName' | 'database'> {
    const where = this.destinationRoot();
    if (!this.fs.exists(this.destinationPath('package.json'))) {
      throw new UsageError(`No package.json in ${where}: run saasquatch:messaging inside a service (or create one with saasquatch).`);
    }
    if (!this.fs.exists(this.destinationPath('src/app.ts'))) {
      throw new UsageError(`No src/app.ts in ${where}: saasquatch:messaging adds to a Fastify service whose app is built in src/app.ts.`);
    }
    const saved = this.config.getAll() as Partial<ServiceConfig>;
    const pkg = this.fs.readJSON(this.destinationPath('package.json')) as PackageJson;
    const name = this.#given('serviceName') ?? saved.serviceName ?? (pkg.name ? unscoped(pkg.name) : undefined);
    if (!name) throw new UsageError('No service name: package.json has no "name"; pass --service-name.');
    const dependencies = { ...pkg.dependencies, ...pkg.devDependencies };
    const database =
      this.#given('database') ?? saved.database ?? ('pg' in dependencies || '@fastify/postgres' in dependencies);
    return { serviceName: assertServiceName(name), database };
  }

  writing(): void {
    this.service = this.#detectService();
    this.config.set({ ...this.service, messageQueue: true });

    for (const file of filesFor(files, this.service)) {
      this.fs.copyTpl(this.templatePath(file.template), this.destinationPath(file.destination), this.service);
    }
    this.addsDatabasePlugin = this.service.database && !this.#registersPostgres();
    const appPlugins = this.addsDatabasePlugin ? [readinessPlugin, databasePlugin] : [readinessPlugin];
    for (const plugin of appPlugins) {
      if (!this.fs.exists(this.destinationPath(plugin.destination))) {
        this.fs.copyTpl(APP_TEMPLATES + plugin.template, this.destinationPath(plugin.destination), this.service);
      }
    }
  }

  /** Whether src/app.ts, or a plugin of the service, already registers @fastify/postgres. */
  #registersPostgres(): boolean {
    const app = this.fs.read(this.destinationPath('src/app.ts'));
    if (POSTGRES_IMPORT.test(app) || app.includes("from './plugins/database'")) return true;
    const src = this.destinationPath('src');
    // A composing generator may have written src/app.ts in memory only, with no folder on disk yet.
    if (!existsSync(src)) return false;
    return readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .some((file) => POSTGRES_IMPORT.test(readFileSync(join(src, file), 'utf8')));
  }

  transform(): void {
    this.#addMessagingDependencies();
    this.#registerPlugins();
    this.#extendLocalSetup();
    this.#extendDocumentation();
  }

  end(): void {
    this.log('  The event system needs NATS with JetStream at NATS_URL (docs/EVENTS.md).');
    if (this.manualLines.length === 0) return;
    this.log(`\nCould not find where src/app.ts builds its Fastify instance. Add these lines to src/app.ts yourself:\n`);
    for (const line of this.manualLines) this.log(`  ${line}`);
    this.log(`\n(register them after the instance is created, before it listens; ${REGISTER_NEEDLE} marks the spot for next time)`);
  }

  /** Adds what the new files import and the scripts that run them, leaving any version or script the service already has. */
  #addMessagingDependencies(): void {
    const pkg = this.fs.readJSON(this.destinationPath('package.json')) as PackageJson;
    const present = { ...pkg.dependencies, ...pkg.devDependencies };
    const needed = dependenciesFor(packages, this.service);
    const missing = (section: Record<string, string>) =>
      Object.fromEntries(Object.entries(section).filter(([name]) => !(name in present)));
    const dependencies = missing(needed.dependencies);
    const devDependencies = missing(needed.devDependencies);
    const scripts = Object.fromEntries(Object.entries(scriptsToAdd).filter(([name]) => !(name in (pkg.scripts ?? {}))));
    if (Object.keys(dependencies).length + Object.keys(devDependencies).length + Object.keys(scripts).length === 0) return;
    const packageJson = this.destinationPath('package.json');
    editInPlace(this.fs, packageJson, () => {
      this.fs.extendJSON(packageJson, { scripts, dependencies, devDependencies });
    });
  }

  /**
   * Registers the publisher then the subscriber: at the needle the app generator leaves, or else before
   * the `return <app>;` of the one `const <app> = Fastify(...)` in src/app.ts. Anything else is left to the user.
   */
  #registerPlugins(): void {
    const appFile = this.destinationPath('src/app.ts');
    const original = this.fs.read(appFile);
    const instance = /^\s*(?:const|let)\s+(\w+)\s*=\s*(?:await\s+)?[Ff]astify\(/m.exec(original)?.[1];
    const needsReadiness = !original.includes("from './plugins/readiness'");
    const imports = [
      ...PLUGIN_IMPORTS,
      ...(this.service.database ? [OUTBOX_IMPORT] : []),
      ...(needsReadiness ? [READINESS_IMPORT] : []),
      ...(this.addsDatabasePlugin ? [DATABASE_IMPORT] : []),
    ];
    const registrations = (app: string) => [
      ...(needsReadiness ? [`await ${app}.register(readiness);`] : []),
      ...(this.addsDatabasePlugin ? [`await ${app}.register(database); // PostgreSQL at DATABASE_URL`] : []),
      `await ${app}.register(metrics);`,
      `await ${app}.register(natsPublisher);`,
      ...(this.service.database ? [`await ${app}.register(outbox);`] : []),
      `await ${app}.register(natsSubscriber);`,
    ];

    const updated =
      insertBeforeNeedle(original, REGISTER_NEEDLE, registrations(instance ?? 'app')) ??
      (instance && new RegExp(`^\\s*return ${instance};\\s*$`, 'm').test(original)
        ? insertBeforeNeedle(original, `return ${instance};`, [...registrations(instance), REGISTER_NEEDLE])
        : undefined);
    if (updated === undefined) {
      this.manualLines = [...imports, ...registrations('app')];
      return;
    }
    editInPlace(this.fs, appFile, () => this.fs.write(appFile, addImports(updated, imports)));
  }

  /** `.env.example` and the service's Compose file learn about NATS, once. */
  #extendLocalSetup(): void {
    this.#editIfPresent('.env.example', (content) => appendOnce(content, 'NATS_URL=', ENV_EXAMPLE_BLOCK));
    const compose = COMPOSE_FILES.find((file) => this.fs.exists(this.destinationPath(file)));
    if (!compose) return;
    this.#editIfPresent(compose, (content) => {
      try {
        return [COMPOSE_NATS, ...COMPOSE_NATS_CLUSTER].reduce(addComposeService, content);
      } catch (error) {
        if (!(error instanceof ComposeFileError)) throw error;
        throw new UsageError(`${compose} ${error.message}: fix it, or move it away, and run saasquatch:messaging again.`);
      }
    });
  }

  /** The README links docs/EVENTS.md; the app test expects NATS up; the tests that build the app from the environment use streams of their own. */
  #extendDocumentation(): void {
    this.#editIfPresent('README.md', (content) => appendOnce(content, '## Event system', README_SECTION));
    this.#editIfPresent(READINESS_TEST.file, (content) =>
      insertInBlock(content, READINESS_TEST.test, /^\s*expect\(/, READINESS_TEST.expectation) ?? content,
    );
    for (const { file, importLine, call } of TESTS_WITH_STREAMS_OF_THEIR_OWN) {
      this.#editIfPresent(file, (content) => {
        const at = content.search(/^describe\(/m);
        if (at === -1 || content.includes(call)) return content;
        const eol = lineEndingOf(content);
        return addImports(`${content.slice(0, at)}${call}${eol}${eol}${content.slice(at)}`, [importLine]);
      });
    }
  }

  /** Applies `edit` to a file of the service that exists, writing only when it changes something. */
  #editIfPresent(file: string, edit: (content: string) => string): void {
    const path = this.destinationPath(file);
    if (!this.fs.exists(path)) return;
    const content = this.fs.read(path);
    const updated = edit(content);
    if (updated !== content) editInPlace(this.fs, path, () => this.fs.write(path, updated));
  }
}
