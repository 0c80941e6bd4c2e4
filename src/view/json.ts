/**
 * `--json` text in pieces. A plan's actions may be a list read back from spool files as it is
 * iterated, which JSON.stringify would write as `{}`, and a plan of millions of actions must not
 * become one string (V8 caps a string at about 2^29 characters). Pure.
 */

/** An array, or a list that iterates its elements and knows their number (a plan's ActionList). */
function isList(value: unknown): value is Iterable<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  return Array.isArray(value) || (Symbol.iterator in value && typeof (value as { length?: unknown }).length === 'number');
}

/** An object JSON.stringify writes field by field: no class instance, no toJSON. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** Whether a value holds a list anywhere, so that it has to be written in pieces. */
function holdsList(value: unknown): boolean {
  if (isList(value)) return true;
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
 * The text of JSON.stringify(value, null, 2), piece by piece: lists (arrays, and action lists
 * that JSON.stringify cannot write) an element at a time, and the objects that hold them a field
 * at a time; everything else at once. Joined, the pieces are JSON.stringify's text wherever it
 * could write the value.
 */
export function* jsonPieces(value: unknown, indent = ''): Generator<string> {
  const inner = `${indent}  `;
  if (isList(value)) {
    let first = true;
    for (const element of value) {
      yield `${first ? '[' : ','}\n${inner}`;
      if (unwritable(element)) yield 'null';
      else yield* jsonPieces(element, inner);
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
      yield* jsonPieces(item, inner);
      first = false;
    }
    yield first ? '{}' : `\n${indent}}`;
    return;
  }
  yield whole(value, indent);
}

/** A `--json` document: {@link jsonPieces} and a final line break. */
export function* jsonDocument(value: unknown): Generator<string> {
  yield* jsonPieces(value);
  yield '\n';
}
