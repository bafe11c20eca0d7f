import type { DependencyGroups, TemplateFile, When } from '../support/index.js';

export type { TemplateFile, When };

const file = (template: string, destination: string, when: When = 'always'): TemplateFile => ({ template, destination, when });

/** The files `saasquatch:messaging` writes (templates relative to `generators/messaging/templates/`). */
export const messagingFiles: readonly TemplateFile[] = [
  file('src/messaging/nats-client.ts.ejs', 'src/messaging/nats-client.ts'),
  file('src/messaging/config.ts.ejs', 'src/messaging/config.ts'),
  file('src/messaging/errors.ts.ejs', 'src/messaging/errors.ts'),
  file('src/messaging/events.ts.ejs', 'src/messaging/events.ts'),
  file('src/messaging/validation.ts.ejs', 'src/messaging/validation.ts'),
  file('src/messaging/backoff.ts.ejs', 'src/messaging/backoff.ts'),
  file('src/messaging/streams.ts.ejs', 'src/messaging/streams.ts'),
  file('src/types/events.ts.ejs', 'src/types/events.ts'),
  file('src/plugins/nats-publisher.ts.ejs', 'src/plugins/nats-publisher.ts'),
  file('src/plugins/nats-subscriber.ts.ejs', 'src/plugins/nats-subscriber.ts'),
  file('src/handlers/built-in-handlers.database.ts.ejs', 'src/handlers/built-in-handlers.ts', 'database'),
  file('src/handlers/built-in-handlers.log.ts.ejs', 'src/handlers/built-in-handlers.ts', 'noDatabase'),
  file('src/services/tenant.service.ts.ejs', 'src/services/tenant.service.ts', 'database'),
  file('src/messaging/messaging-tables.ts.ejs', 'src/messaging/messaging-tables.ts', 'database'),
  file('src/messaging/outbox.ts.ejs', 'src/messaging/outbox.ts', 'database'),
  file('src/messaging/outbox-relay.ts.ejs', 'src/messaging/outbox-relay.ts', 'database'),
  file('src/messaging/inbox.ts.ejs', 'src/messaging/inbox.ts', 'database'),
  file('src/plugins/outbox.ts.ejs', 'src/plugins/outbox.ts', 'database'),
  file('test/integration/outbox.test.ts.ejs', 'test/integration/outbox.test.ts', 'database'),
  file('test/integration/harness.ts.ejs', 'test/integration/harness.ts'),
  file('test/integration/nats-events.test.ts.ejs', 'test/integration/nats-events.test.ts'),
  file('docs/EVENTS.md.ejs', 'docs/EVENTS.md'),
];

/** Runtime dependencies the files above import. */
export const messagingDependencies: DependencyGroups = {
  always: {
    nats: '^2.29.0',
    ajv: '^8.17.1',
    'ajv-formats': '^3.0.1',
    'env-schema': '^8.0.0',
    fastify: '^5.6.0',
    'fastify-plugin': '^6.0.0',
  },
  database: {
    '@fastify/postgres': '^6.0.0',
    pg: '^8.13.0',
  },
};

/** Development dependencies of the integration tests. */
export const messagingDevDependencies: DependencyGroups = {
  always: {
    testcontainers: '^11.0.0',
    typescript: '~5.9.3',
    '@types/node': '^20.17.0',
    jest: '^30.0.0',
    'ts-jest': '^29.4.0',
    '@types/jest': '^30.0.0',
  },
  database: {
    '@types/pg': '^8.11.0',
  },
};
