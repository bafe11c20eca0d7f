import { builtinModules } from 'node:module';

/** Key under which answers are saved in `.yo-rc.json`. */
export const CONFIG_KEY = 'generator-saasquatch';

/** What `.yo-rc.json` holds for a service made or extended by this package. */
export interface ServiceConfig {
  serviceName: string;
  database: boolean;
  messageQueue: boolean;
}

/** The features a file or a dependency can depend on. */
export type Features = Pick<ServiceConfig, 'database'>;

export const DEFAULT_ANSWERS: Readonly<ServiceConfig> = {
  serviceName: 'my-service',
  database: true,
  messageQueue: true,
};

/** An error the user caused: the CLI prints its message alone, without a stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const MAX_SERVICE_NAME_LENGTH = 50;
const KEBAB_CASE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const RESERVED_NAMES = new Set(['node_modules', 'favicon.ico', ...builtinModules]);

/** Returns why `name` cannot be a service name, or `undefined` when it can. */
export function serviceNameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'service name is empty';
  if (name.length > MAX_SERVICE_NAME_LENGTH) {
    return `service name "${name.slice(0, 20)}…" is ${name.length} characters long; the limit is ${MAX_SERVICE_NAME_LENGTH}`;
  }
  if (!KEBAB_CASE.test(name)) {
    return `service name "${name}" is not kebab-case (lower-case letters and digits separated by single hyphens, starting with a letter)`;
  }
  if (RESERVED_NAMES.has(name)) return `service name "${name}" is reserved by npm or Node.js`;
  return undefined;
}

export function assertServiceName(name: string): string {
  const problem = serviceNameProblem(name);
  if (problem) throw new UsageError(`Invalid service name: ${problem}.`);
  return name;
}

/**
 * The option `name` (camelCase) of a generator's `options`, with the type the generator declares for it: `--foo-bar`
 * is read by Yeoman as `fooBar` or `foo-bar` depending on the runner; accept both.
 */
export function readOption<Options extends object, Name extends keyof Options & string>(
  options: Options,
  name: Name,
): Options[Name] | undefined {
  const kebabName = name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
  return options[name] ?? (options as Partial<Record<string, Options[Name]>>)[kebabName];
}
