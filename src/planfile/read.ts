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
 *
 * Over 400 lines: the writer's own layout is read a line per action (JSON.parse, the fast path)
 * and any other layout by tokens; both share the checks and the digest, and the line path hands
 * over to the tokens mid-file at the first line it does not know. Split, that hand-over would
 * cross a file boundary.
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

/**
 * Bytes read from the file at a time. Measured at a million actions: 64 KiB chunks peak at
 * 80 MiB less RSS than 1 MiB ones (each chunk is decoded to one string, and the action lines
 * are sliced from it), for the same CPU.
 */
const CHUNK = 1 << 16;

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
  /** Elements of plan.actions taken so far, and how many of the next ones stand in for actions read as lines. */
  #elements = 0;
  #standIns = 0;

  constructor(file: string, onActionsStart: (plan: Record<string, unknown>) => void, onAction: (value: unknown) => void) {
    this.#file = file;
    this.#onActionsStart = onActionsStart;
    this.#onAction = onAction;
  }

  get done(): boolean {
    return this.#done;
  }

  /** Whether plan.actions has opened. */
  get actionsOpened(): boolean {
    return this.#actionsSeen;
  }

  /** Whether the tokens so far end right after plan.actions' opening bracket, before any element. */
  get atActionsStart(): boolean {
    return this.#stack.at(-1)?.place === 'actions' && this.#elements === 0;
  }

  /**
   * The next element of plan.actions stands in for the actions read as lines (see
   * {@link readPlanFile}), which the tokens never saw: it is not handed to `onAction`.
   */
  standIn(): void {
    this.#standIns += 1;
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
    if (closed.place === 'action' && parent?.place === 'actions') this.#element(closed.value);
    if (this.#stack.length === 0) this.#done = true;
  }

  #value(value: unknown): void {
    const parent = this.#stack.at(-1);
    if (parent?.place === 'actions') {
      this.#element(value);
      return;
    }
    this.#store(parent, value);
    if (parent === undefined) this.#done = true;
  }

  #element(value: unknown): void {
    this.#elements += 1;
    if (this.#standIns > 0) this.#standIns -= 1;
    else this.#onAction(value);
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
  /** How many of the actions were read as lines of the writer's layout rather than as tokens. */
  actionsAsLines: number;
}

/** How an action line of the writer's layout (write.ts) begins: the plan's actions are its last field, one to a line. */
const ACTION_LINE = '      {';

/** A line cut by a chunk that grows past this is no action line dualsync wrote (a key is at most 1 KiB): it is read as tokens. */
const LINE_LIMIT = 1 << 16;

const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;

/**
 * Reads a plan file into spools made by `spools` (one per run of a kind, in the file's order),
 * checking each field as it goes and taking the digest of its plan: memory does not follow the
 * number of actions. Refuses, naming the file and the field, a file that is not JSON, not a
 * plan file, or written by a newer dualsync; the digest and the order are the caller's to judge.
 *
 * Tokens cost several times what JSON.parse does, so the actions of a file in the writer's own
 * layout are read as lines: once the tokens of the header end right after the opening bracket
 * of plan.actions, at a line's end, each following line that holds one whole object after the
 * writer's indent (and a comma before the next) is one action, parsed by JSON.parse. The first
 * line that is not (the closing bracket, or an action laid out otherwise) goes back to the
 * tokens, with one stand-in element for the actions read as lines so that the tokenizer checks
 * what follows them (a comma too many, the rest of the file) as if it had seen them. The actions
 * are the same values either way, checked, digested and spooled by one function.
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
  const takeAction = (value: unknown): void => {
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
  };
  const assembler = new PlanAssembler(
    planPath,
    (plan) => {
      // The canonical form sorts the plan's fields: the head depends only on those before `actions`, mostly none.
      headUsed = canonicalFrame(withoutActions(plan)).head;
      canonical = new CanonicalPlanWriter(headUsed, feed.emit);
    },
    takeAction,
  );
  const tokenize = jsonParser({ packValues: true, streamValues: false });
  let at = 0;
  const take = (output: unknown): void => {
    if (output === none) return;
    for (const token of (output as { values: Token[] }).values) assembler.token(token);
  };
  const tokens = (text: string): void => {
    try {
      take(tokenize(text));
    } catch (error) {
      if (error instanceof Error && !(error as { code?: unknown }).code) notJson(planPath, `${error.message}, near byte ${at}`);
      throw error;
    }
  };
  // 'header': tokens fed a line at a time, until plan.actions opens; 'lines': its actions read as lines; 'tokens': the rest as tokens.
  let mode: 'header' | 'lines' | 'tokens' = 'header';
  let asLines = 0;
  let comma = false;
  /** Takes the line text[start, end) as an action if it is one as the writer lays it out. */
  const actionLine = (text: string, start: number, end: number): boolean => {
    if (!text.startsWith(ACTION_LINE, start) || (asLines > 0 && !comma)) return false;
    const hasComma = text.charCodeAt(end - 1) === COMMA;
    const close = hasComma ? end - 1 : end;
    if (close - start <= ACTION_LINE.length || text.charCodeAt(close - 1) !== CLOSE_BRACE) return false;
    let value: unknown;
    try {
      value = JSON.parse(text.slice(start, close));
    } catch {
      // Not one JSON object: the tokens say what is wrong with it, near where.
      return false;
    }
    comma = hasComma;
    asLines += 1;
    takeAction(value);
    return true;
  };
  const backToTokens = (rest: string): void => {
    mode = 'tokens';
    if (asLines > 0) {
      assembler.standIn();
      tokens(comma ? '0,' : '0');
    }
    tokens(rest);
  };
  let cut = '';
  try {
    for (const chunk of fileText(planPath)) {
      at = chunk.at;
      let text = chunk.text;
      let start = 0;
      // Fed a line at a time, to see whether plan.actions opens at a line's end.
      while (mode === 'header') {
        const end = text.indexOf('\n', start);
        tokens(end === -1 ? text.slice(start) : text.slice(start, end + 1));
        if (end === -1) start = text.length;
        else start = end + 1;
        if (assembler.actionsOpened) mode = assembler.atActionsStart ? 'lines' : 'tokens';
        else if (end === -1) break;
      }
      if (mode === 'tokens') {
        if (start < text.length) tokens(start === 0 ? text : text.slice(start));
        continue;
      }
      if (mode === 'header') continue;
      if (cut !== '') {
        text = cut + text.slice(start);
        start = 0;
        cut = '';
      }
      for (let end = text.indexOf('\n', start); end !== -1; end = text.indexOf('\n', start)) {
        if (!actionLine(text, start, end)) break;
        start = end + 1;
      }
      const rest = text.slice(start);
      if (rest.indexOf('\n') !== -1 || rest.length > LINE_LIMIT) backToTokens(rest);
      else cut = rest;
    }
    if (mode === 'lines') backToTokens(cut);
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
  return { saved, digest, actionsAsLines: asLines, ...(order.outOfOrder === undefined ? {} : { outOfOrder: order.outOfOrder }) };
}

function withoutActions(plan: Record<string, unknown>): PlanFile['plan'] {
  const { actions: _actions, ...rest } = plan;
  return rest as unknown as PlanFile['plan'];
}
