// `saasquatch app` without the event system, end to end: generate, install, typecheck, build, the service's own
// tests, and the built server against the real PostgreSQL (SPEC 2, issue 2 item 7).
import { describeService } from '../support/e2e-service.js';
import { generateService } from '../support/e2e.js';

describeService('app (no database, no message queue)', { database: false, messageQueue: false }, () =>
  generateService('e2e-plain', ['--no-database', '--no-message-queue']),
);

describeService('app --database', { database: true, messageQueue: false }, () =>
  generateService('e2e-db', ['--database', '--no-message-queue']),
);
