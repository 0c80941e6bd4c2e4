/**
 * The plan file written by `plan --out` and read by `apply FILE`, and the canonical form of a
 * plan that its digest is taken over. Pure. The file is indented JSON in a fixed key order, with
 * each flat object (an action, a volume, a count, a note with its few example keys) compact on
 * one line, so a reviewer can read it
 * and diff two of them. The actions are the last field of the plan, and the plan the last of the
 * file, so a reader meets the small header first and then one action per line (see
 * {@link PlanFileLines}); the writers iterate any {@link ActionList}, so neither side holds them all.
 *
 * Over 400 lines: the plan file's writer, validator and line reader must agree on one format,
 * so they stay in the one module that owns it.
 */
import { userError } from '../errors.ts';
import { ACTION_ORDER, ACTION_REASON_CODES, PLAN_NOTE_CODES, PLAN_WARNING_CODES, type Action, type ActionKind, type ActionList, type Plan, type PlanFile } from '../model/plan.ts';
import { compareKeys } from '../plan/keys.ts';

/** The plan file format this version reads and writes. */
export const PLAN_FORMAT_VERSION = 1;

/** Keys in reading order; any other key follows, sorted. */
const KEY_ORDER = [
  'formatVersion',
  'createdAt',
  'configDigest',
  'configFields',
  'inputDigest',
  'ledgerSerial',
  'planDigest',
  'plan',
  'summary',
  'download',
  'redownload',
  'upload',
  'purge',
  'adopt',
  'skip',
  'deferred',
  'noChanges',
  'code',
  'count',
  'bytes',
  'limitBytes',
  'collidesWith',
  'hops',
  'workers',
  'concurrency',
  'maxConnections',
  'volumes',
  'root',
  'freeBytes',
  'reserveBytes',
  'plannedDownloadBytes',
  'plannedDownloads',
  'device',
  'warnings',
  'notes',
  'actions',
  'kind',
  'key',
  'size',
  'etag',
  'volume',
  'afterDownload',
  'adoptBy',
  'destinationEtag',
  'localProof',
  'replaces',
  'reason',
  'examples',
];
const KEY_RANK = new Map(KEY_ORDER.map((key, index) => [key, index]));

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An array, or a list of actions read back from spools as it is iterated: written as a JSON array. */
function isList(value: object): value is ActionList {
  return Array.isArray(value) || (Symbol.iterator in value && typeof (value as { length?: unknown }).length === 'number');
}

function byReadingOrder(a: string, b: string): number {
  const rankA = KEY_RANK.get(a) ?? KEY_ORDER.length;
  const rankB = KEY_RANK.get(b) ?? KEY_ORDER.length;
  return rankA - rankB || compareKeys(a, b);
}

/** An object's property names in output order, and each already quoted with its separator. */
interface Shape {
  names: string[];
  labels: string[];
}

/** How JSON is laid out: pretty (reading order, one flat object per line) or canonical (sorted, compact). */
interface Style {
  pretty: boolean;
  compare: (a: string, b: string) => number;
  /** Sorted names per distinct key list: a million actions share a handful of shapes. */
  shapes: Map<string, Shape>;
  /** The key list seen last, in its own order, and its shape. */
  last?: { keys: string[]; shape: Shape };
  /** A value written as nothing but a call of `onHole` (where {@link CanonicalPlanWriter} puts the actions). */
  hole?: unknown;
  onHole?: () => void;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function shapeOf(record: Record<string, unknown>, style: Style): Shape {
  const keys = Object.keys(record);
  // Consecutive actions mostly share a key list: compare with the last one before building a signature.
  const last = style.last;
  if (last !== undefined && sameNames(keys, last.keys)) return last.shape;
  const signature = JSON.stringify(keys);
  let shape = style.shapes.get(signature);
  if (shape === undefined) {
    const names = [...keys].sort(style.compare);
    const colon = style.pretty ? ': ' : ':';
    shape = { names, labels: names.map((name) => `${JSON.stringify(name)}${colon}`) };
    style.shapes.set(signature, shape);
  }
  style.last = { keys, shape };
  return shape;
}

/**
 * Concatenation as one flat string. Joins, unlike `+` and templates, do not leave a tree of
 * fragments per action line alive until the whole text is joined.
 */
function joined(...parts: string[]): string {
  return parts.join('');
}

/** Marks a value that holds objects or arrays, which {@link flatValue} cannot lay out on one line. */
const DEEP = Symbol('deep');

/** An array of a few strings or numbers (a note's example keys): laid out on its object's line. */
function isShortFlatArray(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > 3) return false;
  for (const item of value) if (item !== null && typeof item === 'object') return false;
  return true;
}

