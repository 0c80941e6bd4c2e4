/**
 * Reads the JSON ledger that dualsync kept before the SQLite one, so that the first open of an
 * old state directory can migrate it. Only reading lives here; nothing writes this format any
 * more. The format (formatVersion 1):
 *
 *   ledger.snapshot.json   {"formatVersion":1,"serial":S,"records":[ one record per line ]}
 *   ledger.journal.jsonl   one {"formatVersion":1,"serial":N,"event":{...}} per line
 *
 * Journal lines at or below the snapshot's serial were already folded into it and are skipped.
 * A torn last journal line was never acknowledged: it is ignored with a warning. Anything else
 * that does not parse is corruption and is refused, never replaced.
 *
 * Records and events are handed to a sink one at a time, so a snapshot of millions of records
 * is never held as one string or one Map.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, isDualsyncError, userError } from '../errors.ts';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord } from '../model/objects.ts';
import { COLUMNS } from './schema.ts';
import { legacyFailure } from './merge.ts';
import { skipReasonFromText } from './skip-text.ts';

export const SNAPSHOT_FILE = 'ledger.snapshot.json';
export const JOURNAL_FILE = 'ledger.journal.jsonl';
/** What a migrated legacy file is renamed to: kept as a backup, never read again. */
export const MIGRATED_SUFFIX = '.migrated';
const FORMAT_VERSION = 1;
const READ_CHUNK = 1 << 20;

/** Where the legacy reader puts what it reads. */
export interface LegacySink {
  /** A snapshot record; false when its key was already added (the snapshot is then damaged). */
  addRecord(record: LedgerRecord): boolean;
  /** A journal event past the snapshot, in serial order. */
  applyEvent(event: LedgerEvent): void;
}

interface Line {
  text: string;
  /** 1-based line number in the file. */
  number: number;
  start: number;
  end: number;
  terminated: boolean;
}

/** Yields the lines of a file with their byte offsets, without holding the whole file as one string. */
async function* readLines(path: string): AsyncGenerator<Line> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    let pending: Buffer[] = [];
    let pendingStart = 0;
    let position = 0;
    let number = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, position);
      if (bytesRead === 0) break;
      let from = 0;
      for (;;) {
        const newline = buffer.indexOf(0x0a, from);
        if (newline === -1 || newline >= bytesRead) break;
        const piece = buffer.subarray(from, newline);
        const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
        number++;
        yield { text: bytes.toString('utf8'), number, start: pendingStart, end: position + newline + 1, terminated: true };
        pending = [];
        pendingStart = position + newline + 1;
        from = newline + 1;
      }
      if (from < bytesRead) pending.push(Buffer.from(buffer.subarray(from, bytesRead)));
      position += bytesRead;
    }
    if (pending.length > 0) {
      number++;
      yield { text: Buffer.concat(pending).toString('utf8'), number, start: pendingStart, end: position, terminated: false };
    }
  } finally {
    await handle.close();
  }
}

const NEVER_DELETE =
  'The ledger is the only record of what was delivered: never delete it blindly. Keep a copy of the state directory, ' +
  'repair or remove the named line by hand (or restore the directory from a backup), then run again.';

/** Where in a file: a line number, or for a snapshot read whole, the index of the record. */
type Place = number | { record: number } | undefined;

function corrupt(file: string, place: Place, problem: string, cause?: unknown) {
  const where = place === undefined ? file : typeof place === 'number' ? `${file}:${place}` : `${file} (record ${place.record})`;
  return userError('E_LEDGER_CORRUPT', `ledger file ${where} is damaged: ${problem}`, { hint: NEVER_DELETE, cause });
}

/** Hands a value to the sink; whatever it throws (a SQLite bind, a sum too large) names the place it came from. */
function intoSink(file: string, place: Place, give: () => void): void {
  try {
    give();
  } catch (error) {
    if (isDualsyncError(error)) throw error;
    throw corrupt(file, place, `cannot be migrated: ${describeError(error)}`, error);
  }
}

