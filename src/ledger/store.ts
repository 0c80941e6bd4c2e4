/**
 * The ledger on disk: a snapshot plus a journal of events, in the state directory.
 *
 *   ledger.snapshot.json   {"formatVersion":1,"serial":S,"records":[ one record per line ]}
 *   ledger.journal.jsonl   one {"formatVersion":1,"serial":N,"event":{...}} per line
 *
 * Every journal line carries its serial, and loading skips lines whose serial is at or below
 * the snapshot's: that is what makes compaction safe at every instant. Compaction writes the
 * new snapshot to a temporary file, fsyncs it, renames it over the old one, fsyncs the
 * directory (so the rename is durable before anything depends on it) and only then empties
 * the journal. A crash before the rename leaves the old snapshot and the full journal; after
 * it, the new snapshot and a journal whose old lines are skipped. No event is lost, none is
 * applied twice.
 *
 * An append is durable when append() resolves (write + fsync). A power cut during an append
 * can leave a torn last line: it was never acknowledged, so loading ignores it with a warning
 * and the next append cuts it off first. Anything else that does not parse is corruption and
 * is refused, never replaced: the ledger is the only record of what was delivered.
 *
 * Records live in one Map keyed by relative key: fine up to a few million objects (a V8 Map
 * holds at most 2^24 entries, and each record costs a few hundred bytes).
 */
import { mkdir, open, rename, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, isDualsyncError, opError, userError } from '../errors.ts';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord, LedgerState } from '../model/objects.ts';
import { applyEvent } from './merge.ts';

export const SNAPSHOT_FILE = 'ledger.snapshot.json';
export const JOURNAL_FILE = 'ledger.journal.jsonl';
const FORMAT_VERSION = 1;
const DEFAULT_COMPACT_AFTER = 100_000;
const READ_CHUNK = 1 << 20;
/** The snapshot's first line up to its serial: `{"formatVersion":1,"serial":N,"records":[`. */
const SNAPSHOT_HEAD_BYTES = 64;
/** Reads of a ledger that keeps being compacted under the reader, before giving up. */
const LOAD_ATTEMPTS = 20;

