// Unit tests of the helpers that edit a user's existing files (lib/edits), on the awkward inputs real services
// have: Prettier's multi-line imports, CRLF, no final newline, comments, Compose files in any key order.
// Each case checks the exact result, and that applying the edit again changes nothing.
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ComposeFileError, addComposeService, type ComposeAddition } from '../lib/edits/compose.js';
import { addImports } from '../lib/edits/imports.js';
import { appendOnce, insertBeforeNeedle, insertInBlock } from '../lib/edits/text.js';

const NEW_IMPORTS = ["import natsPublisher from './plugins/nats-publisher';", "import natsSubscriber from './plugins/nats-subscriber';"];
const ADDED = NEW_IMPORTS.join('\n');

/** Applies `edit` twice: the second time must change nothing. */
function once(edit: (content: string) => string, content: string): string {
  const first = edit(content);
  expect(edit(first), 'a second run changes nothing').toBe(first);
  return first;
}

describe('addImports', () => {
  const add = (content: string) => once((text) => addImports(text, NEW_IMPORTS), content);

  it.each([
    [
      'a multi-line named import (Prettier style)',
      "import Fastify from 'fastify';\nimport {\n  loadConfig,\n  type AppConfig,\n} from './config';\n\nexport const x = 1;\n",
      `import Fastify from 'fastify';\nimport {\n  loadConfig,\n  type AppConfig,\n} from './config';\n${ADDED}\n\nexport const x = 1;\n`,
    ],
    [
      'a multi-line import last, with no semicolons',
      "import a from 'a'\nimport {\n  b,\n  c\n} from 'b'\nconst d = a(b, c)\n",
      `import a from 'a'\nimport {\n  b,\n  c\n} from 'b'\n${ADDED}\nconst d = a(b, c)\n`,
    ],
    [
      'side-effect and type-only imports',
      "import 'reflect-metadata';\nimport type { FastifyInstance } from 'fastify';\n\nexport function f(app: FastifyInstance) {}\n",
      `import 'reflect-metadata';\nimport type { FastifyInstance } from 'fastify';\n${ADDED}\n\nexport function f(app: FastifyInstance) {}\n`,
    ],
    [
      'a comment after the last import, and a header comment',
      "/* Copyright ACME */\n// app\nimport a from 'a'; // the a\n/** Docs. */\nexport const b = a;\n",
      `/* Copyright ACME */\n// app\nimport a from 'a'; // the a\n${ADDED}\n/** Docs. */\nexport const b = a;\n`,
    ],
    [
      'import-equals and import attributes',
      "import fs = require('fs');\nimport data from './data.json' with { type: 'json' };\nconst x = fs;\n",
      `import fs = require('fs');\nimport data from './data.json' with { type: 'json' };\n${ADDED}\nconst x = fs;\n`,
    ],
    [
      'a quoted name inside the braces',
      "import { \"a-b\" as ab } from './names';\nconst c = ab;\n",
      `import { "a-b" as ab } from './names';\n${ADDED}\nconst c = ab;\n`,
    ],
    [
      'an import-like line inside a template string further down (not an import)',
      "import a from 'a';\n\nconst doc = `\nimport x from 'y';\n`;\n",
      `import a from 'a';\n${ADDED}\n\nconst doc = \`\nimport x from 'y';\n\`;\n`,
    ],
    ['no import at all', "'use strict';\n\nexport const a = 1;\n", `'use strict';\n\n${ADDED}\n\nexport const a = 1;\n`],
    ['a shebang and no import', '#!/usr/bin/env node\nrun();\n', `#!/usr/bin/env node\n${ADDED}\n\nrun();\n`],
    ['an empty file', '', `${ADDED}\n`],
  ])('adds after the last import: %s', (_case, input, expected) => {
    expect(add(input)).toBe(expected);
  });

  it('keeps CRLF line endings', () => {
    const input = "import a from 'a';\r\nimport {\r\n  b,\r\n} from 'b';\r\n\r\nexport const c = a;\r\n";
    expect(add(input)).toBe(`import a from 'a';\r\nimport {\r\n  b,\r\n} from 'b';\r\n${NEW_IMPORTS.join('\r\n')}\r\n\r\nexport const c = a;\r\n`);
  });

  it('keeps a file without a final newline without one', () => {
    expect(add("import a from 'a';")).toBe(`import a from 'a';\n${ADDED}`);
    expect(add("import {\n  a\n} from 'a'")).toBe(`import {\n  a\n} from 'a'\n${ADDED}`);
  });

  it('does not import a module again that is imported already, in another quote style', () => {
    const input = 'import natsPublisher from "./plugins/nats-publisher";\nexport {};\n';
    expect(add(input)).toBe(`import natsPublisher from "./plugins/nats-publisher";\n${NEW_IMPORTS[1]}\nexport {};\n`);
  });

  it('still adds a value import of a module imported only for its types', () => {
    const input = "import type natsPublisher from './plugins/nats-publisher';\nexport {};\n";
    expect(add(input)).toBe(`${input.split('\n')[0]}\n${ADDED}\nexport {};\n`);
  });
});

