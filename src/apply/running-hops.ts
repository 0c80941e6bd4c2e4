/**
 * The s5cmd children of this process, apart from the runner that starts them (runner.ts, with
 * execa): the CLI's exit hook kills them, and installing that hook at start must not load the
 * runner for commands that never start one (`--version`, `--help`, validate).
 */
import type { RecordedChild } from './children.ts';

/**
 * The s5cmd processes running now, each with its record in the state directory (if any). They run
 * in process groups of their own (see HopRunner), so a signal to dualsync's group does not reach
 * them, and nothing kills them when dualsync dies: `killRunningHops` does, from the CLI's exit
 * hook; after a kill -9 of dualsync the next run does, from their records (children.ts).
 */
export const running = new Map<number, RecordedChild | undefined>();

/**
 * Kills every s5cmd still running, at once and synchronously (it may be called from an 'exit'
 * handler). What was in flight is redone by the next run.
 */
export function killRunningHops(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const [pid, record] of running) {
    try {
      process.kill(-pid, signal); // its whole group: s5cmd leads one of its own
    } catch {
      // already gone
    }
    // Only a SIGKILL is sure to end it before the record goes; after a gentler signal the record stays for the next run.
    if (signal === 'SIGKILL') record?.remove();
  }
  running.clear();
}
