/**
 * Reads sync.yaml from disk, validates it (parse.ts) and checks what only the disk can tell:
 * that the volumes exist, that the CA bundle is readable, that the state directory is usable.
 */
import { lookup } from 'node:dns/promises';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, matchesGlob, relative, resolve } from 'node:path';
import fg from 'fast-glob';
import { userError, type DualsyncError } from '../errors.ts';
import type { Config } from '../model/config.ts';
import { loopbackOr } from './place.ts';
import { packageFile } from '../sea.ts';
import type { EndpointAliasCheck, PathReference } from './meaning.ts';
import { parseConfig, type ParseOptions, type ParseResult } from './parse.ts';
import type { Diagnostic } from './positions.ts';

export interface LoadedConfig {
  config: Config;
  /** Problems that do not stop dualsync (inline secrets, TLS verification off...). */
  warnings: Diagnostic[];
}

/**
 * Loads and checks the config at `path`. Credentials whose variables are not set do not stop
 * it (see ParseOptions.deferCredentials; validate asks for them with `deferCredentials: false`). Throws a user error (E_CONFIG) listing every problem,
 * one `file:line:col  field: message (hint)` line each, so that one run shows them all.
 */
export async function loadConfig(path: string, env: Record<string, string | undefined> = process.env, options: ParseOptions = { deferCredentials: true }): Promise<LoadedConfig> {
  const examined = await examineConfig(path, env, options);
  const diagnostics = [...examined.parsed.diagnostics, ...examined.diskProblems].sort((a, b) => a.line - b.line || a.column - b.column);
  if (!examined.parsed.config || diagnostics.some((d) => d.severity === 'error')) throw configProblems(path, diagnostics);
  return { config: { ...examined.parsed.config, file: examined.absolute }, warnings: diagnostics };
}

export interface ExaminedConfig {
  /** The config file's absolute path. */
  absolute: string;
  /** The file's text. */
  text: string;
  /** What the text says: the config (when the text itself is right) and its diagnostics. */
  parsed: ParseResult;
  /** Problems only the disk (and DNS) shows: volumes, CA bundle, state directory, endpoint aliases. */
  diskProblems: Diagnostic[];
}

/**
 * The config at `path` with every problem as a diagnostic, without refusing it: loadConfig
 * throws on them, doctor and `volumes list` report the disk's among their own checks. Throws
 * only when the file cannot be read.
 */
export async function examineConfig(path: string, env: Record<string, string | undefined>, options: ParseOptions = { deferCredentials: true }): Promise<ExaminedConfig> {
  const absolute = resolve(path);
  const text = await readConfigText(path, absolute);
  const parsed = parseConfig(text, path, env, dirname(absolute), options);
  const diskProblems = [...(await checkReferences(parsed.references, path)), ...(await checkAliases(parsed.aliases, path))].sort((a, b) => a.line - b.line || a.column - b.column);
  return { absolute, text, parsed, diskProblems };
}

/** The user error (E_CONFIG) for a config with problems: a count, then one line per diagnostic. */
export function configProblems(path: string, diagnostics: Diagnostic[]): DualsyncError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  // The count names every line listed below it: problems, and warnings when there are any.
  const warningCount = diagnostics.length - errors.length;
  const counted = `${errors.length} problem${errors.length === 1 ? '' : 's'}${warningCount === 0 ? '' : `, ${warningCount} warning${warningCount === 1 ? '' : 's'}`}`;
  return userError('E_CONFIG', `${path}: ${counted}`, {
    details: diagnostics.map(formatDiagnostic),
    hint: `fix the fields above, then run \`dualsync validate -c ${path}\``,
  });
}

/** One line per diagnostic: `file:line:col  field: message (hint)`; warnings say so. */
export function formatDiagnostic(d: Diagnostic): string {
  const severity = d.severity === 'warning' ? 'warning: ' : '';
  return `${d.file}:${d.line}:${d.column}  ${severity}${d.path}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`;
}

/**
 * The staging directories that `entries` (directories or globs, as in Config.staging.volumes)
 * name today: absolute, sorted, without duplicates. An entry that matches nothing adds nothing.
 */
export async function expandVolumes(entries: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const entry of entries) {
    for (const directory of (await expandVolumeEntry(entry)).directories) found.add(directory);
  }
  return [...found].sort();
}