/**
 * A value holding no objects or arrays but a few short ones of primitives and an action's flat
 * `reason` (a code and its facts), ready for the native
 * JSON.stringify: primitives as they are, objects copied into a fresh object with their fields
 * in output order (objects built in the same order share one hidden class, which keeps a
 * million actions fast, and JSON's own rules apply: undefined left out, non-finite numbers as
 * null). DEEP for anything deeper.
 */
function flatValue(value: unknown, style: Style, nested = false): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (isList(value)) return value.length === 0 ? [] : DEEP;
  const record = value as Record<string, unknown>;
  const names = shapeOf(record, style).names;
  const ordered: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    // An assignment to __proto__ would set the prototype, not a field: take the general path.
    if (name === '__proto__') return DEEP;
    const item = record[name];
    if (item !== null && typeof item === 'object' && !isShortFlatArray(item)) {
      // An action's reason (a flat object of a code and its facts) stays on the action's line.
      if (name !== 'reason' || nested || isList(item)) return DEEP;
      const inner = flatValue(item, style, true);
      if (inner === DEEP) return DEEP;
      ordered[name] = inner;
      continue;
    }
    ordered[name] = item;
  }
  return ordered;
}

/** Flat array elements per piece: few pieces, and no one giant array of them. */
const BATCH = 4096;

/**
 * Writes the JSON text of `value` to `emit` in pieces (a batch of array elements at most), so a
 * plan of millions of actions can be hashed or written as it goes. Compact batches are laid out
 * by one native JSON.stringify of the batch; indented ones line by line.
 */
function writeJson(value: unknown, style: Style, indent: string, emit: (piece: string) => void): void {
  if (value === style.hole && style.hole !== undefined) {
    style.onHole?.();
    return;
  }
  const flat = flatValue(value, style);
  if (flat !== DEEP) {
    emit(JSON.stringify(flat) ?? 'null');
    return;
  }
  const inner = style.pretty ? `${indent}  ` : '';
  const open = style.pretty ? '\n' : '';
  const between = style.pretty ? ',\n' : ',';
  const close = style.pretty ? `${open}${indent}` : '';
  if (isList(value as object)) {
    emit(`[${open}`);
    let first = true;
    let batch: unknown[] = [];
    const flush = (): void => {
      if (batch.length === 0) return;
      if (!first) emit(between);
      if (style.pretty) {
        emit(inner);
        emit(batch.join(`${between}${inner}`));
      } else {
        emit(JSON.stringify(batch).slice(1, -1));
      }
      first = false;
      batch = [];
    };
    for (const element of value as Iterable<unknown>) {
      const item = flatValue(element, style);
      if (item !== DEEP) {
        batch.push(style.pretty ? (JSON.stringify(item) ?? 'null') : item);
        if (batch.length === BATCH) flush();
        continue;
      }
      flush();
      emit(joined(first ? '' : between, inner));
      writeJson(element, style, inner, emit);
      first = false;
    }
    flush();
    emit(`${close}]`);
    return;
  }
  const record = value as Record<string, unknown>;
  const shape = shapeOf(record, style);
  emit(`{${open}`);
  let first = true;
  for (let i = 0; i < shape.names.length; i++) {
    const item = record[shape.names[i] as string];
    if (item === undefined) continue;
    emit(joined(first ? '' : between, inner, shape.labels[i] as string));
    writeJson(item, style, inner, emit);
    first = false;
  }
  emit(`${close}}`);
}