export interface LedgerStoreOptions {
  /** Told about things that were recovered from, such as a torn last journal line. */
  onWarning?: (message: string) => void;
  /**
   * Compact once the journal holds this many events (default 100,000) and at least as many
   * events as there are records, so rewriting the snapshot costs O(1) per event on average.
   */
  compactAfter?: number;
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

function corrupt(file: string, line: number | undefined, problem: string) {
  const where = line === undefined ? file : `${file}:${line}`;
  return userError('E_LEDGER_CORRUPT', `ledger file ${where} is damaged: ${problem}`, { hint: NEVER_DELETE });
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

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
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
  return undefined;
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
  return undefined;
}

interface Loaded {
  records: Map<string, LedgerRecord>;
  snapshotSerial: number;
  serial: number;
  journalEvents: number;
  /** Bytes of the journal that hold complete, valid lines; anything after is a torn tail. */
  journalValidBytes: number;
  journalBytes: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Reads the snapshot in the layout compaction writes (one record per line), or any valid JSON of the same shape. */
async function loadSnapshot(file: string, records: Map<string, LedgerRecord>): Promise<number> {
  let serial: number | undefined;
  let closed = false;
  const addRecord = (value: unknown, line: number | undefined) => {
    const problem = recordProblem(value);
    if (problem !== undefined) throw corrupt(file, line, problem);
    const record = value as LedgerRecord;
    if (records.has(record.key)) throw corrupt(file, line, `key ${JSON.stringify(record.key)} appears twice`);
    records.set(record.key, record);
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
      if (!line.text.endsWith('[')) return loadWholeSnapshot(file, records, header, addRecord);
      let value: unknown;
      try {
        value = JSON.parse(`${line.text}]}`);
      } catch {
        return loadWholeSnapshot(file, records, header, addRecord);
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

async function loadWholeSnapshot(
  file: string,
  records: Map<string, LedgerRecord>,
  header: (value: unknown, line: number | undefined) => number,
  addRecord: (value: unknown, line: number | undefined) => void,
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
  for (const record of (value as { records: unknown[] }).records) addRecord(record, undefined);
  return serial;
}

async function loadJournal(file: string, loaded: Loaded, warn: (message: string) => void): Promise<void> {
  // A line that does not parse is forgiven only when nothing follows it: that is a write the
  // power cut interrupted. Held here until the next line proves it was in the middle.
  let suspect: { line: Line; problem: string } | undefined;
  for await (const line of readLines(file)) {
    loaded.journalBytes = line.end;
    if (line.text.trim() === '' && line.terminated) {
      if (suspect === undefined) loaded.journalValidBytes = line.end;
      continue;
    }
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
    loaded.journalEvents++;
    loaded.journalValidBytes = line.end;
    if (value.serial <= loaded.snapshotSerial) continue; // already in the snapshot
    if (value.serial !== loaded.serial + 1) {
      throw corrupt(file, line.number, `serial ${value.serial} follows serial ${loaded.serial}: events are missing or repeated`);
    }
    const event = value.event as LedgerEvent;
    loaded.records.set(event.key, applyEvent(loaded.records.get(event.key), event));
    loaded.serial = value.serial;
  }
  if (suspect !== undefined) {
    const bytes = loaded.journalBytes - suspect.line.start;
    warn(
      `ignored the torn last line of ${file} (line ${suspect.line.number}, ${bytes} bytes): it was being written when dualsync ` +
        'stopped and was never confirmed; the work it recorded will be checked and redone',
    );
  }
}

/**
 * What tells one snapshot from the next: inode, size and mtime, plus the header that holds the
 * serial. The header is needed because a freed inode number is soon reused by the next
 * temporary snapshot, and mtime only moves once per clock tick (a few ms), so two snapshots a
 * few ms apart can share all three.
 */
async function snapshotIdentity(file: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw error;
  }
  try {
    const info = await handle.stat({ bigint: true });
    const head = Buffer.alloc(SNAPSHOT_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNAPSHOT_HEAD_BYTES, 0);
    return `${info.ino}:${info.size}:${info.mtimeNs}:${head.subarray(0, bytesRead).toString('latin1')}`;
  } finally {
    await handle.close();
  }
}

async function load(stateDir: string, warn: (message: string) => void): Promise<Loaded> {
  const snapshotFile = join(stateDir, SNAPSHOT_FILE);
  const journalFile = join(stateDir, JOURNAL_FILE);
  // A reader that holds no lock may meet a compaction: if the snapshot changed while the
  // journal was read, the two may not fit together, so read both again.
  for (let attempt = 1; ; attempt++) {
    const before = await snapshotIdentity(snapshotFile);
    const loaded: Loaded = { records: new Map(), snapshotSerial: 0, serial: 0, journalEvents: 0, journalValidBytes: 0, journalBytes: 0 };
    const warnings: string[] = [];
    let failure: unknown;
    try {
      if (before !== 'none') loaded.snapshotSerial = await loadSnapshot(snapshotFile, loaded.records);
      loaded.serial = loaded.snapshotSerial;
      if (await exists(journalFile)) await loadJournal(journalFile, loaded, (message) => warnings.push(message));
    } catch (error) {
      failure = error;
    }
    if ((await snapshotIdentity(snapshotFile)) === before) {
      if (failure !== undefined) throw failure;
      for (const message of warnings) warn(message);
      return loaded;
    }
    // A compaction between the two reads empties the journal and starts it past the old
    // snapshot's serial, so the pair may look like missing events or may silently lack some:
    // neither is believed. Read both again; what is still wrong on a quiet ledger is damage.
    if (attempt >= LOAD_ATTEMPTS) {
      throw opError('E_LEDGER_BUSY', `the ledger in ${stateDir} was compacted ${LOAD_ATTEMPTS} times while it was being read`, {
        hint: 'Another dualsync is writing this state directory; retry in a moment.',
        retryable: true,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, attempt * 5));
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function compareKeys(a: LedgerRecord, b: LedgerRecord): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** The ledger of one state directory: load, append events durably, compact. */
export class LedgerStore {
  readonly stateDir: string;
  readonly #compactAfter: number;
  readonly #records: Map<string, LedgerRecord>;
  #serial: number;
  #journalEvents: number;
  #journalValidBytes: number;
  #journalBytes: number;
  #journal: FileHandle | undefined;
  #sorted: LedgerRecord[] | undefined;
  /** Appends and compactions run one at a time, in call order. */
  #queue: Promise<void> = Promise.resolve();
  #broken: Error | undefined;
  #closed = false;

  private constructor(stateDir: string, loaded: Loaded, options: LedgerStoreOptions) {
    this.stateDir = stateDir;
    this.#compactAfter = options.compactAfter ?? DEFAULT_COMPACT_AFTER;
    this.#records = loaded.records;
    this.#serial = loaded.serial;
    this.#journalEvents = loaded.journalEvents;
    this.#journalValidBytes = loaded.journalValidBytes;
    this.#journalBytes = loaded.journalBytes;
  }

  /**
   * Loads the ledger of `stateDir` (an empty one if the directory or its files do not exist yet).
   * Opening writes nothing, so `plan` can read the ledger without changing it.
   */
  static async open(stateDir: string, options: LedgerStoreOptions = {}): Promise<LedgerStore> {
    const warn = options.onWarning ?? (() => {});
    let loaded: Loaded;
    try {
      loaded = await load(stateDir, warn);
    } catch (error) {
      if (isDualsyncError(error)) throw error;
      throw opError('E_LEDGER_READ', `cannot read the ledger in ${stateDir}: ${describeError(error)}`, {
        hint: 'Check that the state directory is readable by this user.',
        cause: error,
      });
    }
    return new LedgerStore(stateDir, loaded, options);
  }

  /** Increases by one with every event; a plan remembers the serial it saw. */
  get serial(): number {
    return this.#serial;
  }

  /** The whole ledger, records sorted by key (UTF-16 code unit order). Do not mutate it. */
  state(): LedgerState {
    this.#sorted ??= [...this.#records.values()].sort(compareKeys);
    return { serial: this.#serial, records: this.#sorted };
  }

  /** The record of one relative key. */
  get(key: string): LedgerRecord | undefined {
    return this.#records.get(key);
  }

  /** Records events; durable (written and fsynced) when the promise resolves. Callers batch. */
  append(events: LedgerEvent[]): Promise<void> {
    return this.#enqueue(async () => {
      if (events.length === 0) return;
      await this.#appendNow(events);
      if (this.#journalEvents >= Math.max(this.#compactAfter, this.#records.size)) await this.#compactNow();
    });
  }

  /** Folds the journal into a new snapshot and empties the journal. */
  compact(): Promise<void> {
    return this.#enqueue(() => this.#compactNow());
  }

  /** Waits for pending writes and releases the journal file. */
  async close(): Promise<void> {
    await this.#enqueue(async () => {
      this.#closed = true;
      await this.#journal?.close();
      this.#journal = undefined;
    });
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new Error('ledger store used after close()');
      if (this.#broken !== undefined) throw this.#broken;
      return work();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  #writeError(file: string, error: unknown) {
    return opError('E_LEDGER_WRITE', `cannot write ${file}: ${describeError(error)}`, {
      hint: 'Check free space and permissions of the state directory.',
      retryable: true,
      cause: error,
    });
  }

  async #openJournal(): Promise<FileHandle> {
    if (this.#journal !== undefined) return this.#journal;
    const file = join(this.stateDir, JOURNAL_FILE);
    await mkdir(this.stateDir, { recursive: true });
    const created = !(await exists(file));
    const handle = await open(file, 'a');
    if (created) await fsyncDirectory(this.stateDir); // the new file's name must survive a power cut too
    if (this.#journalBytes > this.#journalValidBytes) {
      // Cut off the torn line found at load, or the next line would be glued to it.
      await handle.truncate(this.#journalValidBytes);
      await handle.sync();
      this.#journalBytes = this.#journalValidBytes;
    }
    this.#journal = handle;
    return handle;
  }

  async #appendNow(events: LedgerEvent[]): Promise<void> {
    const file = join(this.stateDir, JOURNAL_FILE);
    let text = '';
    events.forEach((event, index) => {
      text += `${JSON.stringify({ formatVersion: FORMAT_VERSION, serial: this.#serial + index + 1, event })}\n`;
    });
    const bytes = Buffer.from(text, 'utf8');
    let handle: FileHandle;
    try {
      handle = await this.#openJournal();
    } catch (error) {
      throw this.#writeError(file, error);
    }
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } catch (error) {
      // Take the half-written batch back out so that later appends do not follow garbage.
      try {
        await handle.truncate(this.#journalValidBytes);
        await handle.sync();
      } catch (truncateError) {
        this.#broken = opError('E_LEDGER_WRITE', `the journal ${file} could not be repaired after a failed write: ${describeError(truncateError)}`, {
          hint: 'Stop dualsync, free space or fix permissions; the next start reads the journal and ignores the torn line.',
          cause: truncateError,
        });
      }
      throw this.#writeError(file, error);
    }
    this.#journalValidBytes += bytes.length;
    this.#journalBytes = this.#journalValidBytes;
    this.#journalEvents += events.length;
    for (const event of events) this.#records.set(event.key, applyEvent(this.#records.get(event.key), event));
    this.#serial += events.length;
    this.#sorted = undefined;
  }

  async #compactNow(): Promise<void> {
    const snapshotFile = join(this.stateDir, SNAPSHOT_FILE);
    const temporary = `${snapshotFile}.tmp`;
    try {
      await mkdir(this.stateDir, { recursive: true });
      const handle = await open(temporary, 'w');
      try {
        await writeSnapshot(handle, this.state());
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, snapshotFile);
      // The rename must be on disk before the journal is emptied, or a power cut could keep
      // the empty journal and the old snapshot.
      await fsyncDirectory(this.stateDir);
    } catch (error) {
      throw this.#writeError(snapshotFile, error);
    }
    if (this.#journalBytes === 0 && !(await exists(join(this.stateDir, JOURNAL_FILE)))) return;
    let handle: FileHandle;
    try {
      handle = await this.#openJournal();
      await handle.truncate(0);
      await handle.sync();
    } catch (error) {
      // The snapshot already holds every event; the old lines are skipped on load.
      throw this.#writeError(join(this.stateDir, JOURNAL_FILE), error);
    }
    this.#journalValidBytes = 0;
    this.#journalBytes = 0;
    this.#journalEvents = 0;
  }
}

/** Writes a snapshot one record per line, so neither writing nor reading needs it as one string. */
async function writeSnapshot(handle: FileHandle, state: LedgerState): Promise<void> {
  let chunk = `${JSON.stringify({ formatVersion: FORMAT_VERSION, serial: state.serial }).slice(0, -1)},"records":[\n`;
  const last = state.records.length - 1;
  for (let index = 0; index <= last; index++) {
    chunk += JSON.stringify(state.records[index]) + (index === last ? '\n' : ',\n');
    if (chunk.length >= READ_CHUNK) {
      await handle.writeFile(chunk);
      chunk = '';
    }
  }
  await handle.writeFile(`${chunk}]}\n`);
}
