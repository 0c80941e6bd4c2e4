/** How `dualsync check` is shown: rclone-style combined lines, JSON lines, and the summary. Pure. */
import { CHECK_CODES, COMBINED_MARK, type CheckEntry, type CheckSummary } from '../model/check.ts';

/** The words an operator signs on: printed only when nothing blocks. */
export const SAFE_WORDS = 'safe to return the device';

/** One combined line: the mark, a space, the key (JSON-quoted when it holds a control character, as rclone cannot). */
export function combinedLine(entry: CheckEntry): string {
  const key = /[\u0000-\u001f\u007f]/.test(entry.key) ? JSON.stringify(entry.key) : entry.key;
  return `${COMBINED_MARK[entry.code]} ${key}\n`;
}

/** One JSON line: the code first, then the facts. */
export function checkJsonLine(entry: CheckEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const WHAT: Record<(typeof CHECK_CODES)[number], string> = {
  delivered: 'delivered and verified',
  different: 'at the destination, but different',
  unverified: 'at the destination, content not proven',
  missing: 'missing at the destination',
  'staged-only': 'staged only, not delivered',
  failing: 'failing (backing off)',
  skipped: 'skipped (never moved)',
  'destination-only': 'only at the destination',
};

/** The summary table, then the verdict: the safe words, or what blocks them with counts and first keys. */
export function renderCheckSummary(summary: CheckSummary): string {
  const lines: string[] = ['', 'State                                     Objects        Bytes'];
  for (const code of CHECK_CODES) {
    const group = summary.groups[code];
    lines.push(`${`${code} (${WHAT[code]})`.padEnd(40)} ${String(group.count).padStart(9)} ${bytes(group.bytes).padStart(12)}`);
  }
  lines.push('');
  if (summary.content !== undefined) {
    const { objects, bytes: read, seconds } = summary.content;
    const rate = seconds > 0 ? `${bytes(Math.round(read / seconds))}/s` : 'n/a';
    lines.push(`Content: ${objects} object(s) read on both sides, ${bytes(read)} in ${seconds.toFixed(1)} s (${rate}).`);
  }
  lines.push(`Checked in ${summary.seconds.toFixed(1)} s.`);
  if (summary.safe) {
    lines.push(`All ${summary.groups.delivered.count} source object(s) are delivered and verified: ${SAFE_WORDS}.`);
    return `${lines.join('\n')}\n`;
  }
  lines.push('NOT safe to return the device yet:');
  for (const code of CHECK_CODES) {
    const group = summary.groups[code];
    if (code === 'delivered' || group.count === 0) continue;
    lines.push(`  ${group.count} ${code} (${WHAT[code]}), first: ${group.examples.map((key) => JSON.stringify(key)).join(', ')}`);
  }
  for (const problem of summary.listingProblems) lines.push(`  ${problem}`);
  return `${lines.join('\n')}\n`;
}