async function readConfigText(path: string, absolute: string): Promise<string> {
  try {
    return await readFile(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw userError('E_CONFIG_MISSING', `config file ${path} does not exist`, {
        hint: 'run `dualsync init` to write a starter sync.yaml, or point -c/--config (or DUALSYNC_CONFIG) at your file',
      });
    }
    if (code === 'EISDIR') throw userError('E_CONFIG_MISSING', `config file ${path} is a directory`, { hint: 'pass the path of the YAML file itself' });
    throw userError('E_CONFIG_UNREADABLE', `cannot read config file ${path}: ${code ?? String(error)}`, { hint: 'check the file permissions' });
  }
}

/** A directory that exists as written, else the directories a glob matches. */
async function expandVolumeEntry(entry: string): Promise<{ directories: string[]; isFile: boolean }> {
  const absolute = resolve(entry);
  const literal = await stat(absolute).catch(() => undefined);
  if (literal?.isDirectory()) return { directories: [absolute], isFile: false };
  if (literal || !fg.isDynamicPattern(absolute)) return { directories: [], isFile: literal?.isFile() ?? false };
  const matches = await fg(absolute, { onlyDirectories: true, absolute: true, unique: true, suppressErrors: true });
  return { directories: matches.map((match) => resolve(match)), isFile: false };
}

async function checkReferences(references: PathReference[], file: string): Promise<Diagnostic[]> {
  const problems: Diagnostic[] = [];
  const problem = (ref: PathReference, message: string, hint: string): void => {
    problems.push({ severity: 'error', file, line: ref.line, column: ref.column, path: ref.field, message, hint });
  };
  const volumes: { ref: PathReference; directory: string }[] = [];

  for (const ref of references.filter((r) => r.kind === 'volume')) {
    const { directories, isFile } = await expandVolumeEntry(ref.path);
    if (isFile) problem(ref, `${ref.written} is a file, not a directory`, 'a volume is a directory (a mount point) that dualsync stages objects in');
    else if (directories.length === 0) {
      problem(ref, `${ref.written} matches no directory`, 'create or mount the directory, or fix the path or glob; `dualsync volumes provision` prepares volumes');
    }
    for (const directory of directories) volumes.push({ ref, directory });
  }
  const reported = new Set<string>();
  for (const { ref, directory } of volumes) {
    const outer = volumes.find((other) => other.directory !== directory && isInside(directory, other.directory));
    if (outer && !reported.has(ref.field)) {
      reported.add(ref.field);
      problem(ref, `volume ${directory} is inside volume ${outer.directory}`, 'staged files of one volume would be seen as files of the other; list volumes that do not contain each other');
    }
  }

  for (const ref of references.filter((r) => r.kind === 'caBundle')) {
    const info = await stat(ref.path).catch(() => undefined);
    const text = info?.isFile() ? await readFile(ref.path, 'utf8').catch(() => undefined) : undefined;
    if (text === undefined) {
      problem(ref, `CA bundle ${ref.written} is not a readable file`, 'for a Snowball Edge, save `snowballEdge get-certificate` output there');
    } else if (!text.includes('-----BEGIN CERTIFICATE-----')) {
      problem(ref, `CA bundle ${ref.written} holds no PEM certificate`, 'expected a file with -----BEGIN CERTIFICATE----- blocks');
    }
  }

  for (const ref of references.filter((r) => r.kind === 'stateDir')) {
    const info = await stat(ref.path).catch(() => undefined);
    if (info && !info.isDirectory()) problem(ref, `${ref.written} exists and is not a directory`, 'point stateDir at a directory (it is created when missing)');
    for (const message of await stateDirOverlaps(ref, volumes, references.filter((r) => r.kind === 'volume'))) {
      problem(message.at ?? ref, message.text, message.hint);
    }
  }
  return problems;
}

/** How long a DNS answer may take before the alias check gives up on a name (an offline site). */
const LOOKUP_TIMEOUT_MS = 3000;

/**
 * Two host names on one port that resolve to a shared address are one server: the same-place
 * refusal parse.ts could not decide from the text. A name that does not resolve (in time) proves
 * nothing, so it is not refused here; the planner still never plans the destination's own output.
 */
