/**
 * `STATEDIR/last-run.json`: what the last apply did, for `status`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApplyOutcome } from '../model/apply.ts';
import { writeFileAtomically } from '../files/atomic.ts';

/** Where the last run is recorded. */
function lastRunPath(stateDir: string): string {
  return join(stateDir, 'last-run.json');
}

/** Records the last run's times and outcome, whole or not at all. */
export function writeLastRun(stateDir: string, report: { startedAt: string; finishedAt: string; outcome: ApplyOutcome }): void {
  const outcome = report.outcome;
  const summary = {
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    downloaded: outcome.downloaded,
    uploaded: outcome.uploaded,
    purged: outcome.purged,
    adopted: outcome.adopted,
    failures: outcome.failures.length,
    verifiedBy: outcome.verifiedBy,
  };
  writeFileAtomically(lastRunPath(stateDir), (emit) => emit(`${JSON.stringify(summary, null, 2)}\n`));
}


/** The last run as recorded, or undefined when none was (or it cannot be read). */
export async function readLastRun(stateDir: string): Promise<Record<string, unknown> | undefined> {
  const text = await readFile(lastRunPath(stateDir), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}
