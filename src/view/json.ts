/**
 * `--json` text in pieces, in JSON.stringify(value, null, 2)'s layout: written by the one
 * streaming JSON writer (src/planfile/json.ts), which the plan file shares. Pure.
 */
import { documentPieces } from '../planfile/json.ts';

/**
 * The text of JSON.stringify(value, null, 2), piece by piece: lists (arrays, and action lists
 * that JSON.stringify cannot write) an element at a time. Joined, the pieces are
 * JSON.stringify's text wherever it could write the value.
 */
export function jsonPieces(value: unknown, indent = ''): Generator<string> {
  return documentPieces(value, indent);
}

/** A `--json` document: {@link jsonPieces} and a final line break. */
export function* jsonDocument(value: unknown): Generator<string> {
  yield* documentPieces(value);
  yield '\n';
}
