import type { Features } from './service-config.js';

/** Which services get a file or a package: every one, only those with a database, only those without. */
export type When = 'always' | 'database' | 'noDatabase';

export interface TemplateFile {
  /** Relative to the generator's `templates/` folder. */
  template: string;
  /** Relative to the service folder. */
  destination: string;
  when: When;
}

/**
 * Destination of a template: the same relative path without its `.ejs` ending, and a leading `_`
 * turned into `.` (npm leaves dotfiles such as `.gitignore` out of a published package).
 */
export function destinationOf(template: string): string {
  return template.replace(/\.ejs$/, '').replace(/(^|\/)_([^/]+)$/, '$1.$2');
}

/**
 * One entry of a generator's file list: `templateFile('src/app.ts.ejs')`, or with a destination of its own
 * (`{ as: 'src/handlers/built-in-handlers.ts' }`) and a condition (`{ when: 'database' }`).
 */
export function templateFile(template: string, options: { as?: string; when?: When } = {}): TemplateFile {
  return { template, destination: options.as ?? destinationOf(template), when: options.when ?? 'always' };
}

export function applies(when: When, features: Features): boolean {
  return when === 'always' || (when === 'database') === features.database;
}

export function filesFor(files: readonly TemplateFile[], features: Features): TemplateFile[] {
  return files.filter((file) => applies(file.when, features));
}