function checkFormat(file: string, line: number | undefined, formatVersion: unknown): void {
  if (typeof formatVersion === 'number' && Number.isInteger(formatVersion) && formatVersion > FORMAT_VERSION) {
    const where = line === undefined ? file : `${file}:${line}`;
    throw userError('E_LEDGER_NEWER', `ledger file ${where} was written by a newer dualsync (format ${formatVersion}; this one reads format ${FORMAT_VERSION})`, {
      hint: 'Upgrade dualsync to the version that wrote this state directory; an older one must not rewrite it.',
    });
  }
  if (formatVersion !== FORMAT_VERSION) throw corrupt(file, line, `formatVersion is ${JSON.stringify(formatVersion)}, expected ${FORMAT_VERSION}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A whole number from 0 that a JavaScript number holds exactly (SQLite would store more, but could not give it back). */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Why a present field does not have the type its column stores (schema.ts), or undefined. */
function fieldProblem(name: string, value: unknown, type: 'text' | 'integer' | 'boolean' | 'json'): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (type === 'text' && typeof value !== 'string') return `${name} is not a string`;
  if (type === 'integer' && !isCount(value)) return `${name} is not a whole number from 0 to 2^53 - 1`;
  if (type === 'boolean' && typeof value !== 'boolean') return `${name} is not true or false`;
  return undefined;
}

const STAGES = new Set(['staged', 'delivered', 'purged']);

/** Why a parsed value is not a ledger record, or undefined when it is one. */
function recordProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  if (typeof value.key !== 'string') return 'key is not a string';
  if (!isCount(value.size)) return 'size is not a byte count';
  if (typeof value.etag !== 'string') return 'etag is not a string';
  if (!isCount(value.attempts)) return 'attempts is not a count';
  if (value.stage !== undefined && !STAGES.has(value.stage as string)) return `unknown stage ${JSON.stringify(value.stage)}`;
  // Every field the ledger stores must come back as it went in: the type of its column.
  for (const [field, column] of Object.entries(COLUMNS)) {
    if (column.type === 'failure' || column.type === 'skip') continue; // the JSON ledger kept text: lastError and skipReason, below
    const problem = column.type === 'json' ? deliveredProblem(field, value[field]) : fieldProblem(field, value[field], column.type);
    if (problem !== undefined) return problem;
  }
  return fieldProblem('lastError', value.lastError, 'text') ?? fieldProblem('skipReason', value.skipReason, 'text');
}

/**
 * A JSON ledger's record as the ledger keeps it now: its last error (text) as a failure of code
 * `legacy`, its skip reason (text) as the code and facts it was worded from.
 */
function currentRecord(value: Record<string, unknown>): LedgerRecord {
  const { lastError, lastFailure: _ignored, skipReason, ...rest } = value;
  const record = rest as unknown as LedgerRecord;
  if (typeof lastError === 'string') record.lastFailure = legacyFailure(lastError);
  if (typeof skipReason === 'string') record.skipReason = skipReasonFromText(skipReason);
  return record;
}

/** A JSON journal's event as the ledger folds it now: a failure's text as a failure of code `legacy`, a skip's reason as its code. */
function currentEvent(value: Record<string, unknown>): LedgerEvent {
  if (value.type === 'skipped') return { ...value, reason: skipReasonFromText(value.reason as string) } as unknown as LedgerEvent;
  if (value.type !== 'failed') return value as unknown as LedgerEvent;
  const { error, ...rest } = value;
  return { ...rest, failure: { code: 'legacy', cause: error as string } } as unknown as LedgerEvent;
}

/** Why a record's `lastDelivered` is not a delivered version {size, etag, destinationEtag?}, or undefined. */
function deliveredProblem(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) return `${name} is not an object`;
  if (!isCount(value.size)) return `${name}.size is not a byte count`;
  if (typeof value.etag !== 'string') return `${name}.etag is not a string`;
  return fieldProblem(`${name}.destinationEtag`, value.destinationEtag, 'text');
}

const EVENT_FIELDS: Record<LedgerEvent['type'], string[]> = {
  staged: ['volume', 'verifiedBy'],
  delivered: ['verifiedBy'],
  purged: [],
  failed: ['hop', 'error'],
  skipped: ['reason'],
};

/** Why a parsed value is not a ledger event, or undefined when it is one. */
function eventProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'event is not an object';
  const fields = EVENT_FIELDS[value.type as LedgerEvent['type']];
  if (fields === undefined) return `unknown event type ${JSON.stringify(value.type)}`;
  if (typeof value.key !== 'string') return 'event key is not a string';
  if (!isCount(value.size)) return 'event size is not a byte count';
  if (typeof value.etag !== 'string') return 'event etag is not a string';
  for (const field of fields) if (typeof value[field] !== 'string') return `${value.type} event without ${field}`;
  for (const [field, type] of Object.entries(EVENT_OPTIONAL_FIELDS)) {
    const problem = fieldProblem(`event ${field}`, value[field], type);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** The optional fields of events (src/model/ledger.ts), which merge.ts copies into records. */
const EVENT_OPTIONAL_FIELDS: Record<string, 'text' | 'boolean'> = {
  md5: 'text',
  etagComparable: 'boolean',
  again: 'boolean',
  adopted: 'boolean',
  adoptedBy: 'text',
  destinationEtag: 'text',
  replaced: 'boolean',
  volume: 'text',
  destinationDiffers: 'text',
  localDiffers: 'text',
  at: 'text',
};

/** Whether `path` exists; an error other than "not there" is thrown, never taken for absence. */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** The legacy files present in `stateDir` (absolute paths), none when it never held the JSON ledger. */
export async function legacyFiles(stateDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of [SNAPSHOT_FILE, JOURNAL_FILE]) if (await exists(join(stateDir, name))) found.push(join(stateDir, name));
  return found;
}

/** Reads the snapshot in the layout compaction wrote (one record per line), or any valid JSON of the same shape. */
async function readSnapshot(file: string, sink: LegacySink): Promise<number> {
  let serial: number | undefined;
  let closed = false;
  const addRecord = (value: unknown, line: Place) => {
    const problem = recordProblem(value);
    if (problem !== undefined) throw corrupt(file, line, problem);
    const record = currentRecord(value as Record<string, unknown>);
    let added = true;
    intoSink(file, line, () => (added = sink.addRecord(record)));
    if (!added) throw corrupt(file, line, `key ${JSON.stringify(record.key)} appears twice`);
  };
  const header = (value: unknown, line: number | undefined) => {
    if (!isObject(value)) throw corrupt(file, line, 'not a ledger snapshot');
    checkFormat(file, line, value.formatVersion);
    if (!isCount(value.serial)) throw corrupt(file, line, 'serial is not a count');
    if (!Array.isArray(value.records)) throw corrupt(file, line, 'records is not a list');
    return value.serial;
  };

  for await (const line of readLines(file)) {
    if (serial === undefined) {
      if (!line.text.endsWith('[')) return readWholeSnapshot(file, header, addRecord);
      let value: unknown;
      try {
        value = JSON.parse(`${line.text}]}`);
      } catch {
        return readWholeSnapshot(file, header, addRecord);
      }
      serial = header(value, line.number);
      continue;
    }
    if (closed) {
      if (line.text.trim() !== '') throw corrupt(file, line.number, 'text after the end of the snapshot');
      continue;
    }
    if (line.text === ']}') {
      closed = true;
      continue;
    }
    const text = line.text.endsWith(',') ? line.text.slice(0, -1) : line.text;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw corrupt(file, line.number, `not valid JSON (${describeError(error)})`);
    }
    addRecord(value, line.number);
  }
  if (serial === undefined) throw corrupt(file, undefined, 'the file is empty');
  if (!closed) throw corrupt(file, undefined, 'the file ends before its records do');
  return serial;
}

async function readWholeSnapshot(
  file: string,
  header: (value: unknown, line: number | undefined) => number,
  addRecord: (value: unknown, place: Place) => void,
): Promise<number> {
  const handle = await open(file, 'r');
  let text: string;
  try {
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, undefined, `not valid JSON (${describeError(error)})`);
  }
  const serial = header(value, undefined);
  (value as { records: unknown[] }).records.forEach((record, index) => addRecord(record, { record: index + 1 }));
  return serial;
}

/** Applies the journal's events past `snapshotSerial`; returns the last serial. */
async function readJournal(file: string, snapshotSerial: number, sink: LegacySink, warn: (message: string) => void): Promise<number> {
  let serial = snapshotSerial;
  let bytes = 0;
  // A line that does not parse is forgiven only when nothing follows it: that is a write the
  // power cut interrupted. Held here until the next line proves it was in the middle.
  let suspect: { line: Line; problem: string } | undefined;
  for await (const line of readLines(file)) {
    bytes = line.end;
    if (line.text.trim() === '' && line.terminated) continue;
    if (suspect !== undefined) throw corrupt(file, suspect.line.number, suspect.problem);
    if (!line.terminated) {
      suspect = { line, problem: 'incomplete line' };
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line.text);
    } catch (error) {
      suspect = { line, problem: `not valid JSON (${describeError(error)})` };
      continue;
    }
    if (!isObject(value)) throw corrupt(file, line.number, 'not a journal entry');
    checkFormat(file, line.number, value.formatVersion);
    if (!isCount(value.serial)) throw corrupt(file, line.number, 'serial is not a count');
    const problem = eventProblem(value.event);
    if (problem !== undefined) throw corrupt(file, line.number, problem);
    if (value.serial <= snapshotSerial) continue; // already in the snapshot
    if (value.serial !== serial + 1) {
      throw corrupt(file, line.number, `serial ${value.serial} follows serial ${serial}: events are missing or repeated`);
    }
    intoSink(file, line.number, () => sink.applyEvent(currentEvent(value.event as Record<string, unknown>)));
    serial = value.serial;
  }
  if (suspect !== undefined) {
    warn(
      `ignored the torn last line of ${file} (line ${suspect.line.number}, ${bytes - suspect.line.start} bytes): it was being written when dualsync ` +
        'stopped and was never confirmed; the work it recorded will be checked and redone',
    );
  }
  return serial;
}

/** Reads the legacy ledger of `stateDir` into `sink`; returns its serial. */
export async function readLegacyLedger(stateDir: string, sink: LegacySink, warn: (message: string) => void): Promise<number> {
  const snapshotFile = join(stateDir, SNAPSHOT_FILE);
  const journalFile = join(stateDir, JOURNAL_FILE);
  const snapshotSerial = (await exists(snapshotFile)) ? await readSnapshot(snapshotFile, sink) : 0;
  return (await exists(journalFile)) ? readJournal(journalFile, snapshotSerial, sink, warn) : snapshotSerial;
}
