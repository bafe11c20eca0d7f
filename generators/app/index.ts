import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Generator, { type BaseOptions } from 'yeoman-generator';
import { dependenciesFor } from '../../lib/dependency-versions.js';
import {
  CONFIG_KEY,
  DEFAULT_ANSWERS,
  UsageError,
  assertServiceName,
  readOption,
  serviceNameProblem,
  type ServiceConfig,
} from '../../lib/service-config.js';
import { filesFor } from '../../lib/template-files.js';
import { files, packageJsonFor, packages } from './files.js';

/** What `yo --help`, `yo saasquatch --help` and `saasquatch --help` say this generator does. */
export const description = 'A new Fastify 5 + TypeScript service in ./<service-name>';

export type AppOptions = BaseOptions & {
  serviceName?: string;
  database?: boolean;
  messageQueue?: boolean;
  defaults?: boolean;
  here?: boolean;
};

/** The messaging generator, composed by path so that it works whether or not `yo` can see this package. */
export const MESSAGING_GENERATOR = fileURLToPath(new URL('../messaging/index.js', import.meta.url));

function savedConfigIn(folder: string): ServiceConfig | undefined {
  const file = join(folder, '.yo-rc.json');
  if (!existsSync(file)) return undefined;
  const saved = (JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<string, Partial<ServiceConfig>>>)[CONFIG_KEY];
  if (!saved?.serviceName) return undefined;
  return { serviceName: saved.serviceName, database: saved.database === true, messageQueue: saved.messageQueue === true };
}

/** A folder with a package.json or .yo-rc.json that is not this service's is someone else's project. */
function holdsAnotherProject(folder: string, serviceName: string): boolean {
  const isProject = ['package.json', '.yo-rc.json'].some((file) => existsSync(join(folder, file)));
  return isProject && savedConfigIn(folder)?.serviceName !== serviceName;
}

function isEmptyFolder(folder: string): boolean {
  return !existsSync(folder) || readdirSync(folder).every((entry) => entry === '.git');
}

export default class AppGenerator extends Generator<ServiceConfig, AppOptions> {
  private answers!: ServiceConfig;
  /** The service this run generates again, when there is one: in the current folder or in ./<service-name>. */
  private saved: ServiceConfig | undefined;
  private savedFolder: string | undefined;

  constructor(args: string[], options: AppOptions) {
    super(args, options);
    this.desc(description);
    this.option('service-name', { type: String, description: 'Name of the service, kebab-case (also its folder)' });
    this.option('database', { type: Boolean, description: 'PostgreSQL with @fastify/postgres and a schema per tenant (--no-database to leave out)' });
    this.option('message-queue', { type: Boolean, description: 'NATS JetStream event system, composes saasquatch:messaging (--no-message-queue to leave out)' });
    this.option('defaults', { type: Boolean, description: 'Take the default of every answer not given as an option; ask nothing' });
    this.option('here', { type: Boolean, description: 'Generate into the current folder instead of ./<service-name>' });
  }

