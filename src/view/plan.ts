/**
 * A plan for people (Terraform style: warnings, what changes, per-hop and per-volume tables, one
 * summary line) and for machines (--json: the same facts). Pure: returns text, prints nothing.
 */
import Table from 'cli-table3';
import { formatBytes } from '../config/units.ts';
import { ACTION_ORDER, type Action, type ActionKind, type Plan, type PlanNote, type PlanNoteCode, type VolumePlan } from '../model/plan.ts';
import type { AdoptRule } from '../model/objects.ts';
import { reasonText, warningText } from './reasons.ts';
import { recordedFailureText } from './failure.ts';

export interface RenderPlanOptions {
  /** Most object lines shown per action kind; the rest are counted. Undefined: all. */
  limit?: number;
  color?: boolean;
}


const LOOK: Record<ActionKind, { symbol: string; color: number; heading: string }> = {
  download: { symbol: '+', color: 32, heading: 'Download (source -> staging)' },
  redownload: { symbol: '~', color: 33, heading: 'Re-download (local copy partial, stale or missing)' },
  adopt: { symbol: '=', color: 36, heading: 'Adopt (already at the destination; recorded, nothing moves)' },
  upload: { symbol: '+', color: 32, heading: 'Upload (staging -> destination)' },
  purge: { symbol: '-', color: 31, heading: 'Purge (staged copy deleted once delivered and verified)' },
  skip: { symbol: '!', color: 35, heading: 'Skip (never moved, for the reason shown; not a change)' },
};

