// The generator's own TypeScript passes eslint.config.js, the configuration generated services get (`npm run lint`).
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What `npm run lint` lints; the templates are linted in the services they generate. */
const LINTED = ['generators', 'cli', 'lib'];

// Type-aware rules type-check every file first: tens of seconds on a busy 2-core machine.
it('finds nothing in the generators, the CLI and lib', { timeout: 300_000 }, async () => {
  const results = await new ESLint({ cwd: ROOT }).lintFiles(LINTED);
  const findings = results.flatMap((result) =>
    result.messages.map(
      (message) => `${relative(ROOT, result.filePath)}:${message.line} ${message.ruleId ?? '(parse)'} ${message.message}`,
    ),
  );
  expect(results.map((result) => relative(ROOT, result.filePath))).toContain('cli/saasquatch.ts');
  expect(findings).toEqual([]);
});