  #given<Name extends keyof AppOptions>(name: Name): AppOptions[Name] | undefined {
    return readOption(this.options, name);
  }

  initializing(): void {
    const name = this.#given('serviceName');
    if (name !== undefined) assertServiceName(name);
    const cwd = this.destinationRoot();
    this.savedFolder = [cwd, ...(name ? [join(cwd, name)] : [])].find((folder) => savedConfigIn(folder));
    this.saved = this.savedFolder ? savedConfigIn(this.savedFolder) : undefined;
    if (this.saved && name !== undefined && name !== this.saved.serviceName) {
      throw new UsageError(
        `This folder holds the service "${this.saved.serviceName}"; --service-name ${name} conflicts with it.`,
      );
    }
    if (this.saved) {
      for (const feature of ['database', 'messageQueue'] as const) {
        const flag = feature === 'database' ? 'database' : 'message-queue';
        if (this.saved[feature] && this.#given(feature) === false) {
          throw new UsageError(`--no-${flag} conflicts with this service, which already has ${flag}; features are not removed.`);
        }
      }
    }
  }

  async prompting(): Promise<void> {
    const fromOptions: Partial<ServiceConfig> = {
      serviceName: this.#given('serviceName') ?? this.saved?.serviceName,
      database: this.#given('database') ?? this.saved?.database,
      messageQueue: this.#given('messageQueue') ?? this.saved?.messageQueue,
    };
    const defaults = { ...DEFAULT_ANSWERS, serviceName: this.#defaultServiceName() };
    const unanswered = (key: keyof ServiceConfig): boolean => fromOptions[key] === undefined && !this.#given('defaults');

    const answers = await this.prompt<Partial<ServiceConfig>>([
      {
        type: 'input',
        name: 'serviceName',
        message: 'Service name (kebab-case)',
        default: defaults.serviceName,
        validate: (value: string) => serviceNameProblem(value) ?? true,
        when: unanswered('serviceName'),
      },
      {
        type: 'confirm',
        name: 'database',
        message: 'PostgreSQL database with a schema per tenant?',
        default: defaults.database,
        when: unanswered('database'),
      },
      {
        type: 'confirm',
        name: 'messageQueue',
        message: 'NATS JetStream event system?',
        default: defaults.messageQueue,
        when: unanswered('messageQueue'),
      },
    ]);
    this.answers = {
      serviceName: assertServiceName(answers.serviceName ?? fromOptions.serviceName ?? defaults.serviceName),
      database: answers.database ?? fromOptions.database ?? defaults.database,
      messageQueue: answers.messageQueue ?? fromOptions.messageQueue ?? defaults.messageQueue,
    };
  }

  configuring(): void {
    const cwd = this.destinationRoot();
    const target =
      this.savedFolder ?? (this.#given('here') || isEmptyFolder(cwd) ? cwd : join(cwd, this.answers.serviceName));
    if (holdsAnotherProject(target, this.answers.serviceName)) {
      const shown = relative(cwd, target) || '.';
      throw new UsageError(
        `Target folder ${shown} already holds another project; choose another --service-name or an empty folder.`,
      );
    }
    if (target !== cwd) this.destinationRoot(target);
    this.config.set({ ...this.answers });
  }

  /**
   * Composition point of the event system. Not a Yeoman priority name, so it runs in the `default`
   * queue: after configuring, before writing; the messaging generator's tasks run after this one's.
   */
  async composeMessaging(): Promise<void> {
    if (!this.answers.messageQueue) return;
    await this.composeWith(MESSAGING_GENERATOR, {
      serviceName: this.answers.serviceName,
      database: this.answers.database,
    } as Record<string, unknown>);
  }

  writing(): void {
    const { database, serviceName } = this.answers;
    // The templates see only what the app generator owns; messaging adds its own parts through its edits.
    const context = { serviceName, database, databaseName: serviceName.replace(/-/g, '_') };
    for (const file of filesFor(files, this.answers)) {
      this.fs.copyTpl(this.templatePath(file.template), this.destinationPath(file.destination), context);
    }
    this.fs.extendJSON(this.destinationPath('package.json'), {
      ...packageJsonFor(serviceName),
      ...dependenciesFor(packages, this.answers),
    });
  }

  install(): void {
    // Yeoman installs where the environment runs; point it at the service folder.
    this.env.cwd = this.destinationRoot();
  }

  end(): void {
    const folder = relative(process.cwd(), this.destinationRoot());
    this.log(`\nService ${this.answers.serviceName} is ready${folder ? ` in ${folder}` : ''}.`);
    if (folder) this.log(`  cd ${folder}`);
    this.log(`  npm test        # its own tests${this.answers.database ? ' (PostgreSQL at DATABASE_URL)' : ''}`);
    this.log('  npm run dev     # runs it, reloading on change');
  }

  #defaultServiceName(): string {
    const cwd = this.destinationRoot();
    const folderName = basename(cwd);
    if ((this.#given('here') || isEmptyFolder(cwd)) && !serviceNameProblem(folderName)) return folderName;
    return DEFAULT_ANSWERS.serviceName;
  }
}
