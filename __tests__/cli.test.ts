import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Runs the CLI as CI does: no terminal on stdin. Asynchronously, so that the test worker stays responsive to
 * vitest while the CLI runs (a blocked worker misses vitest's calls and fails the run).
 */
function saasquatch(cwd: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

describe('saasquatch CLI', () => {
  it('lists every option of the app generator in --help', async () => {
    const { code, stdout } = await saasquatch(emptyFolder(), 'app', '--help');
    expect(code).toBe(0);
    for (const option of ['--service-name <value>', '--database', '--message-queue', '--defaults', '--here', '--skip-install', '--force']) {
      expect(stdout).toContain(option);
    }
  });

  it('lists each command with its description and its options in --help', async () => {
    const { code, stdout } = await saasquatch(emptyFolder(), '--help');
    expect(code).toBe(0);
    const overview = stdout.slice(stdout.indexOf('Commands and their options:'));
    const [app, rest] = overview.split(/^ {2}messaging /m);
    const [messaging, event] = rest!.split(/^ {2}event /m);
    expect(app).toMatch(/^ {2}app \(default\) +A new Fastify 5 \+ TypeScript service/m);
    for (const option of ['--service-name <value>', '--database', '--message-queue', '--defaults', '--here', '--skip-install', '--force']) {
      expect(app).toMatch(new RegExp(`^ {4}${option.replace(/[+<>]/g, '\\$&')} +\\S`, 'm'));
    }
    expect(messaging).toMatch(/^ +Adds the NATS JetStream event system/);
    for (const option of ['--service-name <value>', '--database', '--skip-install', '--force']) expect(messaging).toContain(`    ${option}`);
    expect(messaging).not.toContain('--message-queue');
    expect(event).toMatch(/^ +Adds a typed event/);
    expect(event).toContain('    --field');
  });

  it('lists the event generator\'s field option in event --help', async () => {
    const { code, stdout } = await saasquatch(emptyFolder(), 'event', '--help');
    expect(code).toBe(0);
    expect(stdout).toContain('--field <value...>');
    expect(stdout).toMatch(/types: string, integer, number, boolean, uuid, email,\s+date-time/);
  });

  it.each([
    ['no event type', ['event', '--field', 'total:number'], /^saasquatch: no terminal to ask for the event type: saasquatch event <type> --field/],
    ['no field', ['event', 'order.placed'], /^saasquatch: no terminal to ask for its fields: /],
    ['no service', ['event', 'order.placed', '--field', 'total:number'], /^saasquatch: No package\.json in /],
  ])('refuses event headless with %s: one line, exit code 1, no file', async (_why, args, message) => {
    const folder = emptyFolder();
    const { code, stderr } = await saasquatch(folder, ...args, '--skip-install');
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(message.source, 'm'));
    expect(readdirSync(folder)).toEqual([]);
  });

  it('generates a service headless, taking defaults for what no option gives', async () => {
    const folder = emptyFolder();
    writeFileSync(join(folder, 'notes.md'), 'mine');
    const { code, stderr } = await saasquatch(folder, '--service-name', 'orders-api', '--no-message-queue', '--skip-install');
    expect(code).toBe(0);
    // Yeoman's adapter logs to stderr, leaving stdout to the generated content.
    expect(stderr).toContain('Service orders-api is ready in orders-api');
    expect(readdirSync(join(folder, 'orders-api'))).toContain('package.json');
    expect(readdirSync(join(folder, 'orders-api', 'src', 'plugins'))).toContain('database.ts');
  });

  it.each([
    ['an invalid service name', ['--service-name', 'Orders_API'], /^saasquatch: Invalid service name: .*not kebab-case/],
    ['conflicting flags', ['--service-name', 'ok', '--database', '--no-database'], /^saasquatch: --database and --no-database conflict/],
  ])('refuses %s with one line, exit code 1, and no file', async (_why, args, message) => {
    const folder = emptyFolder();
    const { code, stderr } = await saasquatch(folder, ...args, '--skip-install');
    expect(code).toBe(1);
    expect(stderr.trim().split('\n').filter((line) => line.startsWith('saasquatch:'))).toHaveLength(1);
    expect(stderr).toMatch(new RegExp(message.source, 'm'));
    expect(readdirSync(folder)).toEqual([]);
  });

  describe('run again over a file the user changed, headless', () => {
    const changedService = async () => {
      const folder = emptyFolder();
      expect((await saasquatch(folder, '--service-name', 'ledger', '--no-database', '--skip-install')).code).toBe(0);
      writeFileSync(join(folder, 'src/app.ts'), `${readFileSync(join(folder, 'src/app.ts'), 'utf8')}// mine\n`);
      return folder;
    };

    it('stops with one line naming the file and the ways out, exit code 1, keeping the change', async () => {
      const folder = await changedService();
      const { code, stderr } = await saasquatch(folder, '--skip-install');
      expect(code).toBe(1);
      const errors = stderr.split('\n').filter((line) => line.startsWith('saasquatch:'));
      expect(errors).toEqual([expect.stringMatching(/^saasquatch: src\/app\.ts has changed .*--force.*\.yo-resolve/)]);
      expect(stderr).not.toContain('force closed');
      expect(readFileSync(join(folder, 'src/app.ts'), 'utf8')).toMatch(/\/\/ mine\n$/);
    });

    it('keeps the change with .yo-resolve, and overwrites it with --force', async () => {
      const folder = await changedService();
      writeFileSync(join(folder, '.yo-resolve'), 'src/app.ts skip\n');
      expect((await saasquatch(folder, '--skip-install')).code).toBe(0);
      expect(readFileSync(join(folder, 'src/app.ts'), 'utf8')).toMatch(/\/\/ mine\n$/);
      rmSync(join(folder, '.yo-resolve'));
      expect((await saasquatch(folder, '--skip-install', '--force')).code).toBe(0);
      expect(readFileSync(join(folder, 'src/app.ts'), 'utf8')).not.toContain('// mine');
    });
  });

  it('refuses messaging outside a service with one line and no file', async () => {
    const folder = emptyFolder();
    const { code, stderr } = await saasquatch(folder, 'messaging', '--skip-install');
    expect(code).toBe(1);
    expect(stderr).toMatch(/^saasquatch: No package\.json in /m);
    expect(readdirSync(folder)).toEqual([]);
  });
});
