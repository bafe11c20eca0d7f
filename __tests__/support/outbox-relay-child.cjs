// A relaying instance of a generated service, run as a child process by __tests__/e2e/outbox.e2e.test.ts so
// that the test can kill it with SIGKILL. Copied into the service folder: it loads the service's compiled
// plugins (dist/) and its own dependencies. Configured by the environment (NATS_URL, DATABASE_URL, EVENTS_*,
// OUTBOX_TEST_SCHEMA, OUTBOX_TEST_BATCH_SIZE); logs JSON lines on stdout; stops on SIGTERM.
const Fastify = require('fastify');
const fastifyPostgres = require('@fastify/postgres');
const readiness = require('./dist/plugins/readiness').default;
const metrics = require('./dist/plugins/metrics').default;
const natsPublisher = require('./dist/plugins/nats-publisher').default;
const outbox = require('./dist/plugins/outbox').default;

async function main() {
  const app = Fastify({ logger: { level: 'debug' } });
  await app.register(readiness);
  await app.register(fastifyPostgres, { connectionString: process.env.DATABASE_URL });
  // As src/app.ts registers them: the publisher and the outbox count into the metrics registry.
  await app.register(metrics);
  await app.register(natsPublisher);
  await app.register(outbox, {
    schema: process.env.OUTBOX_TEST_SCHEMA,
    batchSize: Number(process.env.OUTBOX_TEST_BATCH_SIZE ?? 50),
  });
  await app.ready();
  app.log.info('relay child ready');
  process.once('SIGTERM', () => {
    app.close().then(() => process.exit(0), () => process.exit(1));
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
