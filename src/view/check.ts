/** How `dualsync check` is shown: rclone-style combined lines, JSON lines, and the summary. Pure. */
import { CHECK_CODES, COMBINED_MARK, type CheckEntry, type CheckGroup, type CheckSummary, type CheckWhy, type ListingWhy } from '../model/check.ts';
import { recordedFailureText } from './failure.ts';
import { reasonText } from './reasons.ts';

/** The words an operator signs on: printed only when nothing blocks. */
export const SAFE_WORDS = 'safe to return the device';

/** One combined line: the mark, a space, the key (JSON-quoted when it holds a control character, as rclone cannot). */
export function combinedLine(entry: CheckEntry): string {
  const key = /[\u0000-\u001f\u007f]/.test(entry.key) ? JSON.stringify(entry.key) : entry.key;
  return `${COMBINED_MARK[entry.code]} ${key}\n`;
}

/** What the listings found, in words. */
function listingWhyText(why: ListingWhy): string {
  switch (why.code) {
    case 'delivered-not-listed':
      return `recorded as delivered${why.deliveredAt !== undefined ? ` at ${why.deliveredAt}` : ''}, but the destination does not list it`;
    case 'size-differs':
      return `size ${why.destinationSize} at the destination, ${why.sourceSize} at the source`;
    case 'recorded-etag-matches':
      return 'size and the destination ETag recorded at delivery';
    case 'etag-rewritten':
      return `destination ETag ${why.destinationEtag}, recorded at delivery ${why.recordedEtag}: rewritten since`;
    case 'etags-equal':
      return why.recordedAsDelivered ? 'size and equal ETags' : 'size and equal ETags (not recorded as delivered)';
    case 'etags-not-comparable':
      return why.recordedAsDelivered
        ? 'recorded as delivered without a destination ETag, and the ETags cannot be compared (run with --content)'
        : 'same size, not recorded as delivered, and the ETags cannot be compared (run with --content)';
  }
}

/** Why an object is in its state, in a few words. */
export function checkWhyText(why: CheckWhy): string {
  switch (why.code) {
    case 'content-differs':
      return 'content differs (MD5 of the bytes)';
    case 'content-same': {
      const listings = listingWhyText(why.listings);
      // The listings had proved it already: the bytes confirm. Otherwise the bytes overrule them.
      const proven = why.listings.code === 'recorded-etag-matches' || why.listings.code === 'etags-equal';
      return proven ? `${listings}; same content (MD5 of the bytes)` : `same content (MD5 of the bytes), though ${listings}`;
    }
    case 'content-not-read':
      return `content not read: ${why.cause}`;
    default:
      return listingWhyText(why);
  }
}

/** One object's why, last failure or skip reason in words; undefined when it has none. */
export function checkDetailText(entry: Pick<CheckEntry, 'why' | 'lastFailure' | 'skip'>): string | undefined {
  if (entry.why !== undefined) return checkWhyText(entry.why);
  if (entry.lastFailure !== undefined) return recordedFailureText(entry.lastFailure);
  if (entry.skip !== undefined) return reasonText(entry.skip);
  return undefined;
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

/** A group's first keys, the first with why it is in this state. */
function examplesText(group: CheckGroup): string {
  const keys = group.examples.map((key) => JSON.stringify(key));
  const detail = group.first === undefined ? undefined : checkDetailText(group.first);
  if (detail !== undefined && keys.length > 0) keys[0] = `${keys[0]} (${detail})`;
  return keys.join(', ');
}

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
    lines.push(`  ${group.count} ${code} (${WHAT[code]}), first: ${examplesText(group)}`);
  }
  for (const problem of summary.listingProblems) lines.push(`  ${problem}`);
  return `${lines.join('\n')}\n`;
}
