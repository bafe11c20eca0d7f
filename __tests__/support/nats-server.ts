import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './e2e.js';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('INFO'));
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A NATS server with JetStream of the test's own, on a free port, that the test may stop and start
 * again (same port, same store), to see what a service does while NATS restarts.
 */
export class PrivateNatsServer {
  readonly storeDir = mkdtempSync(join(tmpdir(), 'saasquatch-nats-'));
  #process: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  /** On `port` when given (tests that must stay in a port range of their own), else on a free one. */
  static async start(port?: number): Promise<PrivateNatsServer> {
    const server = new PrivateNatsServer(port ?? (await freePort()));
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.#process = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    while (!(await answers(this.port))) {
      if (Date.now() > deadline) throw new Error(`nats-server did not answer on ${this.port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Kills the server at once, as a crash would. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
