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

/** One node of a PrivateNatsCluster: a nats-server in a process group of its own, with its own store. */
class ClusterNode {
  readonly storeDir = mkdtempSync(join(tmpdir(), 'saasquatch-nats-cluster-'));
  #process: ChildProcess | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly routePort: number,
    readonly monitorPort: number,
    private readonly otherRoutes: readonly number[],
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#process !== undefined && this.#process.exitCode === null && this.#process.signalCode === null;
  }

  async start(): Promise<void> {
    const args = [
      ...['-a', '127.0.0.1', '-n', this.name, '-p', String(this.port), '-m', String(this.monitorPort)],
      ...['--cluster_name', 'c1', '--cluster', `nats://127.0.0.1:${this.routePort}`],
      ...['--routes', this.otherRoutes.map((port) => `nats://127.0.0.1:${port}`).join(',')],
      ...['-js', '-sd', this.storeDir],
    ];
    // detached: a process group of its own, so that killing the group leaves nothing behind.
    this.#process = spawn(NATS_SERVER, args, { stdio: 'ignore', detached: true });
    const deadline = Date.now() + 10_000;
    while (!(await answers(this.port))) {
      if (Date.now() > deadline) throw new Error(`nats-server ${this.name} did not answer on ${this.port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** `/healthz` is 200 once this node's JetStream is current with the cluster (meta leader, its streams and consumers). */
  async healthy(): Promise<boolean> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.monitorPort}/healthz`, { signal: AbortSignal.timeout(2_000) });
      return response.ok;
    } catch {
      return false;
    }
  }

  /** Kills the node's process group at once, as a crash would. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/**
 * Three nats-server processes with JetStream, clustered over routes (cluster `c1`, nodes n1..n3), on the
 * ports from `clientPortBase` and `routePortBase` on (monitoring on clientPortBase + 50 on), so that a test
 * can kill one node and start it again with its store.
 */
export class PrivateNatsCluster {
  readonly nodes: readonly ClusterNode[];

  private constructor(clientPortBase: number, routePortBase: number) {
    const routes = [0, 1, 2].map((index) => routePortBase + index);
    this.nodes = [0, 1, 2].map(
      (index) =>
        new ClusterNode(`n${index + 1}`, clientPortBase + index, routes[index]!, clientPortBase + 50 + index, routes.filter((_, other) => other !== index)),
    );
  }

  static async start(clientPortBase: number, routePortBase: number): Promise<PrivateNatsCluster> {
    const cluster = new PrivateNatsCluster(clientPortBase, routePortBase);
    try {
      await Promise.all(cluster.nodes.map((node) => node.start()));
      await cluster.untilHealthy(cluster.nodes);
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  /** All three servers, comma-separated, as NATS_URL takes them. */
  get url(): string {
    return this.nodes.map((node) => node.url).join(',');
  }

  node(name: string): ClusterNode {
    const found = this.nodes.find((node) => node.name === name);
    if (!found) throw new Error(`no node ${name} in the cluster (${this.nodes.map((node) => node.name).join(', ')})`);
    return found;
  }

  /** Waits until every node in `nodes` reports its JetStream current (a meta leader is elected, streams caught up). */
  async untilHealthy(nodes: readonly ClusterNode[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const health = await Promise.all(nodes.map((node) => node.healthy()));
      if (health.every(Boolean)) return;
      if (Date.now() > deadline) {
        const late = nodes.filter((_, index) => !health[index]).map((node) => node.name);
        throw new Error(`nats-server ${late.join(', ')} not healthy (JetStream current) within ${timeoutMs / 1000} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.dispose()));
  }
}
