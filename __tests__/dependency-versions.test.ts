// The one version table (lib/dependency-versions/package.json) and the generators' package lists.
import { describe, expect, it } from 'vitest';
import { VERSION_TABLE, dependenciesFor } from '../lib/dependency-versions.js';
import { packages as appPackages } from '../generators/app/files.js';
import { packages as messagingPackages } from '../generators/messaging/files.js';

const lists = { app: appPackages, messaging: messagingPackages };

describe('the version table', () => {
  it('names each package once, in one section', () => {
    const inBoth = Object.keys(VERSION_TABLE.dependencies).filter((name) => name in VERSION_TABLE.devDependencies);
    expect(inBoth).toEqual([]);
  });

  it.each(Object.entries(lists))('has a range for every package the %s generator lists, each listed once', (_generator, packages) => {
    const names = Object.values(packages).flat();
    expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
    for (const features of [{ database: true }, { database: false }]) expect(() => dependenciesFor(packages, features)).not.toThrow();
  });

  it('gives the NATS client packages one range: transport-node and jetstream are released together, on one nats-core', () => {
    const { dependencies } = VERSION_TABLE;
    expect(dependencies['@nats-io/transport-node']).toMatch(/^\^3\./);
    expect(dependencies['@nats-io/jetstream']).toBe(dependencies['@nats-io/transport-node']);
  });

  it('holds no package that no generator lists', () => {
    const listed = new Set(Object.values(lists).flatMap((packages) => Object.values(packages).flat()));
    const table = [...Object.keys(VERSION_TABLE.dependencies), ...Object.keys(VERSION_TABLE.devDependencies)];
    expect(table.filter((name) => !listed.has(name))).toEqual([]);
  });
});

describe('dependenciesFor', () => {
  it('splits the packages of the chosen features into dependencies and devDependencies, ranges from the table', () => {
    const packages = { always: ['fastify', 'jest'], database: ['pg'], noDatabase: ['tsx'] };
    expect(dependenciesFor(packages, { database: true })).toEqual({
      dependencies: { fastify: VERSION_TABLE.dependencies.fastify, pg: VERSION_TABLE.dependencies.pg },
      devDependencies: { jest: VERSION_TABLE.devDependencies.jest },
    });
    expect(dependenciesFor(packages, { database: false })).toEqual({
      dependencies: { fastify: VERSION_TABLE.dependencies.fastify },
      devDependencies: { jest: VERSION_TABLE.devDependencies.jest, tsx: VERSION_TABLE.devDependencies.tsx },
    });
  });

  it('names a package the table lacks', () => {
    expect(() => dependenciesFor({ always: ['left-pad'] }, { database: false })).toThrow(
      'left-pad has no range in lib/dependency-versions/package.json',
    );
  });
});