/**
 * Writes the plan file's text to `emit` piece by piece, for a plan too large to hold as one
 * string (V8 caps a string at about 2^29 characters, roughly 3 million action lines).
 */
export function writePlanFile(pf: PlanFile, emit: (piece: string) => void): void {
  writeJson(pf, { pretty: true, compare: byReadingOrder, shapes: new Map() }, '', emit);
  emit('\n');
}

/** The plan file's text: stable JSON (fixed key order, one action per line), ending in a newline. */
export function serializePlanFile(pf: PlanFile): string {
  const pieces: string[] = [];
  writePlanFile(pf, (piece) => pieces.push(piece));
  return pieces.join('');
}

/**
 * Writes {@link canonicalPlanJson} to `emit` piece by piece: feeding every piece to a hash in
 * order gives the same digest as hashing the whole text, without ever holding it.
 */
export function writeCanonicalPlan(plan: Plan, emit: (piece: string) => void): void {
  writeJson(plan, { pretty: false, compare: compareKeys, shapes: new Map() }, '', emit);
}

/**
 * The plan as compact JSON with every object's keys in {@link compareKeys} order and undefined fields
 * left out: the same plan always gives the same text, whatever order its fields were set in.
 * The engine hashes it into `planDigest`, so a hand-edited plan file is refused.
 */
export function canonicalPlanJson(plan: Plan): string {
  const pieces: string[] = [];
  writeCanonicalPlan(plan, (piece) => pieces.push(piece));
  return pieces.join('');
}

const ACTIONS_HOLE = Symbol('actions');

/**
 * {@link writeCanonicalPlan} for actions that arrive one at a time (a plan file read line by
 * line): the plan without its actions is given first, then each action, then {@link end}. The
 * pieces emitted are those of writeCanonicalPlan on the whole plan, so a hash of them is the
 * same digest.
 */
export class CanonicalPlanWriter {
  readonly #style: Style = { pretty: false, compare: compareKeys, shapes: new Map() };
  readonly #emit: (piece: string) => void;
  readonly #tail: string;
  #first = true;