export async function checkAliases(
  aliases: EndpointAliasCheck[],
  file: string,
  resolveHost: (host: string) => Promise<string[] | undefined> = addressesOf,
): Promise<Diagnostic[]> {
  const problems: Diagnostic[] = [];
  for (const alias of aliases) {
    const [first, second] = await Promise.all(alias.hosts.map(resolveHost));
    if (first === undefined || second === undefined || !first.some((address) => second.includes(address))) continue;
    problems.push({ severity: 'error', file, line: alias.line, column: alias.column, path: alias.field, message: alias.message, hint: alias.hint });
  }
  return problems;
}

/** The addresses a host name resolves to, loopback ones as 'loopback'; undefined when DNS does not answer. */
async function addressesOf(host: string): Promise<string[] | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), LOOKUP_TIMEOUT_MS);
    timer.unref();
  });
  try {
    const answers = await Promise.race([lookup(host, { all: true }), timeout]);
    return answers?.map((answer) => loopbackOr(answer.address));
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Where the state directory and the volumes overlap. Compared by real path: a state directory
 * reached through a symbolic link into a volume is inside that volume, whatever its name says,
 * and `reset` would take the ledger for staged data. A glob that would match the state directory
 * (or a folder above it) once it exists is refused too: the first apply creates the state
 * directory, and from then on it would be a staging volume.
 */
async function stateDirOverlaps(
  stateRef: PathReference,
  volumes: { ref: PathReference; directory: string }[],
  volumeRefs: PathReference[],
): Promise<{ at?: PathReference; text: string; hint: string }[]> {
  const found: { at?: PathReference; text: string; hint: string }[] = [];
  const realState = await realPathOf(stateRef.path);
  const really = realState === stateRef.path ? '' : ` (really ${realState})`;
  for (const { ref, directory } of volumes) {
    const realVolume = await realPathOf(directory);
    if (isInside(realState, realVolume)) {
      found.push({
        text: `the state directory${really} is inside volume ${directory}${realVolume === directory ? '' : ` (really ${realVolume})`}, which ${ref.field} "${ref.written}" names`,
        hint: 'the ledger would be taken for staged data; keep stateDir outside every volume',
      });
      return found;
    }
    if (isInside(realVolume, realState)) {
      found.push({
        at: ref,
        text: `volume ${directory} is inside the state directory ${realState} (stateDir)`,
        hint: 'the state directory holds the ledger and its backups; keep staging.volumes outside it',
      });
    }
  }
  for (const ref of volumeRefs) {
    if (!fg.isDynamicPattern(ref.path)) continue;
    const matched = [...ancestorsOf(stateRef.path), ...ancestorsOf(realState)].find((candidate) => matchesGlob(candidate, ref.path));
    if (matched !== undefined) {
      found.push({
        text: `the state directory ${stateRef.written} would become a staging volume: ${ref.field} "${ref.written}" matches ${matched} once it exists`,
        hint: 'move stateDir out of the volumes (for example beside the config file), or narrow the glob in staging.volumes',
      });
      break;
    }
  }
  return found;
}

/** The real path of `path`; for a path that does not exist yet, the real path of its deepest existing folder plus the rest. */
async function realPathOf(path: string): Promise<string> {
  const missing: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(await realpath(current), ...missing.reverse());
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(current) === current) return path;
      missing.push(basename(current));
      current = dirname(current);
    }
  }
}

/** `path` and every folder above it, up to (not including) `/`. */
function ancestorsOf(path: string): string[] {
  const found: string[] = [];
  for (let current = path; dirname(current) !== current; current = dirname(current)) found.push(current);
  return found;
}

function isInside(path: string, directory: string): boolean {
  return path === directory || path.startsWith(directory.endsWith('/') ? directory : `${directory}/`);
}

/**
 * How a config file in `directory` should name schemas/sync.schema.json in its `$schema` comment:
 * relative inside this package (so a checkout can move), absolute anywhere else.
 */
export function schemaReferenceFrom(directory: string): string {
  // In the release executable the schema ships beside it, in the archive's schemas/ folder.
  const schema = packageFile('schemas/sync.schema.json', new URL('../../schemas/sync.schema.json', import.meta.url));
  const packageRoot = dirname(dirname(schema));
  if (!isInside(resolve(directory), packageRoot)) return schema;
  const path = relative(directory, schema);
  return path.startsWith('.') ? path : `./${path}`;
}
