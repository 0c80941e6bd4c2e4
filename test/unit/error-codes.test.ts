/**
 * The error-code table is complete: every code src/ can throw is in it, every entry is thrown
 * somewhere, and docs/operations.md shows exactly the table. The type makes a literal code safe
 * at compile time; this scan also catches codes written where the type does not reach (a JSON
 * object, a comparison) and codes built at run time.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, kindsOf, type ErrorCode } from '../../src/model/error-codes.ts';
import { committedErrorCodes, renderErrorCodes } from '../../scripts/gen-error-docs.ts';

const SRC = new URL('../../src/', import.meta.url).pathname;
const TABLE_FILE = join(SRC, 'model/error-codes.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && path !== TABLE_FILE ? [path] : [];
  });
}

/** Every quoted E_ code in src/ (outside the table), with where it is. */
function codesInSource(): { code: string; at: string }[] {
  const found: { code: string; at: string }[] = [];
  for (const file of sourceFiles(SRC)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      for (const match of line.matchAll(/(['"`])(E_[A-Z0-9_]+)\1/g)) found.push({ code: match[2]!, at: `src/${relative(SRC, file)}:${index + 1}` });
    });
  }
  return found;
}

/** Quoted strings that build an E_ code at run time: `E_${...}`, 'E_' + ..., 'E_X_' + ... */
function builtCodes(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    readFileSync(file, 'utf8').split('\n').forEach((line, index) => {
      if (/`E_[A-Z0-9_]*\$\{|(['"`])E_[A-Z0-9_]*\1\s*\+|\+\s*(['"`])E_/.test(line)) found.push(`src/${relative(SRC, file)}:${index + 1}: ${line.trim()}`);
    });
  }
  return found;
}

/** `userError('E_X'` and `opError('E_X'` calls, with the kind they raise. */
function raisedKinds(): { code: string; kind: 'user' | 'operational'; at: string }[] {
  const found: { code: string; kind: 'user' | 'operational'; at: string }[] = [];
  for (const file of sourceFiles(SRC)) {
    readFileSync(file, 'utf8').split('\n').forEach((line, index) => {
      for (const match of line.matchAll(/\b(userError|opError)\(\s*'(E_[A-Z0-9_]+)'/g)) {
        found.push({ code: match[2]!, kind: match[1] === 'userError' ? 'user' : 'operational', at: `src/${relative(SRC, file)}:${index + 1}` });
      }
    });
  }
  return found;
}

describe('error codes', () => {
  it('every E_ code in src/ is in the table (src/model/error-codes.ts)', () => {
    const found = codesInSource();
    expect(found.length).toBeGreaterThan(100);
    const unknown = found.filter(({ code }) => !Object.hasOwn(ERROR_CODES, code)).map(({ code, at }) => `${at}: ${code}`);
    expect(unknown, 'add these codes to src/model/error-codes.ts, then run `npm run docs:errors`').toEqual([]);
  });

  it('no code is built at run time: each is written whole, so the table and the type can check it', () => {
    expect(builtCodes()).toEqual([]);
  });

  it('every code in the table is used in src/ (no dead codes)', () => {
    const used = new Set(codesInSource().map(({ code }) => code));
    const dead = Object.keys(ERROR_CODES).filter((code) => !used.has(code));
    expect(dead, 'remove these from src/model/error-codes.ts, then run `npm run docs:errors`').toEqual([]);
  });

  it('each code is raised with a kind the table gives it', () => {
    const wrong = raisedKinds()
      .filter(({ code, kind }) => Object.hasOwn(ERROR_CODES, code) && !kindsOf(code as ErrorCode).includes(kind))
      .map(({ code, kind, at }) => `${at}: ${code} raised as ${kind}`);
    expect(wrong).toEqual([]);
  });

  it('each entry says what happened and what to do in one sentence, and the table is in alphabetical order', () => {
    const codes = Object.keys(ERROR_CODES);
    expect(codes).toEqual([...codes].sort());
    for (const [code, { meaning }] of Object.entries(ERROR_CODES)) {
      expect(meaning, code).toMatch(/^\S.{20,}[.]$/);
      expect(meaning.split(/[.!?] (?=[A-Z])/).length, `${code}: one sentence`).toBe(1);
    }
  });

  it('docs/operations.md holds exactly the generated table (run `npm run docs:errors` after changing it)', () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    expect(committedErrorCodes(doc)).toBe(renderErrorCodes());
  });

  it('the docs name the codes an operator meets first', () => {
    const block = renderErrorCodes();
    for (const code of ['E_LOCKED', 'E_PLAN_STALE', 'E_CONFIRM', 'E_VOLUME_CLAIMED', 'E_CONFIG_MISSING', 'E_INIT_EXISTS', 'E_LEGACY_EXISTS', 'E_USAGE']) {
      expect(block).toContain(`| \`${code}\` |`);
    }
  });
});
