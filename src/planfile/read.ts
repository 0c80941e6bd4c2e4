/**
 * Reads a plan file as a stream of JSON tokens, in any valid layout of the JSON dualsync wrote
 * (its own, re-indented by `jq .`, minified by `jq -c .`, keys sorted by `jq -S .`): the header
 * is assembled as it comes, and each action of `plan.actions` is checked, digested and handed
 * to a spool on its own, so a plan of ten million actions is read in bounded memory.
 *
 * The tokens come from stream-json's core tokenizer (a kept library, in steady releases, whose
 * only dependency is its author's stream-chain): a JSON tokenizer by hand is a parser's worth of
 * edge cases (escapes, surrogate pairs, numbers split across chunks) that it already has
 * tests for. The assembling here is small, because only one path is streamed.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { jsonParser, type Token } from 'stream-json/core/parser.js';
import { none } from 'stream-chain/defs.js';
import { userError } from '../errors.ts';
import type { Action, ActionKind, PlanFile } from '../model/plan.ts';
import type { ActionOutOfOrder } from '../model/saved-plan.ts';
import type { KindSegment, RankedSpool, SpoolFactory } from '../model/spool.ts';
import { SpooledActions } from '../plan/spools.ts';
import { checkAction, checkRoot, notJson, PlanOrder, Reader } from './format.ts';
import { canonicalFrame, CanonicalPlanWriter } from './write.ts';
import { digestPlan, hashFeed } from './digest.ts';

/** Bytes read from the file at a time. */
const CHUNK = 1 << 20;

/** A header (everything but the actions) longer than this is no header dualsync wrote: a few volumes, counts and warnings. */
const HEADER_LIMIT = 16 << 20;

/** A container being assembled: an object waiting for its next key's value, or an array. */
interface Open {
  value: Record<string, unknown> | unknown[];
  /** The key whose value comes next (objects only). */
  key?: string;
  /** Where this container sits: 'root', 'plan' (the root's `plan`), 'actions' (the plan's `actions`), or 'other'. */
  place: 'root' | 'plan' | 'actions' | 'action' | 'other';
}

/**
 * Builds JSON values from tokens, handing each element of the root's `plan.actions` to
 * `onAction` as soon as it is complete instead of keeping it: the file's root comes back with
 * `plan.actions` empty. Keys in any order, whitespace of any kind; a key given twice keeps its
 * last value, as JSON.parse does, but a second `plan.actions` is refused (its actions were
 * already handed over).
 */
class PlanAssembler {
  readonly #stack: Open[] = [];
  readonly #onAction: (value: unknown) => void;
  readonly #onActionsStart: (plan: Record<string, unknown>) => void;
  readonly #file: string;
  root: unknown;
  #done = false;
  #headerLength = 0;
  #actionsSeen = false;

  constructor(file: string, onActionsStart: (plan: Record<string, unknown>) => void, onAction: (value: unknown) => void) {
    this.#file = file;
    this.#onActionsStart = onActionsStart;
    this.#onAction = onAction;
  }

  get done(): boolean {
    return this.#done;
  }

  token(token: Token): void {
    switch (token.name) {
      case 'startObject':
        this.#open({}, token);
        return;
      case 'startArray':
        this.#open([], token);
        return;
      case 'endObject':
      case 'endArray':
        this.#close();
        return;
      case 'keyValue':
        this.#count(token.value.length);
        (this.#stack.at(-1) as Open).key = token.value;
        return;
      case 'stringValue':
        this.#count(token.value.length);
        this.#value(token.value);
        return;
      case 'numberValue':
        this.#value(Number(token.value));
        return;
      case 'nullValue':
      case 'trueValue':
      case 'falseValue':
        this.#value(token.value);
        return;
      default:
        // Packed values only: the start/end/chunk tokens of strings and numbers are not asked for.
        return;
    }
  }

  /** Counts the header's text, not the actions': memory must not follow a hand-made header. */
  #count(length: number): void {
    const top = this.#stack.at(-1);
    // Within an action every container is placed 'action': the top of the stack tells.
    if (top !== undefined && (top.place === 'action' || top.place === 'actions')) return;
    this.#headerLength += length + 8;
    if (this.#headerLength > HEADER_LIMIT) {
      throw userError('E_PLAN_FILE', `${this.#file} is not a plan file: its fields besides the actions run past ${HEADER_LIMIT >> 20} MiB`, {
        hint: 'make a new plan with `dualsync plan --out FILE`',
      });
    }
  }

