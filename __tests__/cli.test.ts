import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from './support/generators.js';

const folders: string[] = [];
const emptyFolder = () => {
  const folder = mkdtempSync(join(tmpdir(), 'saasquatch-cli-'));
  folders.push(folder);
  return folder;
};
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Runs the CLI as CI does: no terminal on stdin. */
function saasquatch(cwd: string, ...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('saasquatch CLI', () => {
  it('lists every option of the app generator in --help', () => {
    const { code, stdout } = saasquatch(emptyFolder(), 'app', '--help');
    expect(code).toBe(0);
    for (const option of ['--service-name <value>', '--database', '--message-queue', '--defaults', '--here', '--skip-install', '--force']) {
      expect(stdout).toContain(option);
    }
  });

  it('lists the generators in --help', () => {
    const { code, stdout } = saasquatch(emptyFolder(), '--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/app \[options\]/);
    expect(stdout).toMatch(/messaging \[options\]/);
    expect(stdout).toMatch(/event \[options\] \[name\]/);
  });

  it('lists the event generator\'s field option in event --help', () => {
    const { code, stdout } = saasquatch(emptyFolder(), 'event', '--help');
    expect(code).toBe(0);
    expect(stdout).toContain('--field <value...>');
    expect(stdout).toMatch(/types: string, integer, number, boolean, uuid, email,\s+date-time/);
  });

  it.each([
    ['no event type', ['event', '--field', 'total:number'], /^saasquatch: no terminal to ask for the event type: saasquatch event <type> --field/],
    ['no field', ['event', 'order.placed'], /^saasquatch: no terminal to ask for its fields: /],
    ['no service', ['event', 'order.placed', '--field', 'total:number'], /^saasquatch: No package\.json in /],
  ])('refuses event headless with %s: one line, exit code 1, no file', (_why, args, message) => {
    const folder = emptyFolder();
    const { code, stderr } = saasquatch(folder, ...args, '--skip-install');
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(message.source, 'm'));
    expect(readdirSync(folder)).toEqual([]);
  });

  it('generates a service headless, taking defaults for what no option gives', () => {
    const folder = emptyFolder();
    writeFileSync(join(folder, 'notes.md'), 'mine');
    const { code, stderr } = saasquatch(folder, '--service-name', 'orders-api', '--no-message-queue', '--skip-install');
    expect(code).toBe(0);
    // Yeoman's adapter logs to stderr, leaving stdout to the generated content.
    expect(stderr).toContain('Service orders-api is ready in orders-api');
    expect(readdirSync(join(folder, 'orders-api'))).toContain('package.json');
    expect(readdirSync(join(folder, 'orders-api', 'src', 'plugins'))).toContain('database.ts');
  });

  it.each([
    ['an invalid service name', ['--service-name', 'Orders_API'], /^saasquatch: Invalid service name: .*not kebab-case/],
    ['conflicting flags', ['--service-name', 'ok', '--database', '--no-database'], /^saasquatch: --database and --no-database conflict/],
  ])('refuses %s with one line, exit code 1, and no file', (_why, args, message) => {
    const folder = emptyFolder();
    const { code, stderr } = saasquatch(folder, ...args, '--skip-install');
    expect(code).toBe(1);
    expect(stderr.trim().split('\n').filter((line) => line.startsWith('saasquatch:'))).toHaveLength(1);
    expect(stderr).toMatch(new RegExp(message.source, 'm'));
    expect(readdirSync(folder)).toEqual([]);
  });

  it('refuses messaging outside a service with one line and no file', () => {
    const folder = emptyFolder();
    const { code, stderr } = saasquatch(folder, 'messaging', '--skip-install');
    expect(code).toBe(1);
    expect(stderr).toMatch(/^saasquatch: No package\.json in /m);
    expect(readdirSync(folder)).toEqual([]);
  });
});
