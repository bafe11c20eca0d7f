import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import Generator, { type BaseOptions } from 'yeoman-generator';
import { addImports } from '../../lib/edits/imports.js';
import { editInPlace } from '../../lib/edits/in-place.js';
import { UsageError, type ServiceConfig } from '../../lib/service-config.js';
import {
  FIELD_TYPES,
  assertEventName,
  fieldSpec,
  parseField,
  parseFields,
  type EventDefinition,
} from './definition.js';
import { callAfterSubscriber, insertBlockBefore } from './edits.js';
import { dataLiteral, docsSection, eventNames, invalidDataLiteral, schemaEntry, type EventNames } from './render.js';

/** What `yo --help`, `yo saasquatch:event --help` and `saasquatch --help` say this generator does. */
export const description = 'Adds a typed event (schema, handler, docs, tests) to the service in the current folder';

export type EventOptions = BaseOptions & {
  name?: string;
  field?: string | string[];
};

/** What `.yo-rc.json` keeps of the events this generator added: type → fields as `--field` takes them. */
type SavedEvents = Partial<Record<string, string[]>>;

const EVENTS_FILE = 'src/types/events.ts';
const REGISTRY_FILE = 'src/handlers/event-handlers.ts';
const DOCS_FILE = 'docs/EVENTS.md';
const SCHEMAS_NEEDLE = '// saasquatch:event-schemas';
const HANDLERS_NEEDLE = '// saasquatch:register-handlers';
const DOCS_NEEDLE = '<!-- saasquatch:event-docs';
const REGISTRY_IMPORT = "import { registerEventHandlers } from './handlers/event-handlers';";

export default class EventGenerator extends Generator<ServiceConfig & { events?: SavedEvents }, EventOptions> {
  private definition!: EventDefinition;
  private names!: EventNames;
  private manualLines: string[] = [];
  /** The same event with the same fields is in the service already: nothing to write. */
  private unchanged = false;

  constructor(args: string[], options: EventOptions) {
    super(args, options);
    this.desc(description);
    this.argument('name', { type: String, required: false, description: 'Event type, lower-case dot-separated words (order.placed)' });
    this.option('field', {
      type: Array,
      description: `A data field, name:type with ? when optional (repeat it); types: ${FIELD_TYPES.join(', ')}`,
    });
  }

  async prompting(): Promise<void> {
    const givenName = this.options.name;
    // Yeoman's own parser gives a string for one --field; commander an array, nested in one more array.
    const givenFields = this.options.field === undefined ? undefined : [this.options.field].flat(2).map(String);
    const name =
      givenName ??
      (
        await this.prompt<{ name: string }>({
          type: 'input',
          name: 'name',
          message: 'Event type (lower-case dot-separated words, such as order.placed)',
          validate: (value: string) => {
            try {
              assertEventName(value);
              return true;
            } catch (error) {
              return (error as Error).message;
            }
          },
        })
      ).name;
    const fields = givenFields ?? (await this.#askFields());
    this.definition = { type: assertEventName(name), fields: parseFields(fields) };
  }

  /** One field per question, until an empty answer. */
  async #askFields(): Promise<string[]> {
    const fields: string[] = [];
    for (;;) {
      const { field } = await this.prompt<{ field: string }>({
        type: 'input',
        name: 'field',
        message: `Field of data, name:type (${FIELD_TYPES.join(', ')}; ? after the type for optional; empty when done)`,
        validate: (value: string) => {
          if (value.trim() === '') return true;
          try {
            parseField(value);
            return true;
          } catch (error) {
            return (error as Error).message;
          }
        },
      });
      if (field.trim() === '') return fields;
      fields.push(field.trim());
    }
  }

  /** Every check runs before the first write: bad input leaves the service as it was. */
  writing(): void {
    const { type } = this.definition;
    this.names = eventNames(type);
    this.#assertMessaging();
    const saved: SavedEvents = this.config.get('events') ?? {};
    const specs = this.definition.fields.map(fieldSpec);
    const events = this.fs.read(this.destinationPath(EVENTS_FILE));
    const savedSpecs = saved[type];
    if (savedSpecs) {
      if (savedSpecs.join(' ') !== specs.join(' ')) {
        throw new UsageError(
          `Event ${type} exists already with other fields (${savedSpecs.join(' ') || 'tenantId only'}); change it by hand, or choose another name.`,
        );
      }
      this.unchanged = true;
      return;
    }
    if (events.includes(`'${type}':`)) throw new UsageError(`Event ${type} exists already in ${EVENTS_FILE}; choose another name.`);
    const clash = Object.keys(saved).find((other) => eventNames(other).handler === this.names.handler);
    if (clash) throw new UsageError(`Event ${type} would share the handler name ${this.names.handler} with ${clash}; choose another name.`);
    const eventsWithSchema = insertBlockBefore(events, SCHEMAS_NEEDLE, schemaEntry(this.definition));
    if (eventsWithSchema === undefined) {
      throw new UsageError(`${EVENTS_FILE} has no "${SCHEMAS_NEEDLE}" line inside EventSchemas: add it as the object's last line, then run again.`);
    }

    const registry = this.destinationPath(REGISTRY_FILE);
    if (this.fs.exists(registry) && !this.fs.read(registry).includes(HANDLERS_NEEDLE)) {
      throw new UsageError(`${REGISTRY_FILE} has no "${HANDLERS_NEEDLE}" line: add it as the last line of registerEventHandlers, then run again.`);
    }

    this.#writeTypes(eventsWithSchema);
    this.#writeHandler();
    this.#writeDocs();
    this.fs.copyTpl(this.templatePath('test/integration/events/event.test.ts.ejs'), this.destinationPath(this.names.testFile), {
      type,
      handler: this.names.handler,
      handlerFileName: this.names.handlerModule.slice(2),
      validData: dataLiteral(this.definition.fields, 'tenant'),
      invalidData: invalidDataLiteral(this.definition.fields, 'tenant').literal,
      invalidPath: invalidDataLiteral(this.definition.fields, 'tenant').path,
    });
    this.config.set('events', { ...saved, [type]: specs });
  }

