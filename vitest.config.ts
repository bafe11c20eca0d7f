import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['__tests__/**/*.test.ts'],
    // yeoman-test changes the working directory, which worker threads cannot do.
    pool: 'forks',
    // vitest's default is one worker less than the cores: one on a 2-core CI machine. The end-to-end files
    // mostly wait on npm, NATS and PostgreSQL, so run at least two files at a time.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // Every file builds on dist/: compile the generators once before any test runs.
    globalSetup: ['__tests__/support/global-setup.ts'],
  },
});
