/**
 * Loading the config for commands whose job is to find what is wrong on disk (doctor,
 * volumes list). loadConfig refuses a config whose volumes, CA bundle or state directory are
 * missing; these commands must still run then and name each problem among their findings.
 */
import type { Config } from '../model/config.ts';
import { configProblems, examineConfig } from '../config/load.ts';
import type { Diagnostic } from '../config/parse.ts';

export interface CheckedConfig {
  config: Config;
  /** Warnings loadConfig would print (inline secrets, TLS verification off...). */
  warnings: Diagnostic[];
  /**
   * Problems only the disk shows (a volume that matches nothing, an unreadable CA bundle...),
   * in file order; `formatDiagnostic` words each as loadConfig lists it.
   */
  diskProblems: Diagnostic[];
  /** The config file's text, to tell where credentials come from. */
  text: string;
}

/**
 * The config at `path`. Mistakes in the file itself throw as loadConfig throws them; problems
 * on disk are returned in `diskProblems` instead, for the caller to report beside its other checks.
 */
export async function loadConfigForChecks(path: string, env: Record<string, string | undefined>): Promise<CheckedConfig> {
  const { absolute, text, parsed, diskProblems } = await examineConfig(path, env);
  // The file itself is wrong: the error lists every problem with its line, as loadConfig's does.
  if (!parsed.config || parsed.diagnostics.some((d) => d.severity === 'error')) {
    throw configProblems(path, [...parsed.diagnostics, ...diskProblems].sort((a, b) => a.line - b.line || a.column - b.column));
  }
  return { config: { ...parsed.config, file: absolute }, warnings: parsed.diagnostics.filter((d) => d.severity === 'warning'), diskProblems, text };
}
