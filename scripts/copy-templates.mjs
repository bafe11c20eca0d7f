// tsc compiles each generator to dist/generators/<name>/index.js; Yeoman looks for its
// templates beside it, so the build copies every generators/<name>/templates folder there.
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

for (const name of readdirSync('generators')) {
  const source = join('generators', name, 'templates');
  if (!existsSync(source)) continue;
  const target = join('dist', 'generators', name, 'templates');
  rmSync(target, { recursive: true, force: true });
  cpSync(source, target, { recursive: true });
}
