import { Document, isMap, isScalar, isSeq, parseDocument, type Node, type YAMLMap } from 'yaml';
import { lineEndingOf } from './text.js';

/** What a feature adds to a Compose file: a service, and what the application's service needs to reach it. */
export interface ComposeAddition {
  /** Name of the new service under `services:`. */
  service: string;
  /** Its definition, as YAML (so that it keeps its flow sequences and comments). */
  definition: string;
  /** Variables added to the application's `environment` (map or `KEY=value` list), unless set already. */
  environment?: Readonly<Record<string, string>>;
  /**
   * `depends_on` condition of the application's service on the new one; none for a service the application
   * does not need (one of a profile, which Compose starts only when asked).
   */
  condition?: 'service_started' | 'service_healthy';
}

export class ComposeFileError extends Error {
  override readonly name = 'ComposeFileError';
}

/** The application's service: the first one that is built from the folder (`build:`). */
function applicationService(services: YAMLMap): YAMLMap | undefined {
  for (const pair of services.items) {
    if (isMap(pair.value) && pair.value.has('build')) return pair.value;
  }
  return undefined;
}

function addEnvironment(doc: Document, app: YAMLMap, variables: Readonly<Record<string, string>>): void {
  const environment = app.get('environment', true);
  if (isSeq(environment)) {
    const set = environment.items.map((item) => String(isScalar(item) ? item.value : item).split('=')[0]);
    for (const [name, value] of Object.entries(variables)) if (!set.includes(name)) environment.add(doc.createNode(`${name}=${value}`));
  } else if (isMap(environment)) {
    for (const [name, value] of Object.entries(variables)) if (!environment.has(name)) environment.set(name, value);
  } else {
    app.set('environment', doc.createNode({ ...variables }));
  }
}

function addDependency(doc: Document, app: YAMLMap, service: string, condition: ComposeAddition['condition']): void {
  const dependsOn = app.get('depends_on', true);
  if (isSeq(dependsOn)) {
    // The short form cannot say a condition: it means service_started.
    if (!dependsOn.items.some((item) => isScalar(item) && item.value === service)) dependsOn.add(doc.createNode(service));
  } else if (isMap(dependsOn)) {
    if (!dependsOn.has(service)) dependsOn.set(service, doc.createNode({ condition }));
  } else {
    app.set('depends_on', doc.createNode({ [service]: { condition } }));
  }
}

/**
 * Adds a service to a Compose file through the YAML document model: comments, quoting, flow sequences and the
 * other top-level keys (`volumes:`, `networks:`, in any order) stay as they are; the service goes under `services:`.
 * The application's service gets the environment and the `depends_on`, when given. Changes nothing when the service
 * exists. Throws ComposeFileError when the file is not YAML or `services` is not a mapping.
 */
export function addComposeService(source: string, addition: ComposeAddition): string {
  const doc = parseDocument(source);
  if (doc.errors.length > 0) throw new ComposeFileError(`is not valid YAML (${doc.errors[0].message.split('\n')[0]})`);
  doc.contents ??= doc.createNode({}) as unknown as typeof doc.contents;
  if (!isMap(doc.contents)) throw new ComposeFileError('is not a Compose file (its top level is not a mapping)');
  let services = doc.get('services', true);
  if (services === undefined || (isScalar(services) && services.value === null)) {
    services = doc.createNode({});
    doc.set('services', services);
  }
  if (!isMap(services)) throw new ComposeFileError('has a `services` that is not a mapping');
  if (services.has(addition.service)) return source;

  const definition = parseDocument(addition.definition).contents as Node;
  const pair = doc.createPair(addition.service, definition);
  if (services.items.length > 0) pair.key.spaceBefore = true;
  services.items.push(pair);

  const app = applicationService(services);
  if (app && addition.environment) addEnvironment(doc, app, addition.environment);
  if (app && addition.condition) addDependency(doc, app, addition.service, addition.condition);
  const eol = lineEndingOf(source);
  const result = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  return eol === '\n' ? result : result.replace(/\r?\n/g, eol);
}
