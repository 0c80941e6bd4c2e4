/**
 * Writes the plan file (`plan --out`) and the canonical form of a plan that its digest is
 * taken over. Pure. The file is indented JSON in a fixed key order, with each flat object (an
 * action, a volume, a count, a note with its few example keys) compact on one line, so a
 * reviewer can read it and diff two of them; the actions are the last field of the plan, and the
 * plan the last of the file, so a reader meets the small header first. Any other layout of the
 * same JSON reads back the same (see read.ts). The writers iterate any {@link ActionList}, so
 * they never hold every action.
 */
import type { Plan, PlanFile } from '../model/plan.ts';
import { compareKeys } from '../plan/keys.ts';
import { jsonStyle, writeJson } from './json.ts';

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

function byReadingOrder(a: string, b: string): number {
  const rankA = KEY_RANK.get(a) ?? KEY_ORDER.length;
  const rankB = KEY_RANK.get(b) ?? KEY_ORDER.length;
  return rankA - rankB || compareKeys(a, b);
}

/**
 * Writes the plan file's text to `emit` piece by piece, for a plan too large to hold as one
 * string (V8 caps a string at about 2^29 characters, roughly 3 million action lines).
 */
export function writePlanFile(pf: PlanFile, emit: (piece: string) => void): void {
  writeJson(pf, jsonStyle(true, byReadingOrder), '', emit);
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
  writeJson(plan, jsonStyle(false, compareKeys), '', emit);
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
 * The canonical text of a plan around its actions: `head` up to the actions' opening bracket,
 * `tail` from their closing one. It depends on the fields of the plan besides its actions only.
 */
export function canonicalFrame(plan: Omit<Plan, 'actions'>): { head: string; tail: string } {
  const head: string[] = [];
  const tail: string[] = [];
  let pieces = head;
  // The actions' place is found by the writer itself, not by searching the text.
  const frame = { ...jsonStyle(false, compareKeys), hole: ACTIONS_HOLE, onHole: () => (pieces = tail) };
  writeJson({ ...plan, actions: ACTIONS_HOLE }, frame, '', (piece) => pieces.push(piece));
  return { head: `${head.join('')}[`, tail: `]${tail.join('')}` };
}

/**
 * {@link writeCanonicalPlan} for actions that arrive one at a time (a plan file as it is
 * parsed): the frame's head first, then each action, then the frame's tail. The pieces emitted
 * are those of writeCanonicalPlan on the whole plan, so a hash of them is the same digest.
 */
export class CanonicalPlanWriter {
  readonly #style = jsonStyle(false, compareKeys);
  readonly #emit: (piece: string) => void;
  #first = true;

  /** Emits `head` at once: the part of {@link canonicalFrame} before the actions. */
  constructor(head: string, emit: (piece: string) => void) {
    this.#emit = emit;
    emit(head);
  }

  action(action: unknown): void {
    if (!this.#first) this.#emit(',');
    this.#first = false;
    writeJson(action, this.#style, '', this.#emit);
  }

  /** Emits `tail`: the part of {@link canonicalFrame} after the actions. */
  end(tail: string): void {
    this.#emit(tail);
  }
}
