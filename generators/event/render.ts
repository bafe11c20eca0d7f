// What the event generator writes into the service's files, computed here so that the templates only print it.
import { kebabName, pascalName, type EventDefinition, type EventField, type FieldType } from './definition.js';

const JSON_SCHEMAS: Record<FieldType, string> = {
  string: "{ type: 'string' }",
  integer: "{ type: 'integer' }",
  number: "{ type: 'number' }",
  boolean: "{ type: 'boolean' }",
  uuid: "{ type: 'string', format: 'uuid' }",
  email: "{ type: 'string', format: 'email' }",
  'date-time': "{ type: 'string', format: 'date-time' }",
};

const EXAMPLES: Record<FieldType, unknown> = {
  string: 'example',
  integer: 3,
  number: 19.99,
  boolean: true,
  uuid: '3b241101-e2bb-4255-8caf-4136c566a962',
  email: 'ada@example.com',
  'date-time': '2026-01-15T10:30:00.000Z',
};

/** A value of the wrong type for each field type, to see the schema refuse it. */
const WRONG_VALUES: Record<FieldType, unknown> = {
  string: 42,
  integer: 1.5,
  number: 'not a number',
  boolean: 'yes',
  uuid: 'not-a-uuid',
  email: 'not an e-mail address',
  'date-time': 'yesterday',
};

const DOC_TYPES: Record<FieldType, string> = {
  string: 'string',
  integer: 'integer',
  number: 'number',
  boolean: 'boolean',
  uuid: 'string (UUID)',
  email: 'string (e-mail address)',
  'date-time': 'string (ISO 8601 date-time)',
};

export interface EventNames {
  type: string;
  /** `handleOrderPlaced` */
  handler: string;
  /** `src/handlers/order-placed.handler.ts` */
  handlerFile: string;
  /** `./order-placed.handler`, as src/handlers/event-handlers.ts imports it */
  handlerModule: string;
  /** `test/integration/events/order-placed.test.ts` */
  testFile: string;
}

export function eventNames(type: string): EventNames {
  const file = kebabName(type);
  return {
    type,
    handler: `handle${pascalName(type)}`,
    handlerFile: `src/handlers/${file}.handler.ts`,
    handlerModule: `./${file}.handler`,
    testFile: `test/integration/events/${file}.test.ts`,
  };
}

/** The `EventSchemas` entry, indented as an entry of that object literal. */
export function schemaEntry({ type, fields }: EventDefinition): string {
  const properties = ['tenantId', ...fields.map((field) => `${field.name}: ${JSON_SCHEMAS[field.type]}`)];
  const required = ['tenantId', ...fields.filter((field) => !field.optional).map((field) => field.name)];
  return [
    `  '${type}': eventSchema(`,
    `    '${type}',`,
    `    {`,
    ...properties.map((property) => `      ${property},`),
    `    },`,
    `    [${required.map((name) => `'${name}'`).join(', ')}],`,
    `  ),`,
  ].join('\n');
}

function exampleData(fields: readonly EventField[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((field) => [field.name, EXAMPLES[field.type]]));
}

/** `data` as a TypeScript object literal whose tenant id is the variable `tenantVariable`. */
export function dataLiteral(fields: readonly EventField[], tenantVariable: string): string {
  const values = Object.entries(exampleData(fields)).map(([name, value]) => `${name}: ${JSON.stringify(value)}`);
  return `{ ${[`tenantId: ${tenantVariable}`, ...values].join(', ')} }`;
}

/** `data` that its schema refuses: the first field with a value of the wrong type, or a property the schema does not know. */
export function invalidDataLiteral(fields: readonly EventField[], tenantVariable: string): { literal: string; path: string } {
  if (fields.length === 0) return { literal: `{ tenantId: ${tenantVariable}, unexpected: true }`, path: '/data' };
  const [first] = fields;
  const values = Object.entries({ ...exampleData(fields), [first.name]: WRONG_VALUES[first.type] }).map(
    ([name, value]) => `${name}: ${JSON.stringify(value)}`,
  );
  return { literal: `{ ${[`tenantId: ${tenantVariable}`, ...values].join(', ')} }`, path: `/data/${first.name}` };
}

/** The docs/EVENTS.md section of the event, with an example. */
export function docsSection({ type, fields }: EventDefinition, names: EventNames): string {
  const data = { tenantId: 'acme-corp', ...exampleData(fields) };
  const envelope: [string, unknown][] = [
    ['id', '0190a6f2-8c1e-7b3a-9f00-5d2c8e4b1a77'],
    ['type', type],
    ['timestamp', '2026-01-15T10:30:00.000Z'],
    ['tenantId', 'acme-corp'],
    ['version', '1.0.0'],
  ];
  const dataLine = `{ ${Object.entries(data).map(([name, value]) => `"${name}": ${JSON.stringify(value)}`).join(', ')} }`;
  const json = ['{', ...envelope.map(([name, value]) => `  "${name}": ${JSON.stringify(value)},`), `  "data": ${dataLine}`, '}'].join('\n');
  return [
    `### \`${type}\``,
    '',
    `Handled by \`${names.handler}\` in \`${names.handlerFile}\`.`,
    '',
    '| `data` field | type | required |',
    '|---|---|---|',
    '| `tenantId` | string (the envelope\'s `tenantId`) | yes |',
    ...fields.map((field) => `| \`${field.name}\` | ${DOC_TYPES[field.type]} | ${field.optional ? 'no' : 'yes'} |`),
    '',
    '```json',
    json,
    '```',
    '',
  ].join('\n');
}
