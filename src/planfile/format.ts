/**
 * What a plan file must hold, checked field by field with the field named in the refusal
 * (`plan.actions[3].size should be ...`), and the order dualsync writes its actions in. Pure:
 * read.ts hands it the header and each action as it parses them, whatever the file's layout.
 */
import { userError } from '../errors.ts';
import { ACTION_ORDER, ACTION_REASON_CODES, PLAN_NOTE_CODES, PLAN_WARNING_CODES, type Action, type ActionKind, type PlanFile } from '../model/plan.ts';
import { compareKeys } from '../plan/keys.ts';
import { PLAN_FORMAT_VERSION } from './write.ts';
import type { ActionOutOfOrder } from '../model/saved-plan.ts';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const ACTION_KINDS: ReadonlySet<string> = new Set<ActionKind>(['download', 'redownload', 'upload', 'purge', 'adopt', 'skip']);

/** Checks one field of the parsed file, naming it in the error. */
export class Reader {
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
export function checkAction(reader: Reader, item: unknown, index: number): Action {
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

export function notJson(file: string, why: string): never {
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

/** Checks the file's fields; the plan's actions too unless `actions` is false (the reader checks them as they come). */
export function checkRoot(reader: Reader, parsed: unknown, actions: boolean): PlanFile {
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
 * Reads a plan file's whole text, refusing with a user error that names `file` (and the field)
 * when it is not JSON, not a plan file, or written by a newer dualsync; for a small plan held
 * as text. `apply FILE` parses the file as a stream (read.ts), with the same checks.
 */
export function parsePlanFile(text: string, file: string): PlanFile {
  return checkRoot(new Reader(file), parseJson(text, file), true);
}

/**
 * Notes the first action out of the order dualsync writes them in: the kinds in apply order,
 * each kind's actions in key order. Not refused at once, so that the caller can first say
 * whether the digest still matches (an edit is "changed after it was written").
 */
export class PlanOrder {
  #kindRank = -1;
  #lastKey = '';
  /** The first action out of plan order; undefined while all are in order. */
  outOfOrder: ActionOutOfOrder | undefined;

  /** Takes the next action, `plan.actions[index]`. */
  take(action: Action, index: number): void {
    if (this.outOfOrder !== undefined) return;
    const rank = ACTION_ORDER.indexOf(action.kind);
    const by = rank < this.#kindRank ? 'kind' : rank === this.#kindRank && compareKeys(this.#lastKey, action.key) > 0 ? 'key' : undefined;
    if (by !== undefined) {
      this.outOfOrder = { index, kind: action.kind, key: action.key, by, previousKind: ACTION_ORDER[this.#kindRank] as ActionKind, previousKey: this.#lastKey };
    }
    this.#kindRank = rank;
    this.#lastKey = action.key;
  }
}
