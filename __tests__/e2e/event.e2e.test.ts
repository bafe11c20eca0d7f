// `saasquatch event` end to end (issue 15): a service generated with the event system gets one event, is installed
// and type-checked; then nine more events of every field type, and it still type-checks, builds and passes its own
// tests (each event's test and the dead-letter tool's tests) against the real NATS; `npm run dlq` works in it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { STEP_TIMEOUT } from '../support/e2e-service.js';
import {
  assertSucceeded,
  eventsEnv,
  generateService,
  natsStreams,
  npmInstall,
  npmRun,
  run,
  runServiceTests,
  saasquatch,
  serviceEnv,
} from '../support/e2e.js';

const MORE_EVENTS: [string, string[]][] = [
  ['order.shipped', ['orderId:uuid', 'shippedAt:date-time', 'carrier:string?']],
  ['order.cancelled', ['orderId:uuid', 'reason:string']],
  ['invoice.issued', ['invoiceId:string', 'amount:number', 'lines:integer']],
  ['invoice.paid', ['invoiceId:string', 'paid:boolean']],
  ['customer.registered', ['customerId:uuid', 'email:email', 'newsletter:boolean?']],
  ['customer.email_changed', ['customerId:uuid', 'email:email']],
  ['cart.item_added', ['cartId:uuid', 'sku:string', 'quantity:integer']],
  ['stock.level_changed', ['sku:string', 'level:integer', 'warehouseId:uuid?']],
  ['audit.entry.recorded', ['actor:email?', 'at:date-time', 'note:string?']],
];

async function addEvent(service: string, type: string, fields: readonly string[]): Promise<void> {
  const args = ['event', type, ...fields.flatMap((field) => ['--field', field]), '--skip-install'];
  assertSucceeded(`saasquatch ${args.join(' ')}`, await saasquatch(service, args));
}

describe('events added with saasquatch event', () => {
  let service: string;

  beforeAll(async () => {
    service = await generateService('e2e-events', ['--no-database', '--message-queue']);
    await addEvent(service, 'order.placed', ['orderId:uuid', 'total:number', 'note:string?']);
    await npmInstall(service);
  }, 600_000);

  it('type-checks with one event', async () => {
    await npmRun(service, 'typecheck');
  }, STEP_TIMEOUT);

  it('changes nothing when the same event is added again', async () => {
    const before = readFileSync(join(service, 'src/types/events.ts'), 'utf8');
    await addEvent(service, 'order.placed', ['orderId:uuid', 'total:number', 'note:string?']);
    expect(readFileSync(join(service, 'src/types/events.ts'), 'utf8')).toBe(before);
  }, STEP_TIMEOUT);

  it('type-checks and builds with ten events', async () => {
    for (const [type, fields] of MORE_EVENTS) await addEvent(service, type, fields);
    const registry = readFileSync(join(service, 'src/handlers/event-handlers.ts'), 'utf8');
    expect(registry.match(/fastify\.registerHandler\(/g)).toHaveLength(10);
    await npmRun(service, 'typecheck');
    await npmRun(service, 'build');
  }, STEP_TIMEOUT);

  it('passes its own tests: every event\'s, and the dead-letter tool\'s', async () => {
    const env = eventsEnv('e2e-events-test');
    try {
      const summary = await runServiceTests(service, 'e2e-events', env);
      expect(summary.failed).toBe(0);
    } finally {
      await natsStreams(service, [env.EVENTS_STREAM!, env.EVENTS_DLQ_STREAM!]);
    }
  }, STEP_TIMEOUT);

  it('runs npm run dlq from the built service too (node dist/tools/dlq.js)', async () => {
    const result = await run(process.execPath, ['dist/tools/dlq.js', '--help'], { cwd: service, env: serviceEnv() });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Usage: npm run dlq -- <command>');
  }, STEP_TIMEOUT);
});