  #placeOf(parent: Open | undefined): Open['place'] {
    if (parent === undefined) return 'root';
    if (parent.place === 'root' && parent.key === 'plan') return 'plan';
    if (parent.place === 'plan' && parent.key === 'actions') return 'actions';
    if (parent.place === 'actions' || parent.place === 'action') return 'action';
    return 'other';
  }

  #open(value: Record<string, unknown> | unknown[], token: Token): void {
    const parent = this.#stack.at(-1);
    let place = this.#placeOf(parent);
    // Only an array at plan.actions streams; a plan whose actions are not an array is refused by the header's check.
    if (place === 'actions' && token.name !== 'startArray') place = 'other';
    if (place === 'actions') {
      if (this.#actionsSeen) notJson(this.#file, 'plan.actions appears twice');
      this.#actionsSeen = true;
      this.#onActionsStart(parent!.value as Record<string, unknown>);
      (parent!.value as Record<string, unknown>)['actions'] = value;
    }
    // An action under plan.actions is an element, not yet stored anywhere.
    if (place === 'action' && parent?.place === 'actions') {
      this.#stack.push({ value, place: 'action' });
      return;
    }
    if (place === 'action') {
      this.#store(parent, value);
      this.#stack.push({ value, place: 'action' });
      return;
    }
    if (place !== 'actions') this.#store(parent, value);
    this.#stack.push({ value, place });
  }

  #close(): void {
    const closed = this.#stack.pop() as Open;
    const parent = this.#stack.at(-1);
    if (closed.place === 'action' && parent?.place === 'actions') this.#onAction(closed.value);
    if (this.#stack.length === 0) this.#done = true;
  }

  #value(value: unknown): void {
    const parent = this.#stack.at(-1);
    if (parent?.place === 'actions') {
      this.#onAction(value);
      return;
    }
    this.#store(parent, value);
    if (parent === undefined) this.#done = true;
  }

  #store(parent: Open | undefined, value: unknown): void {
    if (parent === undefined) {
      this.root = value;
      return;
    }
    if (Array.isArray(parent.value)) {
      parent.value.push(value);
      return;
    }
    const key = parent.key as string;
    // A field named __proto__ is a field, as JSON.parse makes it, not the object's prototype.
    if (key === '__proto__') Object.defineProperty(parent.value, key, { value, enumerable: true, writable: true, configurable: true });
    else parent.value[key] = value;
  }
}

