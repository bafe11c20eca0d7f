// `yo saasquatch` with the real `yo` binary (yo 6), as a non-root user (yo refuses root), against the package
// linked into that user's npm prefix with `npm link`, as a user who develops the generator would have it.
//
// yo's yeoman-environment finds generators in the `node_modules` folders above the current folder and in the
// global ones, among them `npm root -g` (= <npm prefix>/lib/node_modules): the test points npm's prefix at a
// folder of the user's own (npm_config_prefix) and links the package there.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, assertSucceeded, run, serviceEnv, tempFolder, type RunResult } from '../support/e2e.js';

const USER = 'saasquatch-e2e';

interface Account {
  name: string;
  uid: number;
  gid: number;
}

/** The non-root user yo runs as: the current one, or (as root) `saasquatch-e2e`, created when missing. */
function nonRootAccount(): Account {
  if (process.getuid!() !== 0) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid };
  }
  if (spawnSync('id', ['-u', USER]).status !== 0) {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', USER], { stdio: 'inherit' });
  }
  const id = (flag: string) => Number(execFileSync('id', [flag, USER], { encoding: 'utf8' }).trim());
  return { name: USER, uid: id('-u'), gid: id('-g') };
}

function chownTree(path: string, account: Account): void {
  if (process.getuid!() !== 0) return;
  chownSync(path, account.uid, account.gid);
  if (lstatSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), account);
}