  constructor(plan: Omit<Plan, 'actions'>, emit: (piece: string) => void) {
    this.#emit = emit;
    const head: string[] = [];
    const tail: string[] = [];
    let pieces = head;
    // The actions' place is found by the writer itself, not by searching the text.
    const frame: Style = { ...this.#style, shapes: new Map(), hole: ACTIONS_HOLE, onHole: () => (pieces = tail) };
    writeJson({ ...plan, actions: ACTIONS_HOLE }, frame, '', (piece) => pieces.push(piece));
    emit(`${head.join('')}[`);
    this.#tail = `]${tail.join('')}`;
  }

  action(action: unknown): void {
    if (!this.#first) this.#emit(',');
    this.#first = false;
    writeJson(action, this.#style, '', this.#emit);
  }

  end(): void {
    this.#emit(this.#tail);
  }
}

const ACTION_KINDS: ReadonlySet<string> = new Set<ActionKind>(['download', 'redownload', 'upload', 'purge', 'adopt', 'skip']);

/** Checks one field of the parsed file, naming it in the error. */
class Reader {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  fail(field: string, expected: string): never {
    throw userError('E_PLAN_FILE', `${this.file}: ${field} should be ${expected}; this is not a plan file dualsync wrote, or it was edited`, {
      hint: 'make a new plan with `dualsync plan --out FILE`',
    });
  }

  record(value: unknown, field: string): Record<string, unknown> {
    if (!isRecord(value)) this.fail(field, 'an object');
    return value;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string') this.fail(field, 'a string');
    return value;
  }

  count(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.fail(field, 'a whole number of at least 0');
    return value;
  }

  optional<T>(value: unknown, field: string, read: (value: unknown, field: string) => T): void {
    if (value !== undefined) read.call(this, value, field);
  }

  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, 'an array');
    return value;
  }

  formatVersion(value: unknown, field: string): void {
    if (typeof value === 'number' && Number.isInteger(value) && value > PLAN_FORMAT_VERSION) {
      throw userError('E_PLAN_FILE_NEWER', `${this.file} was written by a newer dualsync (plan format ${value}; this one reads format ${PLAN_FORMAT_VERSION})`, {
        hint: 'apply it with the dualsync that made it, or make a new plan with this one',
      });
    }
    if (value !== PLAN_FORMAT_VERSION) this.fail(field, `${PLAN_FORMAT_VERSION}`);
  }
}

const ADOPT_RULES = new Set(['md5', 'multipart-etag', 'content', 'size']);
const LOCAL_PROOFS = new Set(['md5', 'multipart-etag']);

/** Checks one action of the plan, naming it `plan.actions[index]` in the error. */
function checkAction(reader: Reader, item: unknown, index: number): Action {
  const field = `plan.actions[${index}]`;
  const action = reader.record(item, field);
  if (typeof action.kind !== 'string' || !ACTION_KINDS.has(action.kind)) reader.fail(`${field}.kind`, `one of ${[...ACTION_KINDS].join(', ')}`);
  reader.string(action.key, `${field}.key`);
  reader.count(action.size, `${field}.size`);
  reader.string(action.etag, `${field}.etag`);
  reader.optional(action.volume, `${field}.volume`, reader.string);
  reader.optional(action.reason, `${field}.reason`, (value, name) => checkCoded(reader, value, name, REASON_CODES));
  reader.optional(action.replaces, `${field}.replaces`, reader.string);
  if (action.afterDownload !== undefined && typeof action.afterDownload !== 'boolean') reader.fail(`${field}.afterDownload`, 'true or false');
  // Every adopt names the rule that proves it; one without (a plan of an older dualsync, which
  // adopted on size alone) is refused rather than applied under the old rule.
  if (action.kind === 'adopt' ? !ADOPT_RULES.has(action.adoptBy as string) : action.adoptBy !== undefined) {
    reader.fail(`${field}.adoptBy`, action.kind === 'adopt' ? `one of ${[...ADOPT_RULES].join(', ')} (make a new plan)` : 'absent: only an adopt has a rule');
  }
  reader.optional(action.destinationEtag, `${field}.destinationEtag`, reader.string);
  if (action.localProof !== undefined && !LOCAL_PROOFS.has(action.localProof as string)) reader.fail(`${field}.localProof`, `one of ${[...LOCAL_PROOFS].join(', ')}`);
  return action as unknown as Action;
}

/** Checks the plan; its actions too unless `actions` is false (a reader of lines checks them one by one). */
function checkPlan(reader: Reader, value: unknown, actions = true): void {
  const plan = reader.record(value, 'plan');
  reader.formatVersion(plan.formatVersion, 'plan.formatVersion');
  const list = reader.array(plan.actions, 'plan.actions');
  if (actions) list.forEach((item, index) => checkAction(reader, item, index));
  const summary = reader.record(plan.summary, 'plan.summary');
  for (const kind of ['download', 'upload', 'purge', 'adopt', 'deferred'] as const) {
    const part = reader.record(summary[kind], `plan.summary.${kind}`);
    reader.count(part.count, `plan.summary.${kind}.count`);
    reader.count(part.bytes, `plan.summary.${kind}.bytes`);
  }
  reader.count(reader.record(summary.skip, 'plan.summary.skip').count, 'plan.summary.skip.count');
  if (typeof summary.noChanges !== 'boolean') reader.fail('plan.summary.noChanges', 'true or false');
  reader.array(plan.volumes, 'plan.volumes').forEach((item, index) => {
    const field = `plan.volumes[${index}]`;
    const volume = reader.record(item, field);
    reader.string(volume.root, `${field}.root`);
    for (const name of ['freeBytes', 'reserveBytes', 'plannedDownloadBytes', 'plannedDownloads'] as const) reader.count(volume[name], `${field}.${name}`);
    reader.optional(volume.device, `${field}.device`, reader.string);
  });
  const hops = reader.record(plan.hops, 'plan.hops');
  for (const name of ['download', 'upload'] as const) {
    const hop = reader.record(hops[name], `plan.hops.${name}`);
    reader.count(hop.workers, `plan.hops.${name}.workers`);
    reader.count(hop.concurrency, `plan.hops.${name}.concurrency`);
    reader.optional(hop.maxConnections, `plan.hops.${name}.maxConnections`, reader.count);
  }
  reader.array(plan.warnings, 'plan.warnings').forEach((item, index) => checkCoded(reader, item, `plan.warnings[${index}]`, WARNING_CODES));
  // Absent in plan files of older versions, whose warnings hold the notes' sentences.
  reader.optional(plan.notes, 'plan.notes', (value, field) => reader.array(value, field).forEach((item, index) => checkNote(reader, item, `${field}[${index}]`)));
}

const NOTE_CODES: ReadonlySet<string> = new Set(PLAN_NOTE_CODES);
const REASON_CODES: ReadonlySet<string> = new Set(ACTION_REASON_CODES);
const WARNING_CODES: ReadonlySet<string> = new Set(PLAN_WARNING_CODES);

/**
 * Checks an action's reason or a plan warning: a code it knows and facts that are strings or
 * numbers. Plan files of older versions held sentences here: they are refused, to be made anew.
 */
function checkCoded(reader: Reader, value: unknown, field: string, codes: ReadonlySet<string>): void {
  if (typeof value === 'string') reader.fail(field, 'an object with a code (a plan file of an older dualsync holds a sentence here: make a new plan)');
  const coded = reader.record(value, field);
  if (typeof coded.code !== 'string' || !codes.has(coded.code)) reader.fail(`${field}.code`, `one of ${[...codes].join(', ')}`);
  for (const [name, fact] of Object.entries(coded)) {
    if (typeof fact !== 'string' && !(typeof fact === 'number' && Number.isFinite(fact))) reader.fail(`${field}.${name}`, 'a string or a number');
  }
}

/** Checks one note of the plan, naming it `plan.notes[index]` in the error. */
function checkNote(reader: Reader, item: unknown, field: string): void {
  const note = reader.record(item, field);
  if (typeof note.code !== 'string' || !NOTE_CODES.has(note.code)) reader.fail(`${field}.code`, `one of ${[...NOTE_CODES].join(', ')}`);
  reader.count(note.count, `${field}.count`);
  reader.optional(note.bytes, `${field}.bytes`, reader.count);
  reader.optional(note.limitBytes, `${field}.limitBytes`, reader.count);
  reader.optional(note.collidesWith, `${field}.collidesWith`, reader.string);
  reader.optional(note.volume, `${field}.volume`, reader.string);
  reader.array(note.examples, `${field}.examples`).forEach((example, index) => reader.string(example, `${field}.examples[${index}]`));
}

function notJson(file: string, why: string): never {
  throw userError('E_PLAN_FILE', `${file} is not a plan file: it is not valid JSON (${why})`, {
    hint: 'make a new plan with `dualsync plan --out FILE`',
  });
}

function parseJson(text: string, file: string, where?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return notJson(file, where === undefined ? why : `${where}: ${why}`);
  }
}

