import type { DependencyGroups } from '../support/index.js';

/** npm ranges the base service is written against; the end-to-end tests install exactly these. */
export const baseDependencies = {
  always: {
    fastify: '^5.6.0',
    'fastify-plugin': '^6.0.0',
    'env-schema': '^8.0.0',
    'close-with-grace': '^2.2.0',
  },
  database: {
    '@fastify/postgres': '^6.0.0',
    pg: '^8.13.0',
  },
} as const satisfies DependencyGroups;

export const baseDevDependencies = {
  always: {
    typescript: '~5.9.3',
    '@types/node': '^22.10.0',
    jest: '^30.0.0',
    'ts-jest': '^29.4.0',
    '@types/jest': '^30.0.0',
    tsx: '^4.19.0',
  },
  database: {
    '@types/pg': '^8.11.0',
  },
} as const satisfies DependencyGroups;