describe('insertBeforeNeedle', () => {
  const register = ['await app.register(natsPublisher);', 'await app.register(natsSubscriber);'];
  const insert = (content: string) => once((text) => insertBeforeNeedle(text, '// saasquatch:register-plugins', register)!, content);

  it('inserts before the needle, indented like it', () => {
    expect(insert('  await app.register(a);\n  // saasquatch:register-plugins\n  return app;\n')).toBe(
      '  await app.register(a);\n  await app.register(natsPublisher);\n  await app.register(natsSubscriber);\n  // saasquatch:register-plugins\n  return app;\n',
    );
  });

  it('keeps CRLF and adds only the missing lines', () => {
    expect(insert('\tawait app.register(natsPublisher);\r\n\t// saasquatch:register-plugins\r\n')).toBe(
      '\tawait app.register(natsPublisher);\r\n\tawait app.register(natsSubscriber);\r\n\t// saasquatch:register-plugins\r\n',
    );
  });

  it('returns undefined without the needle', () => {
    expect(insertBeforeNeedle('return app;\n', '// saasquatch:register-plugins', register)).toBeUndefined();
  });
});

describe('insertInBlock', () => {
  const test = "  it('reports every dependency up', async () => {";
  const insert = (content: string) =>
    once((text) => insertInBlock(text, "'reports every dependency up'", /^\s*expect\(/, "expect(report.checks.nats.status).toBe('up');")!, content);

  it('adds after the last expectation of that test only', () => {
    const input = `${test}\n    expect(a).toBe(1);\n\n    expect(b).toBe(2);\n  });\n\n  it('other', () => {\n    expect(c).toBe(3);\n  });\n`;
    expect(insert(input)).toBe(
      `${test}\n    expect(a).toBe(1);\n\n    expect(b).toBe(2);\n    expect(report.checks.nats.status).toBe('up');\n  });\n\n  it('other', () => {\n    expect(c).toBe(3);\n  });\n`,
    );
  });

  it('keeps CRLF and a missing final newline', () => {
    expect(insert(`${test}\r\n    expect(a).toBe(1);\r\n  });`)).toBe(
      `${test}\r\n    expect(a).toBe(1);\r\n    expect(report.checks.nats.status).toBe('up');\r\n  });`,
    );
  });

  it('returns undefined when the test is not there', () => {
    expect(insertInBlock("it('x', () => {});\n", "'reports every dependency up'", /expect/, 'expect(1);')).toBeUndefined();
  });
});

describe('appendOnce', () => {
  const block = '# NATS\nNATS_URL=nats://127.0.0.1:4222\n';
  const append = (content: string) => once((text) => appendOnce(text, 'NATS_URL=', block), content);

  it.each([
    ['a final newline', 'PORT=3000\n', `PORT=3000\n\n${block}`],
    ['no final newline', 'PORT=3000', `PORT=3000\n\n${block}`],
    ['blank lines at the end', 'PORT=3000\n\n\n', `PORT=3000\n\n${block}`],
    ['CRLF', 'PORT=3000\r\n', 'PORT=3000\r\n\r\n# NATS\r\nNATS_URL=nats://127.0.0.1:4222\r\n'],
    ['an empty file', '', block],
  ])('appends with %s', (_case, input, expected) => {
    expect(append(input)).toBe(expected);
  });

  it('does not append when the marker starts a line already', () => {
    expect(append('NATS_URL=nats://elsewhere:4222\n')).toBe('NATS_URL=nats://elsewhere:4222\n');
  });

  it('is not fooled by the marker inside another line', () => {
    expect(append('# set NATS_URL= later\n')).toBe(`# set NATS_URL= later\n\n${block}`);
  });
});

describe('addComposeService', () => {
  const NATS: ComposeAddition = {
    service: 'nats',
    definition: 'image: nats:2.12-alpine # pinned\ncommand: ["-js"]\n',
    environment: { NATS_URL: 'nats://nats:4222' },
    condition: 'service_healthy',
  };
  const add = (content: string) => once((text) => addComposeService(text, NATS), content);
  const parsed = (content: string) => parseDocument(content).toJS() as Record<string, Record<string, Record<string, unknown>>>;

  it.each(['volumes', 'networks'])('puts the service under services: when %s: is the last top-level key', (last) => {
    const input = `services:\n  app:\n    build: .\n\n${last}:\n  data: {}\n`;
    const result = add(input);
    expect(parsed(result)[last]).toEqual({ data: {} });
    expect(parsed(result).services!.nats).toEqual({ image: 'nats:2.12-alpine', command: ['-js'] });
    expect(result).toBe(
      `services:\n  app:\n    build: .\n    environment:\n      NATS_URL: nats://nats:4222\n    depends_on:\n      nats:\n        condition: service_healthy\n\n  nats:\n    image: nats:2.12-alpine # pinned\n    command: ["-js"]\n\n${last}:\n  data: {}\n`,
    );
  });

  it('keeps comments, quotes and flow sequences, and extends the environment map and depends_on map', () => {
    const input = [
      '# Local development',
      'services:',
      '  # the service itself',
      '  app:',
      '    build: .',
      '    ports:',
      '      - "3000:3000" # HTTP',
      '    environment:',
      "      PORT: '3000'",
      '    depends_on:',
      '      postgres:',
      '        condition: service_healthy',
      '  postgres:',
      '    image: postgres:16-alpine',
      '    healthcheck:',
      '      test: ["CMD", "pg_isready"]',
      '',
    ].join('\n');
    const result = add(input);
    expect(result).toBe(
      [
        '# Local development',
        'services:',
        '  # the service itself',
        '  app:',
        '    build: .',
        '    ports:',
        '      - "3000:3000" # HTTP',
        '    environment:',
        "      PORT: '3000'",
        '      NATS_URL: nats://nats:4222',
        '    depends_on:',
        '      postgres:',
        '        condition: service_healthy',
        '      nats:',
        '        condition: service_healthy',
        '  postgres:',
        '    image: postgres:16-alpine',
        '    healthcheck:',
        '      test: ["CMD", "pg_isready"]',
        '',
        '  nats:',
        '    image: nats:2.12-alpine # pinned',
        '    command: ["-js"]',
        '',
      ].join('\n'),
    );
  });

  it('extends list forms of environment and depends_on', () => {
    const result = add('services:\n  web:\n    build: .\n    environment:\n      - PORT=3000\n    depends_on:\n      - db\n  db:\n    image: postgres\n');
    expect(parsed(result).services!.web).toEqual({ build: '.', environment: ['PORT=3000', 'NATS_URL=nats://nats:4222'], depends_on: ['db', 'nats'] });
  });

  it('leaves a variable the application sets already', () => {
    const result = add('services:\n  app:\n    build: .\n    environment:\n      NATS_URL: nats://elsewhere:4222\n');
    expect(parsed(result).services!.app!.environment).toEqual({ NATS_URL: 'nats://elsewhere:4222' });
  });

  it('leaves the application alone for a service without environment or condition (one of a profile)', () => {
    const input = 'services:\n  app:\n    build: .\n';
    const node = { service: 'nats-1', definition: 'image: nats:2.12-alpine\nprofiles: ["cluster"]\n' };
    const result = once((text) => addComposeService(text, node), input);
    expect(parsed(result).services).toEqual({ app: { build: '.' }, 'nats-1': { image: 'nats:2.12-alpine', profiles: ['cluster'] } });
  });

  it('changes nothing when the service exists', () => {
    const input = 'services:\n  app:\n    build: .\n  nats:\n    image: nats:latest\n';
    expect(add(input)).toBe(input);
  });

  it('adds services: when the file has none, and works without an application service', () => {
    expect(parsed(add('volumes:\n  data: {}\n')).services).toEqual({ nats: { image: 'nats:2.12-alpine', command: ['-js'] } });
    expect(parsed(add('')).services).toEqual({ nats: { image: 'nats:2.12-alpine', command: ['-js'] } });
  });

  it('keeps CRLF line endings', () => {
    const result = add('services:\r\n  app:\r\n    build: .\r\n');
    expect(result).not.toMatch(/[^\r]\n/);
    expect(parsed(result).services!.nats).toBeDefined();
  });

  it.each([
    ['invalid YAML', 'services:\n  app: [\n', /is not valid YAML/],
    ['a top level that is not a mapping', '- a\n- b\n', /top level is not a mapping/],
    ['services that is a list', 'services:\n  - app\n', /`services` that is not a mapping/],
  ])('refuses %s', (_case, input, message) => {
    expect(() => addComposeService(input, NATS)).toThrow(ComposeFileError);
    expect(() => addComposeService(input, NATS)).toThrow(message);
  });
});