/** Checks everything but the actions. */
function checkRoot(reader: Reader, parsed: unknown, actions: boolean): PlanFile {
  const root = reader.record(parsed, 'the file');
  reader.formatVersion(root.formatVersion, 'formatVersion');
  reader.string(root.createdAt, 'createdAt');
  reader.string(root.configDigest, 'configDigest');
  reader.optional(root.configFields, 'configFields', (value, field) => {
    for (const [name, digest] of Object.entries(reader.record(value, field))) reader.string(digest, `${field}.${name}`);
  });
  reader.string(root.inputDigest, 'inputDigest');
  reader.count(root.ledgerSerial, 'ledgerSerial');
  reader.string(root.planDigest, 'planDigest');
  checkPlan(reader, root.plan, actions);
  return parsed as PlanFile;
}

/**
 * Reads a plan file, refusing with a user error that names `file` (and the field) when it is
 * not JSON, not a plan file, or written by a newer dualsync. Its digests are the engine's to check.
 */
export function parsePlanFile(text: string, file: string): PlanFile {
  return checkRoot(new Reader(file), parseJson(text, file), true);
}

/** The lines that open, close and end the actions, as {@link writePlanFile} lays them out. */
const ACTIONS_OPEN = '    "actions": [';
const ACTIONS_NONE = '    "actions": []';
const ACTIONS_CLOSE = '    ]';
const ACTION_LINE = '      {"';
const FILE_END = ['  }', '}'];

