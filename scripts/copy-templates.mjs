// tsc compiles generators/, lib/ and cli/ to dist/ but copies no other file. Yeoman looks for a generator's
// templates beside its compiled index.js, and lib/dependency-versions.js reads its table beside it: copy both.
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const copy = (source, target) => {
  rmSync(target, { recursive: true, force: true });
  cpSync(source, target, { recursive: true });
};

for (const name of readdirSync('generators')) {
  const source = join('generators', name, 'templates');
  if (existsSync(source)) copy(source, join('dist', 'generators', name, 'templates'));
}
copy(join('lib', 'dependency-versions'), join('dist', 'lib', 'dependency-versions'));
