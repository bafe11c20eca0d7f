import { readFileSync } from 'node:fs';
import type { Features } from './service-config.js';
import { applies, type When } from './template-files.js';

/** Ranges by package name; a package the table lacks reads as `undefined`. */
interface VersionTable {
  dependencies: Readonly<Partial<Record<string, string>>>;
  devDependencies: Readonly<Partial<Record<string, string>>>;
}

/** The one version table (`lib/dependency-versions/package.json`): whether a package is a dev dependency, and its range. */
export const VERSION_TABLE = JSON.parse(
  readFileSync(new URL('./dependency-versions/package.json', import.meta.url), 'utf8'),
) as VersionTable;

/** The packages a generator's files need, by feature; their ranges come from the version table. */
export type PackagesByFeature = Partial<Record<When, readonly string[]>>;

export interface PackageJsonDependencies {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** The `dependencies` and `devDependencies` a service with `features` gets from `packages`, ranges from the table. */
export function dependenciesFor(packages: PackagesByFeature, features: Features): PackageJsonDependencies {
  const result: PackageJsonDependencies = { dependencies: {}, devDependencies: {} };
  for (const [when, names] of Object.entries(packages) as [When, readonly string[]][]) {
    if (!applies(when, features)) continue;
    for (const name of names) {
      const section = name in VERSION_TABLE.dependencies ? 'dependencies' : 'devDependencies';
      const range = VERSION_TABLE[section][name];
      if (range === undefined) throw new Error(`${name} has no range in lib/dependency-versions/package.json`);
      result[section][name] = range;
    }
  }
  return result;
}
