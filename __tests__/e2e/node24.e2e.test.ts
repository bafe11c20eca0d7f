// Generated services declare `node >=22.22.0` (SPEC 2): every other end-to-end file runs them on Node 22, this
// one runs the fullest variant (database and message queue) on Node 24, the newer LTS: install without an engine
// warning, type-check, build, its own tests against the real servers, and the built server.
import { describeService } from '../support/e2e-service.js';
import { generateService, useServiceNode } from '../support/e2e.js';

useServiceNode(24);

// Lint is left to the Node 22 run (app-messaging.e2e): its findings do not depend on the Node version.
describeService(
  'app --database --message-queue on Node 24',
  { database: true, messageQueue: true },
  () => generateService('e2e-node24', ['--database', '--message-queue']),
  { lint: false },
);
