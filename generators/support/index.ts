import { builtinModules } from 'node:module';

/** Key under which answers are saved in `.yo-rc.json`. */
export const CONFIG_KEY = 'generator-saasquatch';

/** What `.yo-rc.json` holds for a service made or extended by this package. */
export interface ServiceConfig {
  serviceName: string;
  database: boolean;
  messageQueue: boolean;
}

export const DEFAULT_ANSWERS: Readonly<Omit<ServiceConfig, 'serviceName'>> & { serviceName: string } = {
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

/** `--foo-bar` is read by Yeoman as `fooBar` or `foo-bar` depending on the runner; accept both. */
export function readOption<T>(options: Record<string, unknown>, kebabName: string): T | undefined {
  const camelName = kebabName.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  return (options[camelName] ?? options[kebabName]) as T | undefined;
}

/**
 * Inserts `lines` before the first line containing `needle`, indented like it, once:
 * lines already present anywhere in `content` are not added again.
 */
export function insertBeforeNeedle(content: string, needle: string, lines: readonly string[]): string | undefined {
  const all = content.split('\n');
  const at = all.findIndex((line) => line.includes(needle));
  if (at === -1) return undefined;
  const indent = /^\s*/.exec(all[at]!)![0];
  const missing = lines.filter((line) => !content.includes(line.trim()));
  if (missing.length === 0) return content;
  all.splice(at, 0, ...missing.map((line) => indent + line.trim()));
  return all.join('\n');
}

/** Adds import lines after the last existing import, skipping those already present. */
export function addImports(content: string, imports: readonly string[]): string {
  const missing = imports.filter((line) => !content.includes(line));
  if (missing.length === 0) return content;
  const all = content.split('\n');
  let last = -1;
  all.forEach((line, index) => {
    if (/^import\s/.test(line) || (last !== -1 && index === last + 1 && /^\s+.*from\s+['"]/.test(line))) last = index;
  });
  all.splice(last + 1, 0, ...missing);
  return all.join('\n');
}

/** Appends `block` (which must start with `marker`) once. */
export function appendOnce(content: string, marker: string, block: string): string {
  if (content.includes(marker)) return content;
  return `${content.replace(/\n*$/, '\n')}\n${block.replace(/\n*$/, '\n')}`;
}

/**
 * Destination of a template: the same relative path without its `.ejs` ending, and a leading `_`
 * turned into `.` (npm leaves dotfiles such as `.gitignore` out of a published package).
 */
export function destinationOf(template: string): string {
  return template.replace(/\.ejs$/, '').replace(/(^|\/)_([^/]+)$/, '$1.$2');
}

export type When = 'always' | 'database' | 'noDatabase';

export interface TemplateFile {
  /** Relative to the generator's `templates/` folder. */
  template: string;
  /** Relative to the service folder. */
  destination: string;
  when: When;
}

export function filesFor(files: readonly TemplateFile[], features: { database: boolean }): TemplateFile[] {
  return files.filter(
    (file) => file.when === 'always' || (file.when === 'database') === features.database,
  );
}

/** npm packages and ranges, those every service gets and those only a service with a database gets. */
export interface DependencyGroups {
  always: Readonly<Record<string, string>>;
  database: Readonly<Record<string, string>>;
}

export function dependenciesFor(groups: DependencyGroups, features: { database: boolean }): Record<string, string> {
  return { ...groups.always, ...(features.database ? groups.database : {}) };
}

/** The part of mem-fs-editor's file record this module reads and sets. */
interface EditorFile {
  /** Set once anything in this run has written or deleted the file. */
  state?: string;
  /** How the environment's conflicter treats the file at commit; 'force' writes it without asking. */
  conflicter?: string;
}

/**
 * Runs `edit`, which changes a file of the user's service in place. When nothing else in this run had
 * touched the file, the change is only ours (an insertion we guard against repeating), so it is written
 * without the overwrite prompt: a headless run must not stop on a question about its own edit. A file
 * some template already rewrote keeps the usual check, so a user's own changes are never overwritten silently.
 */
export function editInPlace(fs: { store: { get(path: string): unknown } }, path: string, edit: () => void): void {
  const untouched = (fs.store.get(path) as EditorFile).state === undefined;
  edit();
  const file = fs.store.get(path) as EditorFile;
  if (untouched && file.state !== undefined) file.conflicter = 'force';
}