function cannotRead(planPath: string, error?: unknown): never {
  const why = error === undefined ? '' : `: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  throw userError('E_PLAN_MISSING', `cannot read the plan file ${planPath}${why}`, { hint: 'create one with `dualsync plan --out FILE`' });
}

/** The text of a plan file, decoded as UTF-8 a chunk at a time; `at` is the byte offset of the chunk. */
function* fileText(planPath: string): Generator<{ text: string; at: number }> {
  let fd: number;
  try {
    fd = openSync(planPath, 'r');
  } catch (error) {
    return cannotRead(planPath, error);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const buffer = Buffer.allocUnsafe(CHUNK);
  let at = 0;
  try {
    for (;;) {
      let read: number;
      try {
        read = readSync(fd, buffer, 0, CHUNK, null);
      } catch (error) {
        return cannotRead(planPath, error);
      }
      let text: string;
      try {
        text = decoder.decode(buffer.subarray(0, read), { stream: read > 0 });
      } catch {
        return notJson(planPath, `it is not UTF-8 text near byte ${at}`);
      }
      if (text.length > 0) yield { text, at };
      if (read === 0) return;
      at += read;
    }
  } finally {
    closeSync(fd);
  }
}

/** What {@link readPlanFile} found: the file with its actions in spools, the digest of its plan as read, and the first action out of order. */
export interface ReadPlanFile {
  saved: PlanFile<SpooledActions>;
  digest: string;
  outOfOrder?: ActionOutOfOrder;
}

/**
 * Reads a plan file into spools made by `spools` (one per run of a kind, in the file's order),
 * checking each field as it goes and taking the digest of its plan: memory does not follow the
 * number of actions. Refuses, naming the file and the field, a file that is not JSON, not a
 * plan file, or written by a newer dualsync; the digest and the order are the caller's to judge.
 */
export function readPlanFile(planPath: string, spools: SpoolFactory): ReadPlanFile {
  const reader = new Reader(planPath);
  const order = new PlanOrder();
  const hash = createHash('sha256');
  const feed = hashFeed(hash);
  const segments: KindSegment[] = [];
  let spool: RankedSpool | undefined;
  let kind: ActionKind | undefined;
  let count = 0;
  let canonical: CanonicalPlanWriter | undefined;
  let headUsed = '';
  const assembler = new PlanAssembler(
    planPath,
    (plan) => {
      // The canonical form sorts the plan's fields: the head depends only on those before `actions`, mostly none.
      headUsed = canonicalFrame(withoutActions(plan)).head;
      canonical = new CanonicalPlanWriter(headUsed, feed.emit);
    },
    (value) => {
      const action: Action = checkAction(reader, value, count);
      order.take(action, count);
      canonical?.action(action);
      if (action.kind !== kind) {
        spool?.end();
        kind = action.kind;
        spool = spools();
        segments.push({ kind, spools: [spool] });
      }
      (spool as RankedSpool).push(count, action);
      count += 1;
    },
  );
  const tokenize = jsonParser({ packValues: true, streamValues: false });
  const take = (output: unknown): void => {
    if (output === none) return;
    for (const token of (output as { values: Token[] }).values) assembler.token(token);
  };
  let at = 0;
  try {
    for (const chunk of fileText(planPath)) {
      at = chunk.at;
      try {
        take(tokenize(chunk.text));
      } catch (error) {
        if (error instanceof Error && !(error as { code?: unknown }).code) notJson(planPath, `${error.message}, near byte ${at}`);
        throw error;
      }
    }
    try {
      take((tokenize as (input: string | typeof none) => unknown)(none));
    } catch (error) {
      if (error instanceof Error && !(error as { code?: unknown }).code) notJson(planPath, `${error.message}: the file ends early, after ${count} action${count === 1 ? '' : 's'}`);
      throw error;
    }
  } finally {
    spool?.end();
  }
  if (!assembler.done) notJson(planPath, `the file ends early, after ${count} action${count === 1 ? '' : 's'}`);
  const root = assembler.root;
  const header = checkRoot(reader, root, false);
  const saved: PlanFile<SpooledActions> = { ...header, plan: { ...header.plan, actions: new SpooledActions(segments) } };
  const frame = canonicalFrame(withoutActions(header.plan as unknown as Record<string, unknown>));
  let digest: string;
  if (canonical !== undefined && frame.head === headUsed) {
    canonical.end(frame.tail);
    feed.flush();
    digest = hash.digest('hex');
  } else {
    // A field that sorts before `actions` came after them (no dualsync writes one): digest the spooled actions again.
    digest = digestPlan(saved.plan);
  }
  return { saved, digest, ...(order.outOfOrder === undefined ? {} : { outOfOrder: order.outOfOrder }) };
}

function withoutActions(plan: Record<string, unknown>): PlanFile['plan'] {
  const { actions: _actions, ...rest } = plan;
  return rest as unknown as PlanFile['plan'];
}