/** A header longer than this is no header dualsync wrote (a few volumes, counts and warnings). */
const HEADER_LIMIT = 16 << 20;

/**
 * Reads a plan file line by line as {@link writePlanFile} lays it out, so that a plan of
 * millions of actions is read in bounded memory: the header (everything before the
 * `"actions": [` line) is parsed and checked as one JSON text once that line arrives, and then
 * each action line on its own, with the checks and the field names (`plan.actions[i].size`) of
 * {@link parsePlanFile}. A file laid out otherwise (re-indented by hand) is refused; one cut
 * short is refused as not valid JSON.
 *
 * dualsync writes the kinds in apply order and each kind's actions in key order; a file that is
 * not is noted in {@link outOfOrder} rather than refused at once, so that the caller can first
 * say whether the digest still matches (an edit is "changed after it was written").
 */
export class PlanFileLines {
  readonly #file: string;
  readonly #reader: Reader;
  #state: 'header' | 'actions' | 'end' | 'done' = 'header';
  #header: string[] = [];
  #headerLength = 0;
  #parsed: PlanFile | undefined;
  #count = 0;
  #lines = 0;
  #comma = false;
  #endLines = 0;
  /** The line that did not fit the layout: refused unless it was the last (then the file was cut short). */
  #stray: string | undefined;
  #kindRank = -1;
  #lastKey: string | undefined;
  /** The first action out of plan order, described; undefined while all are in order. */
  outOfOrder: string | undefined;

  constructor(file: string) {
    this.#file = file;
    this.#reader = new Reader(file);
  }

  /** The file's header, its plan's `actions` empty: there once the first action has been read. */
  get header(): PlanFile | undefined {
    return this.#parsed;
  }

  /** The actions read so far. */
  get count(): number {
    return this.#count;
  }

