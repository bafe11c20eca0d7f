import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './e2e.js';

const BIN = process.env.POSTGRES_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const IS_ROOT = userInfo().uid === 0;

/** PostgreSQL refuses to run as root: as root, commands run as the `postgres` user. */
function asOwner(command: string, args: readonly string[]): Promise<void> {
  const [file, argv] = IS_ROOT ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`))));
  });
}

/**
 * A PostgreSQL cluster of the test's own (initdb in a temporary folder, trust authentication, database
 * `test`) on a free port, that the test may stop and start again to see what a service does meanwhile.
 * The shared PostgreSQL on 5432 is never touched.
 */
export class PrivatePostgresServer {
  readonly folder = mkdtempSync(join(tmpdir(), 'saasquatch-pg-'));
  private readonly dataDir = join(this.folder, 'data');

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivatePostgresServer> {
    const server = new PrivatePostgresServer(await freePort());
    if (IS_ROOT) {
      chmodSync(server.folder, 0o755);
      chownSync(server.folder, Number(await idOf('postgres', 'u')), Number(await idOf('postgres', 'g')));
    }
    await asOwner(join(BIN, 'initdb'), ['-D', server.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await server.start();
    await asOwner(join(BIN, 'createdb'), ['-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres', 'test']);
    return server;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/test`;
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.folder} -c listen_addresses=127.0.0.1 -c fsync=off`;
    await asOwner(join(BIN, 'pg_ctl'), ['-D', this.dataDir, '-o', options, '-l', join(this.folder, 'log'), '-w', 'start']);
  }

  /** A fast shutdown: connections are terminated, as when an operator or a failover stops the server. */
  async stop(): Promise<void> {
    await asOwner(join(BIN, 'pg_ctl'), ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  async dispose(): Promise<void> {
    await asOwner(join(BIN, 'pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(this.folder, { recursive: true, force: true });
  }
}

function idOf(user: string, kind: 'u' | 'g'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('id', [`-${kind}`, user], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(output.trim()) : reject(new Error(`no user ${user}`))));
  });
}
