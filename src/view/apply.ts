import Table from 'cli-table3';
import type { ApplyOutcome } from '../model/apply.ts';
import { formatBytes } from '../config/units.ts';
import { failureText } from './failure.ts';

/** What an apply moved, per hop ("20 downloaded (1 MiB), 20 delivered (1 MiB), 20 purged."): the line watch logs per cycle. */
export function applyCountsText(outcome: ApplyOutcome): string {
  const parts = [
    `${outcome.downloaded.count} downloaded (${formatBytes(outcome.downloaded.bytes)})`,
    `${outcome.uploaded.count} delivered (${formatBytes(outcome.uploaded.bytes)})`,
    `${outcome.purged.count} purged`,
  ];
  if (outcome.adopted > 0) parts.push(`${outcome.adopted} adopted`);
  if (outcome.replaced !== undefined) parts.push(`${outcome.replaced.count} replaced cop${outcome.replaced.count === 1 ? 'y' : 'ies'} removed`);
  return `${parts.join(', ')}.`;
}

/** The closing line of an apply, in the manner of Terraform's "Apply complete!". */
export function applySummaryLine(outcome: ApplyOutcome): string {
  const head = outcome.failures.length === 0 ? 'Apply complete!' : `Apply finished with ${outcome.failures.length} failure(s):`;
  return `${head} ${applyCountsText(outcome)}`;
}

/** Human report of an apply: failures as a table (key, hop, reason), verification counts, summary. */
export function renderApplyOutcome(
  outcome: ApplyOutcome,
  options: { limit?: number; listingsComplete?: boolean; unreachable?: { source?: string; destination?: string } } = {},
): string {
  const lines: string[] = [];
  const limit = options.limit ?? 50;
  if (outcome.failures.length > 0) {
    const table = new Table({ head: ['object', 'hop', 'reason'], wordWrap: true, colWidths: [40, 10, 60], style: { head: [], border: [], compact: true } });
    for (const failure of outcome.failures.slice(0, limit)) table.push([failure.key, failure.hop, failureText(failure)]);
    lines.push(table.toString());
    if (outcome.failures.length > limit) lines.push(`... and ${outcome.failures.length - limit} more failures`);
    lines.push('The next plan retries them; `dualsync status` shows the attempts.');
  }
  const verified = Object.entries(outcome.verifiedBy).map(([by, count]) => `${count} by ${by}`);
  const transfers = Object.values(outcome.verifiedBy).reduce((sum, count) => sum + count, 0);
  if (verified.length > 0) lines.push(`Verified ${transfers} transfer(s) (each hop counts once): ${verified.join(', ')}.`);
  lines.push(applySummaryLine(outcome));
  const down = options.unreachable ?? {};
  if (down.source !== undefined) lines.push(`The source was unreachable: downloads wait for a run that reaches it (${down.source}).`);
  if (down.destination !== undefined) lines.push(`The destination was unreachable: uploads and purges wait for a run that reaches it (${down.destination}).`);
  if (options.listingsComplete === false) {
    lines.push('A listing was incomplete: objects it did not show were not moved, and the destination may still lack them (see the warnings above).');
  }
  return `${lines.join('\n')}\n`;
}

/** The same facts for machines: each failure as its key, hop, code and facts. */
export function applyToJson(outcome: ApplyOutcome): object {
  return { ...outcome, ok: outcome.failures.length === 0 };
}
