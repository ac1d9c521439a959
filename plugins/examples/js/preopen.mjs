// Works around jco 1.35 / preview2-shim 0.26: the WASI shim jco runs its own tools on starts with no
// preopened directories, so `jco componentize` fails with "failed to get path metadata … (os error
// 44)". Loaded with `node --import ./preopen.mjs`, this opens `/` in every copy of the shim under
// node_modules before jco starts. Remove it once jco ships a shim that preopens the working directory.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

function* shimCopies(dir) {
  const shim = join(dir, 'node_modules/@bytecodealliance/preview2-shim/dist/nodejs/filesystem.js');
  if (existsSync(shim)) yield shim;
  const scope = join(dir, 'node_modules/@bytecodealliance');
  if (!existsSync(scope)) return;
  for (const entry of readdirSync(scope)) yield* shimCopies(join(scope, entry));
}

for (const shim of shimCopies(process.cwd())) {
  const filesystem = await import(pathToFileURL(shim).href);
  filesystem._setPreopens({ '/': '/' });
}
