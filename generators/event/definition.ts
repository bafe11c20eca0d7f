import { UsageError } from '../../lib/service-config.js';

/** Lower-case dot-separated words, at least two (SPEC 4). */
export const EVENT_NAME = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)+$/;
const FIELD_NAME = /^[a-z][A-Za-z0-9]*$/;

export const FIELD_TYPES = ['string', 'integer', 'number', 'boolean', 'uuid', 'email', 'date-time'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** The envelope's own properties: a `data` field of the same name would only confuse readers. */
const ENVELOPE_FIELDS = ['id', 'type', 'timestamp', 'tenantId', 'version', 'data'];

export interface EventField {
  name: string;
  type: FieldType;
  optional: boolean;
}

export interface EventDefinition {
  /** `order.placed` */
  type: string;
  /** The user's fields; `tenantId` is not among them (every event's data has it). */
  fields: EventField[];
}

export function assertEventName(name: string): string {
  if (!EVENT_NAME.test(name)) {
    throw new UsageError(
      `Invalid event name "${name}": use lower-case dot-separated words, at least two, such as order.placed (${EVENT_NAME.source}).`,
    );
  }
  return name;
}

/** `total:number`, `note:string?` → a field; throws a UsageError naming what is wrong. */
export function parseField(spec: string): EventField {
  const match = /^([^:]*):([^?]*)(\?)?$/.exec(spec.trim());
  if (!match) throw new UsageError(`Invalid field "${spec}": write name:type, with ? after the type when it is optional (note:string?).`);
  const [, name = '', type = '', optional] = match;
  if (name === 'tenantId') throw new UsageError('Field "tenantId" is in every event\'s data already; leave it out.');
  if (ENVELOPE_FIELDS.includes(name)) {
    throw new UsageError(`Field "${name}" is named like an envelope field (${ENVELOPE_FIELDS.join(', ')}); choose another name.`);
  }
  if (!FIELD_NAME.test(name)) throw new UsageError(`Invalid field name "${name}": use camelCase letters and digits, starting with a lower-case letter.`);
  if (!(FIELD_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(`Unknown type "${type}" for field "${name}": use one of ${FIELD_TYPES.join(', ')}.`);
  }
  return { name, type: type as FieldType, optional: optional === '?' };
}

export function parseFields(specs: readonly string[]): EventField[] {
  const fields = specs.map(parseField);
  const seen = new Set<string>();
  for (const field of fields) {
    if (seen.has(field.name)) throw new UsageError(`Field "${field.name}" is given twice.`);
    seen.add(field.name);
  }
  return fields;
}

/** The field as `--field` takes it, which is also how `.yo-rc.json` records it. */
export function fieldSpec(field: EventField): string {
  return `${field.name}:${field.type}${field.optional ? '?' : ''}`;
}

/** `order.line_added` → `OrderLineAdded`. */
export function pascalName(type: string): string {
  return type
    .split(/[._]/)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

/** `order.placed` → `order-placed` (file names). */
export function kebabName(type: string): string {
  return type.replaceAll('.', '-');
}
