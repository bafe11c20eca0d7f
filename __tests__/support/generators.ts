import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import helpers from 'yeoman-test';
import type AppGenerator from '../../generators/app/index.js';
import type EventGenerator from '../../generators/event/index.js';
import type MessagingGenerator from '../../generators/messaging/index.js';

/** The compiled generators, as `yo` and the CLI load them. */
export const APP_GENERATOR = fileURLToPath(new URL('../../dist/generators/app/index.js', import.meta.url));
export const MESSAGING_GENERATOR = fileURLToPath(new URL('../../dist/generators/messaging/index.js', import.meta.url));
export const EVENT_GENERATOR = fileURLToPath(new URL('../../dist/generators/event/index.js', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli/saasquatch.js', import.meta.url));

/** Every file below `folder` (relative path → content), to compare a folder before and after a run. */
export function readTree(folder: string): Record<string, string> {
  const tree: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else tree[relative(folder, path)] = readFileSync(path, 'utf8');
    }
  };
  walk(folder);
  return tree;
}

/** The files the generators edit after writing them (messaging edits what the app wrote), as a reviewer reads them. */
const EDITED_FILES = ['src/app.ts', 'docker-compose.yml', '.env.example'];

/**
 * What a variant's snapshot holds: its file list, the dependencies of its package.json and the files the
 * generators edit. Every other file is covered by the file-by-file assertions and the end-to-end runs.
 */
export function reviewedFiles(folder: string): Record<string, unknown> {
  const tree = readTree(folder);
  const pkg = JSON.parse(tree['package.json']!) as Record<string, unknown>;
  return {
    files: Object.keys(tree).sort(),
    'package.json': { dependencies: pkg.dependencies, devDependencies: pkg.devDependencies },
    ...Object.fromEntries(EDITED_FILES.map((file) => [file, tree[file]])),
  };
}

/** yeoman-test runs typed by the generator, so that options are checked against the generator's own. */
export const runApp = () => helpers.run<AppGenerator>(APP_GENERATOR);
export const runMessaging = () => helpers.run<MessagingGenerator>(MESSAGING_GENERATOR);
export const runEvent = () => helpers.run<EventGenerator>(EVENT_GENERATOR);

const keptFolders: string[] = [];
afterAll(() => {
  for (const folder of keptFolders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A folder yeoman-test does not clean between runs (for running generators twice), removed after the file's tests. */
export function keptFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'saasquatch-kept-'));
  keptFolders.push(folder);
  return folder;
}