  end(): void {
    if (this.unchanged) {
      this.log(`Event ${this.definition.type} is in the service already with these fields; nothing changed.`);
      return;
    }
    this.log(`\nAdded ${this.definition.type}: write what it does in ${this.names.handlerFile}.`);
    this.#writeAsyncApi();
    if (this.manualLines.length === 0) return;
    this.log(`\nCould not find where src/app.ts registers natsSubscriber. Add these lines to src/app.ts yourself, after it:\n`);
    for (const line of this.manualLines) this.log(`  ${line}`);
  }

  /**
   * docs/asyncapi.yaml is what the service's own script builds from EventSchemas (a test of the service fails when
   * they differ): run it when the service is installed, else say to.
   */
  #writeAsyncApi(): void {
    const installed = existsSync(this.destinationPath('node_modules', '.bin', 'tsx'));
    const result = installed ? spawnSync('npm', ['run', '--silent', 'asyncapi'], { cwd: this.destinationRoot(), encoding: 'utf8' }) : undefined;
    if (result?.status === 0) {
      this.log('docs/asyncapi.yaml rebuilt from the schemas (npm run asyncapi).');
      return;
    }
    this.log('Run `npm run asyncapi` once the service is installed: docs/asyncapi.yaml is built from the schemas.');
  }

  #assertMessaging(): void {
    const where = this.destinationRoot();
    if (!this.fs.exists(this.destinationPath('package.json'))) {
      throw new UsageError(`No package.json in ${where}: run saasquatch:event inside a service.`);
    }
    for (const file of [EVENTS_FILE, 'src/plugins/nats-subscriber.ts']) {
      if (!this.fs.exists(this.destinationPath(file))) {
        throw new UsageError(`No event system in ${where} (${file} is missing): add it with saasquatch:messaging first.`);
      }
    }
  }

  #edit(file: string, change: (content: string) => string): void {
    const path = this.destinationPath(file);
    editInPlace(this.fs, path, () => this.fs.write(path, change(this.fs.read(path))));
  }

  /** The schema, from which the event's type follows (src/types/events.ts derives EventMap from EventSchemas). */
  #writeTypes(eventsWithSchema: string): void {
    this.#edit(EVENTS_FILE, () => eventsWithSchema);
  }

  /** The handler file, and its registration in src/handlers/event-handlers.ts (made, and called from src/app.ts, the first time). */
  #writeHandler(): void {
    const { type } = this.definition;
    const { handler, handlerFile, handlerModule } = this.names;
    this.fs.copyTpl(this.templatePath('src/handlers/event.handler.ts.ejs'), this.destinationPath(handlerFile), { type, handler });

    const registry = this.destinationPath(REGISTRY_FILE);
    if (!this.fs.exists(registry)) {
      this.fs.copyTpl(this.templatePath('src/handlers/event-handlers.ts.ejs'), registry, {});
      this.#registerRegistry();
    }
    this.#edit(REGISTRY_FILE, (content) =>
      addImports(
        insertBlockBefore(content, HANDLERS_NEEDLE, `  fastify.registerHandler('${type}', ${handler});`) ?? content,
        [`import { ${handler} } from '${handlerModule}';`],
      ),
    );
  }

  /** src/app.ts calls registerEventHandlers right after it registers the subscriber. */
  #registerRegistry(): void {
    const registered = callAfterSubscriber(this.fs.read(this.destinationPath('src/app.ts')), 'registerEventHandlers');
    if (registered === undefined) {
      this.manualLines = [REGISTRY_IMPORT, 'registerEventHandlers(app);'];
      return;
    }
    this.#edit('src/app.ts', () => addImports(registered, [REGISTRY_IMPORT]));
  }

  #writeDocs(): void {
    const docs = this.destinationPath(DOCS_FILE);
    if (!this.fs.exists(docs) || !this.fs.read(docs).includes(DOCS_NEEDLE)) return;
    this.#edit(DOCS_FILE, (content) => insertBlockBefore(content, DOCS_NEEDLE, `${docsSection(this.definition, this.names)}\n`) ?? content);
  }
}
