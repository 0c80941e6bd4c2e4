import type { BaseContext } from 'clipanion';
import { loadConfig, formatDiagnostic } from '../config/load.ts';
import type { EngineDeps } from '../engine.ts';
import type { Config } from '../model/index.ts';
import { Progress } from '../view/progress.ts';

/** Loads the config a command was pointed at, printing its warnings to stderr. */
export async function loadConfigFor(context: BaseContext, path: string): Promise<Config> {
  const { config, warnings } = await loadConfig(path, context.env);
  for (const warning of warnings) context.stderr.write(`${formatDiagnostic(warning)}\n`);
  return config;
}

/** True when the stream is an interactive terminal. */
export function isTty(stream: NodeJS.WritableStream | NodeJS.ReadableStream): boolean {
  return Boolean((stream as { isTTY?: boolean }).isTTY);
}

/** The engine's dependencies for a command: real clock, the command's environment and streams. */
export function engineDeps(context: BaseContext, options: { progress?: boolean; signal?: AbortSignal } = {}): EngineDeps & { progressView?: Progress } {
  const progressView = options.progress
    ? new Progress({ write: (text) => context.stderr.write(text), tty: isTty(context.stderr), nowMs: () => performance.now() })
    : undefined;
  return {
    now: () => new Date(),
    env: context.env,
    warn: (message) => context.stderr.write(`Warning: ${message}\n`),
    progress: progressView,
    progressView,
    signal: options.signal,
  };
}