describe('yo saasquatch (the real yo, as a non-root user)', () => {
  let account: Account;
  let root: string;
  let prefix: string;
  let yo: string;

  /** Runs a command as the non-root user, with HOME, npm's prefix and cache in the test's folder. */
  const asUser = (command: string, args: readonly string[], cwd: string): Promise<RunResult> =>
    run(command, args, {
      cwd,
      ...(process.getuid!() === 0 ? { uid: account.uid, gid: account.gid } : {}),
      env: serviceEnv({
        HOME: join(root, 'home'),
        USER: account.name,
        LOGNAME: account.name,
        npm_config_prefix: prefix,
        npm_config_cache: join(root, 'npm-cache'),
        npm_config_update_notifier: 'false',
        NO_UPDATE_NOTIFIER: '1',
      }),
    });

  const folderOfUser = (name: string): string => {
    const folder = join(root, name);
    mkdirSync(folder, { recursive: true });
    chownTree(folder, account);
    return folder;
  };

  beforeAll(async () => {
    account = nonRootAccount();
    root = tempFolder('saasquatch-yo-');
    prefix = join(root, 'npm-prefix');

    // The package as npm publishes it (package.json, dist/), with the repository's installed dependencies
    // (yo among them) copied beside it: the repository may sit in a folder the user cannot read.
    const packed = assertSucceeded(
      'npm pack',
      await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', root], { cwd: REPO_ROOT }),
    );
    const tarball = join(root, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
    assertSucceeded('tar', await run('tar', ['-xzf', tarball, '-C', root], { cwd: root }));
    const packageDir = join(root, 'package');
    assertSucceeded('cp node_modules', await run('cp', ['-a', join(REPO_ROOT, 'node_modules'), packageDir], { cwd: root }));
    yo = join(packageDir, 'node_modules', 'yo', 'lib', 'cli.js');
    for (const folder of ['home', 'npm-prefix', 'npm-cache']) mkdirSync(join(root, folder));
    if (process.getuid!() === 0) {
      assertSucceeded('chown', await run('chown', ['-R', `${account.uid}:${account.gid}`, root], { cwd: root }));
    }

    // `npm link` as that user: <prefix>/lib/node_modules/generator-saasquatch → the package.
    assertSucceeded(
      'npm link',
      await asUser('npm', ['link', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], packageDir),
    );
    expect(lstatSync(join(prefix, 'lib', 'node_modules', 'generator-saasquatch')).isSymbolicLink()).toBe(true);
  }, 300_000);

  it('lists saasquatch and its messaging sub-generator in yo --generators, and nothing that is not a generator', async () => {
    const result = assertSucceeded('yo --generators', await asUser(process.execPath, [yo, '--generators'], folderOfUser('list')));
    const listed = result.stdout.slice(result.stdout.indexOf('Available Generators:'));
    const ours = listed.slice(listed.search(/^ {2}saasquatch\s*$/m)).split('\n').slice(1);
    const end = ours.findIndex((line) => !/^ {4}\S/.test(line));
    const subGenerators = (end === -1 ? ours : ours.slice(0, end)).map((line) => line.trim());
    expect(subGenerators.sort()).toEqual(['event', 'messaging']);
  }, 120_000);

  it.each([
    ['saasquatch', 'A new Fastify 5 + TypeScript service', '--service-name'],
    ['saasquatch:messaging', 'Adds the NATS JetStream event system', '--service-name'],
    ['saasquatch:event', 'Adds a typed event', '--field'],
  ])('shows the description of %s in its --help', async (namespace, description, option) => {
    const result = assertSucceeded(`yo ${namespace} --help`, await asUser(process.execPath, [yo, namespace, '--help'], folderOfUser('help')));
    expect(`${result.stdout}${result.stderr}`).toContain(description);
    expect(`${result.stdout}${result.stderr}`).toContain(option);
  }, 120_000);

  it('generates a service with yo saasquatch, headless, owned by the user', async () => {
    const folder = folderOfUser('yo-check');
    const result = assertSucceeded(
      'yo saasquatch',
      await asUser(
        process.execPath,
        [yo, 'saasquatch', '--service-name', 'yo-check', '--no-database', '--no-message-queue', '--skip-install'],
        folder,
      ),
    );
    expect(`${result.stdout}${result.stderr}`).toContain('Service yo-check is ready');
    for (const file of ['package.json', '.yo-rc.json', 'tsconfig.json', 'src/app.ts', 'src/server.ts', 'src/routes/health.ts', 'test/app.test.ts']) {
      expect(existsSync(join(folder, file)), file).toBe(true);
      expect(statSync(join(folder, file)).uid, `${file} belongs to ${account.name}`).toBe(account.uid);
    }
    expect(existsSync(join(folder, 'src/plugins/database.ts'))).toBe(false);
    expect(JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')).name).toBe('yo-check');
    expect(JSON.parse(readFileSync(join(folder, '.yo-rc.json'), 'utf8'))['generator-saasquatch']).toEqual({
      serviceName: 'yo-check',
      database: false,
      messageQueue: false,
    });
  }, 120_000);

  it('adds the event system with yo saasquatch:messaging to a service made without it', async () => {
    const folder = folderOfUser('yo-later');
    const yoSaasquatch = (args: string[]) => asUser(process.execPath, [yo, ...args, '--skip-install'], folder);
    assertSucceeded('yo saasquatch', await yoSaasquatch(['saasquatch', '--service-name', 'yo-later', '--database', '--no-message-queue']));
    const result = assertSucceeded('yo saasquatch:messaging', await yoSaasquatch(['saasquatch:messaging']));

    expect(`${result.stdout}${result.stderr}`).not.toMatch(/Overwrite|conflict/i);
    for (const file of ['src/plugins/nats-publisher.ts', 'src/plugins/nats-subscriber.ts', 'src/services/tenant.service.ts', 'docs/EVENTS.md']) {
      expect(existsSync(join(folder, file)), file).toBe(true);
    }
    expect(readFileSync(join(folder, 'src/app.ts'), 'utf8')).toMatch(/register\(natsPublisher\);\n\s*await app\.register\(outbox\);\n\s*await app\.register\(natsSubscriber\);/);
    expect(JSON.parse(readFileSync(join(folder, '.yo-rc.json'), 'utf8'))['generator-saasquatch']).toEqual({
      serviceName: 'yo-later',
      database: true,
      messageQueue: true,
    });
  }, 120_000);

  it('finds saasquatch:messaging by namespace, which refuses a folder without package.json', async () => {
    const folder = folderOfUser('not-a-service');
    const result = await asUser(process.execPath, [yo, 'saasquatch:messaging', '--skip-install'], folder);
    expect(result.code, `${result.stdout}${result.stderr}`).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/No package\.json in /);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/don't seem to have a generator/);
    expect(readdirSync(folder)).toEqual([]);
  }, 120_000);
});
