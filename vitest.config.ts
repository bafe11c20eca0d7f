import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['__tests__/**/*.test.ts'],
    // yeoman-test changes the working directory, which worker threads cannot do.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // Every file builds on dist/: compile the generators once before any test runs.
    globalSetup: ['__tests__/support/global-setup.ts'],
  },
});
