import type { PackagesByFeature } from '../../lib/dependency-versions.js';
import { templateFile, type TemplateFile } from '../../lib/template-files.js';

/** The files `saasquatch:messaging` writes (templates relative to `generators/messaging/templates/`), one line each. */
export const files: readonly TemplateFile[] = [
  templateFile('src/messaging/nats-client.ts.ejs'),
  templateFile('src/messaging/config.ts.ejs'),
  templateFile('src/messaging/connection-options.ts.ejs'),
  templateFile('src/messaging/errors.ts.ejs'),
  templateFile('src/messaging/events.ts.ejs'),
  templateFile('src/messaging/validation.ts.ejs'),
  templateFile('src/messaging/backoff.ts.ejs'),
  templateFile('src/messaging/streams.ts.ejs'),
  templateFile('src/messaging/asyncapi.ts.ejs'),
  templateFile('src/messaging/consuming.ts.ejs'),
  templateFile('src/messaging/batched-acks.ts.ejs'),
  templateFile('src/messaging/logging.ts.ejs'),
  templateFile('src/messaging/waited-deliveries.ts.ejs'),
  templateFile('src/messaging/jetstream-publisher.ts.ejs'),
  templateFile('src/messaging/dead-letters.ts.ejs'),
  templateFile('src/messaging/dead-letter-queue.ts.ejs'),
  templateFile('src/messaging/event-metrics.ts.ejs'),
  templateFile('src/messaging/trace-context.ts.ejs'),
  templateFile('src/tools/dlq.ts.ejs'),
  templateFile('src/tools/dlq-arguments.ts.ejs'),
  templateFile('src/tools/dlq-output.ts.ejs'),
  templateFile('src/types/events.ts.ejs'),
  templateFile('src/plugins/metrics.ts.ejs'),
  templateFile('src/plugins/nats-publisher.ts.ejs'),
  templateFile('src/plugins/nats-subscriber.ts.ejs'),
  templateFile('src/handlers/built-in-handlers.database.ts.ejs', { as: 'src/handlers/built-in-handlers.ts', when: 'database' }),
  templateFile('src/handlers/built-in-handlers.log.ts.ejs', { as: 'src/handlers/built-in-handlers.ts', when: 'noDatabase' }),
  templateFile('src/services/tenant.service.ts.ejs', { when: 'database' }),
  templateFile('src/services/user-projection.ts.ejs', { when: 'database' }),
  templateFile('src/messaging/messaging-tables.ts.ejs', { when: 'database' }),
  templateFile('src/messaging/outbox.ts.ejs', { when: 'database' }),
  templateFile('src/messaging/outbox-relay.ts.ejs', { when: 'database' }),
  templateFile('src/messaging/inbox.ts.ejs', { when: 'database' }),
  templateFile('src/plugins/outbox.ts.ejs', { when: 'database' }),
  templateFile('test/integration/outbox.test.ts.ejs', { when: 'database' }),
  templateFile('test/connection-options.test.ts.ejs'),
  templateFile('test/connection-files.test.ts.ejs'),
  templateFile('test/certificates.ts.ejs'),
  templateFile('test/bad-input.test.ts.ejs'),
  templateFile('test/dlq-arguments.test.ts.ejs'),
  templateFile('test/waited-deliveries.test.ts.ejs'),
  templateFile('test/event-contract.test.ts.ejs'),
  templateFile('test/integration/harness.ts.ejs'),
  templateFile('test/integration/private-nats.ts.ejs'),
  templateFile('test/integration/connection-errors.test.ts.ejs'),
  templateFile('test/integration/streams.test.ts.ejs'),
  templateFile('test/integration/publisher-failures.test.ts.ejs'),
  templateFile('test/integration/conformance.test.ts.ejs'),
  templateFile('test/integration/nats-events.test.ts.ejs'),
  templateFile('test/integration/delivery.test.ts.ejs'),
  templateFile('test/integration/jetstream-publisher.test.ts.ejs'),
  templateFile('test/integration/consuming.test.ts.ejs'),
  templateFile('test/integration/dlq-tool.test.ts.ejs'),
  templateFile('test/integration/observability.test.ts.ejs'),
  templateFile('test/integration/dlq-replay-order.test.ts.ejs', { when: 'database' }),
  templateFile('test/integration/projection.test.ts.ejs', { when: 'database' }),
  templateFile('docs/EVENTS.md.ejs'),
  templateFile('docs/asyncapi.yaml.ejs'),
];

/**
 * The npm packages these files import or run, one line each; ranges in lib/dependency-versions/package.json.
 * The base service's packages are listed too: messaging also adds to services it did not make.
 */
export const packages: PackagesByFeature = {
  always: [
    '@nats-io/transport-node', // the connection; @nats-io/jetstream is JetStream on it (one range for both)
    '@nats-io/jetstream',
    'ajv',
    'ajv-formats',
    'env-schema',
    'yaml',
    'fastify',
    'fastify-plugin',
    'prom-client',
    'fastify-metrics', // 12.x: the last on prom-client (13 and later want @platformatic/prom-client)
    '@opentelemetry/api',
    '@opentelemetry/core', // the W3C propagator the trace test installs, as an OpenTelemetry SDK would
    '@opentelemetry/context-async-hooks', // the context manager the trace test installs, as an SDK would
    'testcontainers',
    '@testcontainers/nats',
    'json-schema-to-ts',
    '@asyncapi/parser',
    'uuid', // the independent implementation the event ids are checked against (11.x: the last with CommonJS, which jest needs)
    'typescript',
    '@types/node',
    'jest',
    'ts-jest',
    '@types/jest',
    'tsx', // runs the dead-letter tool (npm run dlq) from its TypeScript source, without a build
  ],
  database: [
    '@testcontainers/postgresql',
    '@fastify/postgres',
    'pg',
    '@types/pg',
  ],
};

/** npm scripts the files above need; a script the service already has under the same name is left alone. */
export const scripts: Readonly<Record<string, string>> = {
  dlq: 'tsx src/tools/dlq.ts',
  asyncapi: 'tsx src/messaging/asyncapi.ts', // writes docs/asyncapi.yaml from EventSchemas
};
