// Three local nats-server processes with JetStream, clustered over routes, for `npm run bench -- --cluster`.
// Each runs in a process group of its own and is killed with it; their stores live in one temporary folder.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? 'nats-server';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function healthy(monitorPort) {
  try {
    return (await fetch(`http://127.0.0.1:${monitorPort}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

/** Starts the cluster and resolves once every node's JetStream is current; `stop()` kills it and removes the stores. */
export async function startNatsCluster() {
  const store = mkdtempSync(join(tmpdir(), 'saasquatch-bench-cluster-'));
  const nodes = [];
  for (let index = 1; index <= 3; index++) nodes.push({ name: `n${index}`, port: await freePort(), route: await freePort(), monitor: await freePort() });
  const children = nodes.map((node) => {
    const routes = nodes.filter((other) => other !== node).map((other) => `nats://127.0.0.1:${other.route}`);
    mkdirSync(join(store, node.name));
    const child = spawn(
      NATS_SERVER,
      ['-a', '127.0.0.1', '-n', node.name, '-p', String(node.port), '-m', String(node.monitor), '--cluster_name', 'bench',
        '--cluster', `nats://127.0.0.1:${node.route}`, '--routes', routes.join(','), '-js', '-sd', join(store, node.name)],
      { stdio: 'ignore', detached: true },
    );
    child.once('error', () => undefined);
    return child;
  });
  const stop = async () => {
    await Promise.all(
      children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return undefined;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          return undefined;
        }
        return exited;
      }),
    );
    rmSync(store, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (!(await Promise.all(nodes.map((node) => healthy(node.monitor)))).every(Boolean)) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error('the 3-node NATS cluster did not become healthy within 30 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url: nodes.map((node) => `nats://127.0.0.1:${node.port}`).join(','), stop };
}