  /** Takes the next line (without its line break); returns the action it holds, if it holds one. */
  line(text: string): Action | undefined {
    if (this.#stray !== undefined) this.#notLaidOut(this.#stray);
    this.#lines += 1;
    switch (this.#state) {
      case 'header':
        if (text === ACTIONS_OPEN) {
          // Parsed once the next line shows the layout: JSON re-indented by another tool has this line too.
          this.#state = 'actions';
          return undefined;
        }
        if (text === ACTIONS_NONE) {
          this.#parseHeader();
          this.#state = 'end';
          return undefined;
        }
        this.#headerLength += text.length + 1;
        if (this.#headerLength > HEADER_LIMIT) this.#notLaidOut('its header runs past 16 MiB');
        this.#header.push(text);
        return undefined;
      case 'actions':
        if (text.startsWith(ACTION_LINE)) return this.#action(text);
        if (text === ACTIONS_CLOSE) {
          if (this.#parsed === undefined) this.#parseHeader();
          if (this.#comma) notJson(this.#file, `a comma after the last action, plan.actions[${this.#count - 1}]`);
          this.#state = 'end';
          return undefined;
        }
        this.#stray = `line ${this.#lineNumber()} is neither an action nor the end of the actions`;
        return undefined;
      case 'end':
        if (text === FILE_END[this.#endLines]) {
          this.#endLines += 1;
          if (this.#endLines === FILE_END.length) this.#state = 'done';
        } else {
          this.#stray = `line ${this.#lineNumber()} should close the plan with ${JSON.stringify(FILE_END[this.#endLines])}`;
        }
        return undefined;
      case 'done':
        if (text.trim() !== '') this.#stray = `line ${this.#lineNumber()} follows the end of the plan`;
        return undefined;
    }
  }

  /** The file has ended: refuses one that stopped short. Returns the header (the plan's actions empty). */
  end(): PlanFile {
    if (this.#state === 'header') {
      // No actions line: a file cut short in its header, or JSON laid out by something else.
      const parsed = parseJson(this.#header.join('\n'), this.#file);
      checkRoot(this.#reader, parsed, true);
      this.#notLaidOut('it has no line `    "actions": [`');
    }
    if (this.#stray !== undefined && this.#state === 'done') notJson(this.#file, this.#stray);
    if (this.#state === 'actions' && this.#parsed === undefined) this.#parseHeader();
    if (this.#state !== 'done') notJson(this.#file, `the file ends early, after ${this.#count} action${this.#count === 1 ? '' : 's'}`);
    return this.#parsed as PlanFile;
  }

  #lineNumber(): number {
    return this.#lines;
  }

  #parseHeader(): void {
    // The header, closed as if the actions were empty; the plan is the file's last field, and the actions the plan's.
    const text = `${this.#header.join('\n')}\n${ACTIONS_NONE}\n${FILE_END.join('\n')}`;
    this.#parsed = checkRoot(this.#reader, parseJson(text, this.#file), false);
    this.#header = [];
  }

  #action(text: string): Action {
    if (this.#parsed === undefined) this.#parseHeader();
    const index = this.#count;
    const field = `plan.actions[${index}]`;
    if (index > 0 && !this.#comma) notJson(this.#file, `no comma between plan.actions[${index - 1}] and ${field}`);
    this.#comma = text.endsWith(',');
    const action = checkAction(this.#reader, parseJson(this.#comma ? text.slice(0, -1) : text, this.#file, field), index);
    this.#count += 1;
    if (this.outOfOrder === undefined) {
      const rank = ACTION_ORDER.indexOf(action.kind);
      if (rank < this.#kindRank) {
        this.outOfOrder = `${field} is a ${action.kind} after the ${ACTION_ORDER[this.#kindRank]}s (dualsync writes the kinds in the order ${ACTION_ORDER.join(', ')})`;
      } else if (rank === this.#kindRank && compareKeys(this.#lastKey as string, action.key) > 0) {
        this.outOfOrder = `${field} (${action.kind} ${JSON.stringify(action.key)}) comes after ${JSON.stringify(this.#lastKey)} (dualsync writes each kind's actions in key order)`;
      }
      this.#kindRank = rank;
      this.#lastKey = action.key;
    }
    return action;
  }

  #notLaidOut(why: string): never {
    throw userError('E_PLAN_FILE', `${this.#file} is not laid out as dualsync writes a plan file (${why}); it was re-indented or rewritten by another tool`, {
      hint: 'make a new plan with `dualsync plan --out FILE` (apply reads a plan file one action per line, as dualsync writes it)',
    });
  }
}
