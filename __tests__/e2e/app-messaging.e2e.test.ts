// `saasquatch app --message-queue` (the app generator composing saasquatch:messaging), end to end, with and
// without a database: the generated integration tests run against the real NATS and PostgreSQL, the
// TypeScript examples of docs/EVENTS.md type-check in the service they document, and the built service
// survives a NATS restart.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STEP_TIMEOUT, describeService } from '../support/e2e-service.js';
import { generateService, serviceNatsConnect, typeCheckEventsDocExamples, until, withServer } from '../support/e2e.js';
import { PrivateNatsServer } from '../support/nats-server.js';

let withoutDatabase: string | undefined;
describeService('app --message-queue', { database: false, messageQueue: true }, async () => {
  withoutDatabase = await generateService('e2e-mq', ['--no-database', '--message-queue']);
  return withoutDatabase;
});

let withDatabase: string | undefined;
describeService('app --database --message-queue', { database: true, messageQueue: true }, async () => {
  withDatabase = await generateService('e2e-db-mq', ['--database', '--message-queue']);
  return withDatabase;
});

describe('docs/EVENTS.md of a service with database and message queue', () => {
  it('has TypeScript examples that type-check against the service', async () => {
    expect(withDatabase, 'the service with database and message queue was generated').toBeDefined();
    const checked = await typeCheckEventsDocExamples(withDatabase!);
    console.log(`[e2e] docs/EVENTS.md: ${checked} TypeScript blocks type-check`);
    expect(checked).toBeGreaterThan(0);
  }, STEP_TIMEOUT);
});

/** The parts of a NATS connection (the client installed in the service, not in this package) the test uses. */
interface NatsConnection {
  jetstream(): { publish(subject: string, data: Uint8Array, options: { msgID: string }): Promise<unknown> };
  close(): Promise<void>;
}
type CreateEvent = (type: string, tenantId: string, data: Record<string, string>) => { id: string; type: string };


describe('a built service with message queue while NATS restarts', () => {
  let nats: PrivateNatsServer | undefined;
  afterAll(() => nats?.dispose());

  it('reports NATS down, reconnects, and goes on consuming; the process stays up and exits 0', async () => {
    expect(withoutDatabase, 'the service with message queue was generated and built').toBeDefined();
    const service = withoutDatabase!;
    // The service's own client and its built event factory: what another service on the bus would send.
    const fromService = createRequire(join(service, 'package.json'));
    const { createEvent } = fromService('./dist/messaging/events.js') as { createEvent: CreateEvent };

    nats = await PrivateNatsServer.start();
    const server = nats;
    const publish = async (tenantId: string) => {
      const event = createEvent('user.created', tenantId, { userId: 'u1', email: 'u1@example.com', name: 'U', tenantId });
      const nc = await serviceNatsConnect<NatsConnection>(service, { servers: server.url });
      await nc.jetstream().publish(`events.${event.type}`, new TextEncoder().encode(JSON.stringify(event)), { msgID: event.id });
      await nc.close();
      return event;
    };

    await withServer(service, { NATS_URL: server.url }, async (running) => {
      const handled = (id: string) =>
        running
          .output()
          .split('\n')
          .some((line) => line.includes(`"eventId":"${id}"`) && line.includes('user.created received'));
      const natsStatus = async () => ((await running.get('/ready')).body as { checks: { nats?: { status: string } } }).checks.nats?.status;

      const before = await publish('before-restart');
      await until('the event published before the restart to be handled', () => handled(before.id), 30_000);

      await server.kill();
      await until('/ready to report NATS down', async () => (await natsStatus()) === 'down', 30_000);
      await server.start(); // same port, same JetStream store: the stream and the durable consumer are still there
      await until('the service to reconnect', async () => (await natsStatus()) === 'up', 30_000);

      const after = await publish('after-restart');
      await until('the event published after the restart to be handled', () => handled(after.id), 30_000);
      expect(running.output()).toMatch(/NATS disconnected/);
      expect(running.output()).toMatch(/NATS reconnected/);
    });
  }, STEP_TIMEOUT);
});
