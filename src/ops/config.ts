/**
 * Loading the config for commands whose job is to find what is wrong on disk (doctor,
 * volumes list). loadConfig refuses a config whose volumes, CA bundle or state directory are
 * missing; these commands must still run then and name each problem among their findings.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isDualsyncError } from '../errors.ts';
import type { Config } from '../model/config.ts';
import { formatDiagnostic, loadConfig } from '../config/load.ts';
import { parseConfig, type Diagnostic } from '../config/parse.ts';

export interface CheckedConfig {
  config: Config;
  /** Warnings loadConfig would print (inline secrets, TLS verification off...). */
  warnings: Diagnostic[];
  /**
   * Problems only the disk shows (a volume that matches nothing, an unreadable CA bundle...), one
   * `file:line:col  field: message (hint)` line each, as loadConfig words them.
   */
  diskProblems: string[];
  /** The config file's text, to tell where credentials come from. */
  text: string;
}

/**
 * The config at `path`. Mistakes in the file itself throw as loadConfig throws them; problems
 * on disk are returned in `diskProblems` instead, for the caller to report beside its other checks.
 */
export async function loadConfigForChecks(path: string, env: Record<string, string | undefined>): Promise<CheckedConfig> {
  try {
    const { config, warnings } = await loadConfig(path, env);
    const text = await readFile(config.file, 'utf8');
    return { config, warnings: warnings.filter((w) => w.severity === 'warning'), diskProblems: [], text };
  } catch (error) {
    if (!isDualsyncError(error) || error.code !== 'E_CONFIG') throw error;
    const absolute = resolve(path);
    const text = await readFile(absolute, 'utf8').catch(() => undefined);
    if (text === undefined) throw error;
    const parsed = parseConfig(text, path, env, dirname(absolute), { deferCredentials: true });
    // The file itself is wrong: loadConfig's message lists every problem with its line.
    if (!parsed.config || parsed.diagnostics.some((d) => d.severity === 'error')) throw error;
    const fromParse = new Set(parsed.diagnostics.map(formatDiagnostic));
    const diskProblems = error.details.filter((line) => !fromParse.has(line));
    return { config: { ...parsed.config, file: absolute }, warnings: parsed.diagnostics.filter((d) => d.severity === 'warning'), diskProblems, text };
  }
}
