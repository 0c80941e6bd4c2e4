/**
 * The one streaming JSON writer: the plan file (one flat object per line, keys in reading
 * order), the canonical form its digest is taken over (compact, keys sorted), and `--json`
 * documents (JSON.stringify(value, null, 2)'s layout). Each writes to `emit` in pieces, never as
 * one string: a plan of millions of actions passes V8's cap on a string (about 2^29
 * characters), and a list of actions read back from spool files is iterated, which
 * JSON.stringify would write as `{}`. Pure.
 */
import type { ActionList } from '../model/plan.ts';

/** An array, or a list of actions read back from spools as it is iterated: written as a JSON array. */
function isList(value: object): value is ActionList {
  return Array.isArray(value) || (Symbol.iterator in value && typeof (value as { length?: unknown }).length === 'number');
}

/** An object's property names in output order, and each already quoted with its separator. */
interface Shape {
  names: string[];
  labels: string[];
}

/** How JSON is laid out: pretty (one flat object per line) or compact, with object keys in `compare` order. */
export interface Style {
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
export function writeJson(value: unknown, style: Style, indent: string, emit: (piece: string) => void): void {
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

/** A fresh {@link Style}: each writer keeps its own cache of shapes. */
export function jsonStyle(pretty: boolean, compare: (a: string, b: string) => number): Style {
  return { pretty, compare, shapes: new Map() };
}

/** An object JSON.stringify writes field by field: no class instance, no toJSON. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** Whether a value holds a list anywhere, so that it has to be written in pieces. */
function holdsList(value: unknown): boolean {
  if (typeof value === 'object' && value !== null && isList(value)) return true;
  return isPlainObject(value) && Object.values(value).some(holdsList);
}

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
function unwritable(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

/** One value at once, as JSON.stringify(value, null, 2) writes it at this depth. */
function whole(value: unknown, indent: string): string {
  const text = JSON.stringify(value, null, 2) ?? 'null';
  // JSON escapes every line break inside a string, so each one here is layout.
  return indent === '' ? text : text.replaceAll('\n', `\n${indent}`);
}

/**
 * The text of JSON.stringify(value, null, 2), piece by piece, fields in the order they were
 * set: lists (arrays, and action lists) an element at a time, and the objects that hold them a
 * field at a time; everything else at once. Joined, the pieces are JSON.stringify's text
 * wherever it could write the value. This is `--json`'s layout, which scripts already read.
 */
export function* documentPieces(value: unknown, indent = ''): Generator<string> {
  const inner = `${indent}  `;
  if (typeof value === 'object' && value !== null && isList(value)) {
    let first = true;
    for (const element of value) {
      yield `${first ? '[' : ','}\n${inner}`;
      if (unwritable(element)) yield 'null';
      else yield* documentPieces(element, inner);
      first = false;
    }
    yield first ? '[]' : `\n${indent}]`;
    return;
  }
  if (isPlainObject(value) && holdsList(value)) {
    let first = true;
    for (const [name, item] of Object.entries(value)) {
      if (unwritable(item)) continue;
      yield `${first ? '{' : ','}\n${inner}${JSON.stringify(name)}: `;
      yield* documentPieces(item, inner);
      first = false;
    }
    yield first ? '{}' : `\n${indent}}`;
    return;
  }
  yield whole(value, indent);
}
