/**
 * Reads sync.yaml from disk, validates it (parse.ts) and checks what only the disk can tell:
 * that the volumes exist, that the CA bundle is readable, that the state directory is usable.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fg from 'fast-glob';
import { userError } from '../errors.ts';
import type { Config } from '../model/config.ts';
import { parseConfig, type Diagnostic, type ParseOptions, type PathReference } from './parse.ts';

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
  const absolute = resolve(path);
  const text = await readConfigText(path, absolute);
  const parsed = parseConfig(text, path, env, dirname(absolute), options);
  const ioProblems = await checkReferences(parsed.references, path);
  const diagnostics = [...parsed.diagnostics, ...ioProblems].sort((a, b) => a.line - b.line || a.column - b.column);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || !parsed.config) {
    // The count names every line listed below it: problems, and warnings when there are any.
    const warningCount = diagnostics.length - errors.length;
    const counted = `${errors.length} problem${errors.length === 1 ? '' : 's'}${warningCount === 0 ? '' : `, ${warningCount} warning${warningCount === 1 ? '' : 's'}`}`;
    throw userError('E_CONFIG', `${path}: ${counted}`, {
      details: diagnostics.map(formatDiagnostic),
      hint: `fix the fields above, then run \`dualsync validate -c ${path}\``,
    });
  }
  return { config: { ...parsed.config, file: absolute }, warnings: diagnostics };
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
    const volume = volumes.find((v) => isInside(ref.path, v.directory));
    if (volume) {
      problem(ref, `the state directory is inside volume ${volume.directory}`, 'the ledger would be taken for staged data; keep stateDir outside every volume');
    }
  }
  return problems;
}

function isInside(path: string, directory: string): boolean {
  return path === directory || path.startsWith(directory.endsWith('/') ? directory : `${directory}/`);
}

/**
 * How a config file in `directory` should name schemas/sync.schema.json in its `$schema` comment:
 * relative inside this package (so a checkout can move), absolute anywhere else.
 */
export function schemaReferenceFrom(directory: string): string {
  const schema = fileURLToPath(new URL('../../schemas/sync.schema.json', import.meta.url));
  const packageRoot = dirname(dirname(schema));
  if (!isInside(resolve(directory), packageRoot)) return schema;
  const path = relative(directory, schema);
  return path.startsWith('.') ? path : `./${path}`;
}
