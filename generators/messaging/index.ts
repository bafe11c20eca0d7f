import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Generator, { type BaseOptions } from 'yeoman-generator';
import { databasePlugin, readinessPlugin } from '../app/files.js';
import {
  UsageError,
  addImports,
  appendOnce,
  assertServiceName,
  dependenciesFor,
  editInPlace,
  filesFor,
  insertBeforeNeedle,
  readOption,
  type DependencyGroups,
  type ServiceConfig,
} from '../support/index.js';
import { messagingDependencies, messagingDevDependencies, messagingFiles } from './manifest.js';

export type MessagingOptions = BaseOptions & {
  serviceName?: string;
  database?: boolean;
};

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export const REGISTER_NEEDLE = '// saasquatch:register-plugins';
const ENVIRONMENT_NEEDLE = '# saasquatch:app-environment';
const APP_TEMPLATES = fileURLToPath(new URL('../app/templates/', import.meta.url));

const PLUGIN_IMPORTS = [
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
const COMPOSE_NATS_SERVICE = `
  nats:
    image: nats:2.10-alpine
    command: ["-js", "-sd", "/data"]
    ports:
      - "4222:4222"
`;

/** `@acme/billing-api` → `billing-api`. */
const unscoped = (name: string) => name.replace(/^@[^/]+\//, '');

export default class MessagingGenerator extends Generator<ServiceConfig, MessagingOptions> {
  private service!: Pick<ServiceConfig, 'serviceName' | 'database'>;
  private manualLines: string[] = [];
  /** With the database feature on a service that does not register @fastify/postgres yet: the subscriber needs it. */
  private addsDatabasePlugin = false;

  constructor(args: string[], options: MessagingOptions) {
    super(args, options);
    this.option('service-name', { type: String, description: 'Service name (default: from .yo-rc.json, else package.json)' });
    this.option('database', { type: Boolean, description: 'Use PostgreSQL for tenants and users (default: saved answer, else detected from a pg dependency)' });
  }

  #given<T>(name: string): T | undefined {
    return readOption<T>(this.options as Record<string, unknown>, name);
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
    const name = this.#given<string>('service-name') ?? saved.serviceName ?? (pkg.name ? unscoped(pkg.name) : undefined);
    if (!name) throw new UsageError('No service name: package.json has no "name"; pass --service-name.');
    const dependencies = { ...pkg.dependencies, ...pkg.devDependencies };
    const database =
      this.#given<boolean>('database') ?? saved.database ?? ('pg' in dependencies || '@fastify/postgres' in dependencies);
    return { serviceName: assertServiceName(name), database };
  }

  writing(): void {
    this.service = this.#detectService();
    this.config.set({ ...this.service, messageQueue: true });

    for (const file of filesFor(messagingFiles, this.service)) {
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
    const app = this.fs.read(this.destinationPath('src/app.ts'))!;
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
  }

  end(): void {
    if (this.manualLines.length === 0) return;
    this.log(`\nCould not find where src/app.ts builds its Fastify instance. Add these lines to src/app.ts yourself:\n`);
    for (const line of this.manualLines) this.log(`  ${line}`);
    this.log(`\n(register them after the instance is created, before it listens; ${REGISTER_NEEDLE} marks the spot for next time)`);
  }

  /** Adds what the new files import, leaving any version the service already pins. */
  #addMessagingDependencies(): void {
    const pkg = this.fs.readJSON(this.destinationPath('package.json')) as PackageJson;
    const present = { ...pkg.dependencies, ...pkg.devDependencies };
    const missing = (groups: DependencyGroups) =>
      Object.fromEntries(Object.entries(dependenciesFor(groups, this.service)).filter(([name]) => !(name in present)));
    const dependencies = missing(messagingDependencies);
    const devDependencies = missing(messagingDevDependencies);
    if (Object.keys(dependencies).length + Object.keys(devDependencies).length === 0) return;
    const packageJson = this.destinationPath('package.json');
    editInPlace(this.fs, packageJson, () => this.fs.extendJSON(packageJson, { dependencies, devDependencies }));
  }

  /**
   * Registers the publisher then the subscriber: at the needle the app generator leaves, or else before
   * the `return <app>;` of the one `const <app> = Fastify(...)` in src/app.ts. Anything else is left to the user.
   */
  #registerPlugins(): void {
    const appFile = this.destinationPath('src/app.ts');
    const original = this.fs.read(appFile)!;
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

  /** `.env.example` and the service's docker-compose.yml learn about NATS, once. */
  #extendLocalSetup(): void {
    const envExample = this.destinationPath('.env.example');
    if (this.fs.exists(envExample)) {
      editInPlace(this.fs, envExample, () =>
        this.fs.write(envExample, appendOnce(this.fs.read(envExample)!, 'NATS_URL=', ENV_EXAMPLE_BLOCK)),
      );
    }
    const compose = this.destinationPath('docker-compose.yml');
    const content = this.fs.exists(compose) ? this.fs.read(compose)! : undefined;
    if (content?.includes(ENVIRONMENT_NEEDLE) && !/^ {2}nats:/m.test(content)) {
      const withUrl = insertBeforeNeedle(content, ENVIRONMENT_NEEDLE, ['NATS_URL: nats://nats:4222'])!;
      editInPlace(this.fs, compose, () => this.fs.write(compose, withUrl.replace(/\n*$/, '\n') + COMPOSE_NATS_SERVICE));
    }
  }
}
