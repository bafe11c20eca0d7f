#!/usr/bin/env node
// Reads a V8 .cpuprofile (from `npm run bench -- --cpu-prof`) and prints where the time went:
// self time by area (the service's own dist/ files, each node_modules package, Node internals, GC, idle)
// and by function, and inclusive time of the service's own functions.
// Usage: node scripts/bench/profile-summary.mjs <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/bench/profile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((node) => [node.id, { ...node, self: 0 }]));
profile.samples.forEach((id, i) => {
  byId.get(id).self += profile.timeDeltas[i] ?? 0;
});
const parent = new Map();
for (const node of byId.values()) for (const child of node.children ?? []) parent.set(child, node.id);

function area(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  const own = /\/dist\/(.+)$/.exec(url);
  if (own) return `service:dist/${own[1]}`;
  if (url.startsWith('node:')) return 'node-internals';
  return url.replace(/^file:\/\//, '');
}
/** Where a function is: `nats/lib/nats-base-client/core.js`, `dist/plugins/nats-publisher.js`, `node:internal/…`. */
function place(url, name) {
  const inPackage = /node_modules\/(.+)$/.exec(url);
  if (inPackage) return inPackage[1];
  const own = /\/(dist\/.+)$/.exec(url);
  if (own) return own[1];
  return url ? url.replace(/^file:\/\//, '') : area(url, name);
}
const key = (node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${place(url, functionName)}:${lineNumber + 1}`;
};

const total = [...byId.values()].reduce((sum, node) => sum + node.self, 0);
const idle = [...byId.values()].filter((node) => node.callFrame.functionName === '(idle)').reduce((sum, node) => sum + node.self, 0);
const busy = total - idle;

const add = (map, k, v) => map.set(k, (map.get(k) ?? 0) + v);
const areas = new Map();
const functions = new Map();
for (const node of byId.values()) {
  if (node.callFrame.functionName === '(idle)') continue;
  add(areas, area(node.callFrame.url, node.callFrame.functionName), node.self);
  add(functions, key(node), node.self);
}

// Inclusive time of the service's own functions (dist/) and of the benchmark program's (its raw side):
// every sample counts once for each distinct such function on its stack.
const inclusive = new Map();
profile.samples.forEach((id, i) => {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    const url = node.callFrame.url;
    if (!url || /node_modules|^node:/.test(url) || !(/\/dist\//.test(url) || /saasquatch-bench\.cjs$/.test(url))) continue;
    const k = key(node);
    if (!seen.has(k)) {
      seen.add(k);
      add(inclusive, k, profile.timeDeltas[i] ?? 0);
    }
  }
});

const ms = (us) => (us / 1000).toFixed(1).padStart(9);
const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(v)} ms ${pct(v)}  ${k}`);
};
console.log(`${file}\nbusy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled (percentages are of busy time)`);
print('self time by area', areas);
print('self time by function', functions);
print("inclusive time of the service's own functions (dist/) and the benchmark's (saasquatch-bench.cjs)", inclusive);
