/**
 * The plan file written by `plan --out` and read by `apply FILE`, and the canonical form of a
 * plan that its digest is taken over. Pure. The file is pretty JSON in a fixed key order with
 * one action per line, so a reviewer can read it and diff two of them.
 */
import { userError } from '../errors.ts';
import type { ActionKind, Plan, PlanFile } from '../model/plan.ts';

/** The plan file format this version reads and writes. */
export const PLAN_FORMAT_VERSION = 1;

/** Keys in reading order; any other key follows, sorted. */
const KEY_ORDER = [
  'formatVersion',
  'createdAt',
  'configDigest',
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
  'count',
  'bytes',
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
  'warnings',
  'actions',
  'kind',
  'key',
  'size',
  'etag',
  'volume',
  'afterDownload',
  'reason',
];
const KEY_RANK = new Map(KEY_ORDER.map((key, index) => [key, index]));

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function definedKeys(value: Record<string, unknown>, compare: (a: string, b: string) => number): string[] {
  return Object.keys(value)
    .filter((key) => value[key] !== undefined)
    .sort(compare);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byReadingOrder(a: string, b: string): number {
  const rankA = KEY_RANK.get(a) ?? KEY_ORDER.length;
  const rankB = KEY_RANK.get(b) ?? KEY_ORDER.length;
  return rankA - rankB || byCodeUnit(a, b);
}

function isFlat(value: unknown): boolean {
  if (Array.isArray(value)) return false;
  if (!isRecord(value)) return true;
  return Object.values(value).every((item) => item === null || typeof item !== 'object');
}

/** One line: `{"kind": "download", "key": "a", ...}`. */
function inline(value: unknown): string {
  if (!isRecord(value)) return JSON.stringify(value);
  const parts = definedKeys(value, byReadingOrder).map((key) => `${JSON.stringify(key)}: ${JSON.stringify(value[key])}`);
  return `{${parts.join(', ')}}`;
}

function pretty(value: unknown, indent: string, out: string[]): void {
  if (isFlat(value)) {
    out.push(inline(value));
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push('[]');
      return;
    }
    out.push('[\n');
    value.forEach((item, index) => {
      out.push(inner);
      pretty(item, inner, out);
      out.push(index === value.length - 1 ? '\n' : ',\n');
    });
    out.push(`${indent}]`);
    return;
  }
  const record = value as Record<string, unknown>;
  const keys = definedKeys(record, byReadingOrder);
  out.push('{\n');
  keys.forEach((key, index) => {
    out.push(`${inner}${JSON.stringify(key)}: `);
    pretty(record[key], inner, out);
    out.push(index === keys.length - 1 ? '\n' : ',\n');
  });
  out.push(`${indent}}`);
}

/** The plan file's text: stable, pretty JSON (fixed key order, one action per line), ending in a newline. */
export function serializePlanFile(pf: PlanFile): string {
  const out: string[] = [];
  pretty(pf, '', out);
  out.push('\n');
  return out.join('');
}

function canonical(value: unknown, out: string[]): void {
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, index) => {
      if (index > 0) out.push(',');
      canonical(item, out);
    });
    out.push(']');
  } else if (isRecord(value)) {
    out.push('{');
    definedKeys(value, byCodeUnit).forEach((key, index) => {
      if (index > 0) out.push(',');
      out.push(JSON.stringify(key), ':');
      canonical(value[key], out);
    });
    out.push('}');
  } else {
    out.push(JSON.stringify(value));
  }
}

/**
 * The plan as compact JSON with every object's keys in code-unit order and undefined fields
 * left out: the same plan always gives the same text, whatever order its fields were set in.
 * The engine hashes it into `planDigest`, so a hand-edited plan file is refused.
 */
export function canonicalPlanJson(plan: Plan): string {
  const out: string[] = [];
  canonical(plan, out);
  return out.join('');
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

function checkPlan(reader: Reader, value: unknown): void {
  const plan = reader.record(value, 'plan');
  reader.formatVersion(plan.formatVersion, 'plan.formatVersion');
  reader.array(plan.actions, 'plan.actions').forEach((item, index) => {
    const field = `plan.actions[${index}]`;
    const action = reader.record(item, field);
    if (typeof action.kind !== 'string' || !ACTION_KINDS.has(action.kind)) reader.fail(`${field}.kind`, `one of ${[...ACTION_KINDS].join(', ')}`);
    reader.string(action.key, `${field}.key`);
    reader.count(action.size, `${field}.size`);
    reader.string(action.etag, `${field}.etag`);
    reader.optional(action.volume, `${field}.volume`, reader.string);
    reader.optional(action.reason, `${field}.reason`, reader.string);
    if (action.afterDownload !== undefined && typeof action.afterDownload !== 'boolean') reader.fail(`${field}.afterDownload`, 'true or false');
  });
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
  });
  const hops = reader.record(plan.hops, 'plan.hops');
  for (const name of ['download', 'upload'] as const) {
    const hop = reader.record(hops[name], `plan.hops.${name}`);
    reader.count(hop.workers, `plan.hops.${name}.workers`);
    reader.count(hop.concurrency, `plan.hops.${name}.concurrency`);
    reader.optional(hop.maxConnections, `plan.hops.${name}.maxConnections`, reader.count);
  }
  reader.array(plan.warnings, 'plan.warnings').forEach((item, index) => reader.string(item, `plan.warnings[${index}]`));
}

/**
 * Reads a plan file, refusing with a user error that names `file` (and the field) when it is
 * not JSON, not a plan file, or written by a newer dualsync. Its digests are the engine's to check.
 */
export function parsePlanFile(text: string, file: string): PlanFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw userError('E_PLAN_FILE', `${file} is not a plan file: it is not valid JSON (${error instanceof Error ? error.message : String(error)})`, {
      hint: 'make a new plan with `dualsync plan --out FILE`',
    });
  }
  const reader = new Reader(file);
  const root = reader.record(parsed, 'the file');
  reader.formatVersion(root.formatVersion, 'formatVersion');
  reader.string(root.createdAt, 'createdAt');
  reader.string(root.configDigest, 'configDigest');
  reader.string(root.inputDigest, 'inputDigest');
  reader.count(root.ledgerSerial, 'ledgerSerial');
  reader.string(root.planDigest, 'planDigest');
  checkPlan(reader, root.plan);
  return parsed as PlanFile;
}