function paint(color: boolean, code: number, text: string): string {
  return color ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/**
 * A key as it can be shown on a terminal: as is, unless it holds control characters or
 * surrounding spaces, which are shown escaped (a key must never move the cursor or hide itself).
 */
export function displayKey(key: string): string {
  return /[\p{Cc}\p{Zl}\p{Zp}]|^\s|\s$/u.test(key) || key === '' ? JSON.stringify(key) : key;
}

/** How each adoption rule reads in the plan: the proof that the destination already holds the version. */
const ADOPT_RULES: Record<AdoptRule, string> = {
  md5: 'equal MD5 ETags',
  'multipart-etag': 'equal multipart ETags',
  content: 'apply compares the content of both objects first',
  size: 'equal size only (transfer.adopt: size)',
};

function detail(action: Action): string {
  const size = formatBytes(action.size);
  const parts: string[] = [];
  switch (action.kind) {
    case 'download':
    case 'redownload':
      parts.push(`${size} -> ${action.volume ?? '?'}`);
      break;
    case 'upload':
      parts.push(`${size} from ${action.volume ?? '?'}${action.afterDownload === true ? ', after its download' : ''}`);
      break;
    case 'purge':
      parts.push(`${size} on ${action.volume ?? '?'}${action.afterDownload === true ? ', after its upload' : ''}`);
      break;
    case 'adopt':
      parts.push(size);
      if (action.adoptBy !== undefined) parts.push(ADOPT_RULES[action.adoptBy]);
      break;
    case 'skip':
      break;
  }
  if (action.reason !== undefined) parts.push(reasonText(action.reason));
  return parts.join('; ');
}

/** An ISO time as `2026-11-29 14:05:30 UTC`. */
export function shortTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** What each note says of its objects, after their count (and bytes, for a deferral). */
const NOTE_TEXT: Record<PlanNoteCode, (note: PlanNote) => string> = {
  'stray-local-file': () => 'already at the destination with another local file (partial, older or unknown) left on disk',
  'staged-path-through-link': (note) => `delivered, with the staged copy's path on ${note.volume ?? '?'} passing through a symbolic link (not followed): left as it is`,
  'purge-waits-for-destination': () => 'delivered earlier; their purge waits for the destination to be reachable',
  'lost-unknown-copy-waits-for-source': () => 'lost by the destination, with a local copy the ledger does not know; it waits for the source, which alone can prove its version',
  'lost-waits-for-source': () => 'lost by the destination, with no local copy; their download waits for the source',
  'lost-not-redeliverable': () => 'lost by the destination and not re-deliverable: no local copy, and the source no longer lists them',
  'delivered-missing-from-incomplete-listing': () => 'delivered earlier but missing from the incomplete destination listing; not taken as lost',
  'unknown-copy-waits-for-source': () => 'local copies the ledger does not know wait for the source, which alone can prove their version',
  'staged-missing-waits-for-source': () => 'staged earlier but missing or damaged; their download waits for the source',
  'staged-missing-not-listed': () => 'staged earlier but missing or damaged, and no longer listed by the source',
  'source-listing-duplicate-keys': () => 'listed again under a key the source listing already held (two keys the server wrote as one?); not planned, so not in sync',
  'destination-listing-duplicate-keys': () => 'listed again under a key the destination listing already held (two keys the server wrote as one?); not in sync',
  'source-listing-undecodable-keys': () => 'in the source listing with a URL-encoded key that does not decode (shown as sent); not planned, so not in sync',
  'destination-listing-undecodable-keys': () => 'in the destination listing with a URL-encoded key that does not decode (shown as sent); not in sync',
  'deferred-download-batch-cap': (note) => `deferred to a later download: transfer.maxBatchBytes (${formatBytes(note.limitBytes ?? 0)}) reached`,
  'deferred-download-no-room': () => 'deferred to a later download: no volume has room above its reserve',
  'deferred-download-collision': (note) => `deferred to a later download: a file/prefix collision (e.g. with ${JSON.stringify(note.collidesWith ?? '')}) on every volume with room`,
  'deferred-upload-destination-unreachable': () => 'deferred to a later upload: the destination is unreachable',
  'deferred-upload-batch-cap': (note) => `deferred to a later upload: transfer.maxUploadBatchBytes (${formatBytes(note.limitBytes ?? 0)}) reached`,
  'deferred-chained-upload-destination-unreachable': () => 'downloaded now, upload deferred: the destination is unreachable',
  'deferred-chained-upload-batch-cap': (note) => `downloaded now, upload deferred: transfer.maxUploadBatchBytes (${formatBytes(note.limitBytes ?? 0)}) reached`,
  'etag-not-md5': () => 'to download have source ETags that are not MD5s: verify: etag checks them by size and carries their local MD5 to the destination check',
  'etag-multipart': () =>
    'to download have multipart ETags: compared when their part size is one of the usual ones; otherwise verify: etag checks them by size and carries their local MD5 to the destination check',
};

/**
 * A note as one sentence: `4 objects (200 B) deferred to a later download: ...: "b", "c", "d", ...`
 * (the bytes for a deferral, a few keys as examples); the `verify: etag` notes count objects only.
 */
export function noteLine(note: PlanNote): string {
  const text = NOTE_TEXT[note.code](note);
  if (note.code === 'etag-not-md5' || note.code === 'etag-multipart') return `${note.count} object(s) ${text}`;
  const size = note.bytes === undefined ? '' : ` (${formatBytes(note.bytes)})`;
  const more = note.count > note.examples.length ? ', ...' : '';
  const examples = note.examples.map((key) => JSON.stringify(key)).join(', ');
  return `${note.count} ${note.count === 1 ? 'object' : 'objects'}${size} ${text}: ${examples}${more}`;
}

/** Every line under "Warnings:": the plan's warnings about the run, then its notes about objects. */
export function warningLines(plan: Plan): string[] {
  return [...plan.warnings.map(warningText), ...(plan.notes ?? []).map(noteLine)];
}

/** Objects that back off after failures: not changes of this plan, shown apart with their next try. */
function waitingLines(plan: Plan, color: boolean): string[] {
  const waiting = plan.summary.waiting;
  if (waiting === undefined || waiting.count === 0) return [];
  const out = [paint(color, 1, `Waiting to retry (failed before; backing off, see transfer.retryBackoff): ${waiting.count}, ${formatBytes(waiting.bytes)}, next try ${shortTime(waiting.nextTryAt)}`)];
  for (const example of waiting.examples) {
    const error = example.lastFailure === undefined ? '' : `; last error: ${recordedFailureText(example.lastFailure).replace(/\p{Cc}/gu, '?')}`;
    out.push(`  ${paint(color, 90, '. waiting   ')}  ${displayKey(example.key)}  (${example.attempts} failed ${example.attempts === 1 ? 'attempt' : 'attempts'}, next try ${shortTime(example.nextTryAt)}${error})`);
  }
  if (waiting.examples.length < waiting.count) out.push(`  ... and ${waiting.count - waiting.examples.length} more (\`dualsync status\` lists them)`);
  out.push('  `--retry-failed` tries them now.', '');
  return out;
}

/** Per kind: how many actions and bytes, and the first `limit` of them; only those are read from a list that knows its totals. */
function actionGroups(plan: Plan, limit: number): Map<ActionKind, { count: number; bytes: number; shown: Action[] }> {
  const groups = new Map<ActionKind, { count: number; bytes: number; shown: Action[] }>(ACTION_ORDER.map((kind) => [kind, { count: 0, bytes: 0, shown: [] }]));
  const list = plan.actions;
  if (list.totals !== undefined && list.ofKinds !== undefined) {
    for (const [kind, group] of groups) {
      Object.assign(group, list.totals(kind));
      if (group.count === 0 || limit === 0) continue;
      for (const action of list.ofKinds([kind])) {
        group.shown.push(action);
        if (group.shown.length >= limit) break;
      }
    }
    return groups;
  }
  // One pass, keeping only the lines shown: a plan may hold millions of actions.
  for (const action of list) {
    const group = groups.get(action.kind);
    if (group === undefined) continue;
    group.count += 1;
    group.bytes += action.size;
    if (group.shown.length < limit) group.shown.push(action);
  }
  return groups;
}

function actionLines(plan: Plan, options: RenderPlanOptions): string[] {
  const color = options.color === true;
  const groups = actionGroups(plan, options.limit ?? Number.POSITIVE_INFINITY);
  const out: string[] = [];
  for (const kind of ACTION_ORDER) {
    const group = groups.get(kind);
    if (group === undefined || group.count === 0) continue;
    const look = LOOK[kind];
    const total = kind === 'skip' ? `${group.count}` : `${group.count}, ${formatBytes(group.bytes)}`;
    out.push(paint(color, 1, `${look.heading}: ${total}`));
    for (const action of group.shown) {
      out.push(`  ${paint(color, look.color, `${look.symbol} ${kind.padEnd(10)}`)}  ${displayKey(action.key)}  (${detail(action)})`);
    }
    if (group.shown.length < group.count) out.push(`  ... and ${group.count - group.shown.length} more`);
    out.push('');
  }
  return out;
}

function table(head: string[], rows: (string | number)[][], color: boolean): string {
  const result = new Table({ head, style: { head: color ? ['bold'] : [], border: color ? ['grey'] : [] } });
  for (const row of rows) result.push(row);
  return result.toString();
}

function hopTable(plan: Plan, color: boolean): string {
  const rows = (['download', 'upload'] as const).map((hop) => {
    const settings = plan.hops[hop];
    const counted = plan.summary[hop];
    return [
      hop === 'download' ? 'download (source -> staging)' : 'upload (staging -> destination)',
      settings.workers,
      settings.concurrency,
      counted.count,
      formatBytes(counted.bytes),
      settings.maxConnections === undefined ? '-' : settings.maxConnections,
    ];
  });
  return table(['hop', 'workers', 'concurrency', 'objects', 'bytes', 'connection cap'], rows, color);
}

/** One line under the hop table per hop with a bandwidth limit: the rate in force when planned, and the limit as written. */
function bandwidthLines(plan: Plan): string[] {
  return (['download', 'upload'] as const).flatMap((hop) => {
    const bandwidth = plan.hops[hop].bandwidth;
    if (bandwidth === undefined) return [];
    const now = bandwidth.bytesPerSecond === undefined ? 'no limit now' : `${formatBytes(bandwidth.bytesPerSecond)}/s now`;
    return [`${hop} bandwidth: ${now} (${hop === 'download' ? 'source' : 'destination'}.bandwidth "${bandwidth.limit}")`];
  });
}

/**
 * Volumes with their room. Volumes on one filesystem share its free space less the largest of
 * their reserves: their "left after" is that shared room, marked with the filesystem's label,
 * and a line under the table names the volumes that share it.
 */
function volumeTable(plan: Plan, color: boolean): string {
  const groups = new Map<string, VolumePlan[]>();
  for (const volume of plan.volumes) if (volume.device !== undefined) groups.set(volume.device, [...(groups.get(volume.device) ?? []), volume]);
  const shared = new Map(
    [...groups.entries()].map(([device, volumes], index) => {
      const freeBytes = Math.min(...volumes.map((v) => v.freeBytes));
      const reserveBytes = Math.max(...volumes.map((v) => v.reserveBytes));
      const plannedBytes = volumes.reduce((sum, v) => sum + v.plannedDownloadBytes, 0);
      return [device, { label: `filesystem ${index + 1}`, volumes, freeBytes, reserveBytes, left: freeBytes - reserveBytes - plannedBytes }];
    }),
  );
  const rows = plan.volumes.map((volume) => {
    const group = volume.device === undefined ? undefined : shared.get(volume.device);
    return [
      volume.root,
      formatBytes(volume.freeBytes),
      formatBytes(volume.reserveBytes),
      `${formatBytes(volume.plannedDownloadBytes)} (${volume.plannedDownloads})`,
      group === undefined ? formatBytes(volume.freeBytes - volume.reserveBytes - volume.plannedDownloadBytes) : `${formatBytes(group.left)}, shared (${group.label})`,
    ];
  });
  const notes = [...shared.values()].map(
    (group) =>
      `${group.label}: ${group.volumes.map((v) => v.root).join(', ')} are on one filesystem and share its ${formatBytes(group.freeBytes)} free, less the largest reserve (${formatBytes(group.reserveBytes)}), booked once.`,
  );
  return [table(['volume', 'free', 'reserve', 'planned (objects)', 'left after'], rows, color), ...notes].join('\n');
}

/** Notes of listings that could not tell keys apart: a plan with one is not in sync. */
const LISTING_FLAWS: ReadonlySet<PlanNoteCode> = new Set(['source-listing-duplicate-keys', 'destination-listing-duplicate-keys', 'source-listing-undecodable-keys', 'destination-listing-undecodable-keys']);

/** True when the plan has nothing but skips and deferred nothing: only an incomplete listing can then keep it from "No changes". */
function onlySkips(plan: Plan): boolean {
  return plan.actions.length === plan.summary.skip.count && plan.summary.deferred.count === 0;
}

/**
 * The one-line verdict: `Plan: 120 to download (3.2 GiB), 80 to upload (2.1 GiB), 80 to purge,
 * 2 adopted, 2 skipped, 5 deferred to a later plan (see the warnings).` (zero parts left out except the three hops), or "No changes"
 * — which an incomplete listing never earns.
 */
export function summaryLine(plan: Plan): string {
  const { summary } = plan;
  const waiting = summary.waiting !== undefined && summary.waiting.count > 0 ? summary.waiting : undefined;
  const waits = waiting === undefined ? '' : `${waiting.count} waiting to retry (next try ${shortTime(waiting.nextTryAt)})`;
  // Backing off never makes an object done: with objects waiting, "no changes" is only about now.
  if (summary.noChanges && waiting !== undefined) return `No changes now, but not in sync: ${waits}; \`--retry-failed\` tries them now.`;
  if (summary.noChanges) return 'No changes. Source, staging and destination are in sync.';
  if (onlySkips(plan)) {
    const flawed = (plan.notes ?? []).some((note) => LISTING_FLAWS.has(note.code));
    const why = flawed ? 'not in sync: a listing repeated keys or held keys it could not decode (see warnings)' : 'the listing is incomplete (see warnings)';
    return `No changes in what could be listed; ${why}${waiting === undefined ? '' : `; ${waits}`}.`;
  }
  const withBytes = (part: { count: number; bytes: number }, what: string): string =>
    part.count === 0 ? `0 ${what}` : `${part.count} ${what} (${formatBytes(part.bytes)})`;
  const parts = [withBytes(summary.download, 'to download'), withBytes(summary.upload, 'to upload'), `${summary.purge.count} to purge`];
  if (summary.adopt.count > 0) {
    const byContent = summary.adopt.byContent ?? 0;
    parts.push(`${summary.adopt.count} adopted${byContent > 0 ? ` (${byContent} once apply finds equal content)` : ''}`);
  }
  if (summary.skip.count > 0) parts.push(`${summary.skip.count} skipped`);
  // Deferred: within budget or volume room next time; the warnings say which limit held them.
  if (summary.deferred.count > 0) parts.push(`${summary.deferred.count} deferred to a later plan (see the warnings)`);
  if (waiting !== undefined) parts.push(waits);
  return `Plan: ${parts.join(', ')}.`;
}

/** The human rendering of a plan: warnings, object lines per kind, hop and volume tables, the summary line. */
export function renderPlan(plan: Plan, options: RenderPlanOptions = {}): string {
  const color = options.color === true;
  const out: string[] = [];
  const warnings = warningLines(plan);
  if (warnings.length > 0) {
    out.push(paint(color, 33, 'Warnings:'));
    for (const warning of warnings) out.push(`  ${paint(color, 33, '!')} ${warning.replace(/\p{Cc}/gu, '?')}`);
    out.push('');
  }
  out.push(...actionLines(plan, options));
  out.push(...waitingLines(plan, color));
  out.push(hopTable(plan, color), ...bandwidthLines(plan), '');
  if (plan.volumes.length > 0) out.push(volumeTable(plan, color), '');
  out.push(paint(color, 1, summaryLine(plan)));
  return `${out.join('\n')}\n`;
}

/**
 * The same facts as {@link renderPlan}, for `--json`: `warnings` (about the run) and `notes`
 * (about objects) as data, and each action's `reason`, codes with their facts (for scripts: match
 * the codes, not the sentences); `messages` are the lines the human view shows under
 * "Warnings:" (for people). The actions are the plan's own list, which
 * may be read back from spool files and cannot go through JSON.stringify: write the result with
 * `jsonPieces` (view/json.ts), which writes them an element at a time.
 */
export function planToJson(plan: Plan): object {
  return {
    formatVersion: plan.formatVersion,
    summaryLine: summaryLine(plan),
    summary: plan.summary,
    warnings: plan.warnings,
    notes: plan.notes ?? [],
    messages: warningLines(plan),
    hops: plan.hops,
    volumes: plan.volumes,
    actions: plan.actions,
  };
}
