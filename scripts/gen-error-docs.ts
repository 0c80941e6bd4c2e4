/**
 * Generates the table of error codes in docs/operations.md ("Error codes") from
 * src/model/error-codes.ts, so that the guide names every code dualsync can print. Only the text
 * between the two markers is rewritten; the rest of the guide is written by hand.
 * Run: npm run docs:errors (node scripts/gen-error-docs.ts)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ERROR_CODES, kindsOf, type ErrorCode } from '../src/model/error-codes.ts';

export const BEGIN_MARKER = '<!-- BEGIN ERROR CODES: generated from src/model/error-codes.ts by `npm run docs:errors`; edit the table there -->';
export const END_MARKER = '<!-- END ERROR CODES -->';

/** The generated block, markers included: one row per code, in the table's order. */
export function renderErrorCodes(): string {
  const rows = (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => `| \`${code}\` | ${kindsOf(code).join(', ')} | ${cell(ERROR_CODES[code].meaning)} |`);
  return [BEGIN_MARKER, '', '| Code | Kind | What happened, and what to do |', '|---|---|---|', ...rows, '', END_MARKER].join('\n');
}

/** `doc` with the text between the markers (markers included) replaced by `block`. */
export function replaceErrorCodes(doc: string, block: string): string {
  const begin = doc.indexOf(BEGIN_MARKER);
  const end = doc.indexOf(END_MARKER);
  if (begin < 0 || end < begin) throw new Error(`docs/operations.md has no "${BEGIN_MARKER}" ... "${END_MARKER}" block to fill`);
  return doc.slice(0, begin) + block + doc.slice(end + END_MARKER.length);
}

/** The block as docs/operations.md holds it now, markers included; undefined when it has none. */
export function committedErrorCodes(doc: string): string | undefined {
  const begin = doc.indexOf(BEGIN_MARKER);
  const end = doc.indexOf(END_MARKER);
  return begin < 0 || end < begin ? undefined : doc.slice(begin, end + END_MARKER.length);
}

function cell(value: string): string {
  return value.replace(/\|/g, '\\|');
}

if (import.meta.main) {
  const target = new URL('../docs/operations.md', import.meta.url);
  const doc = await readFile(target, 'utf8');
  await writeFile(target, replaceErrorCodes(doc, renderErrorCodes()));
  process.stdout.write(`wrote the error codes of ${target.pathname}\n`);
}
