/**
 * The glob language of `transfer.include` and `transfer.exclude` (the schema's `glob` format), as
 * one regular expression per pattern. Pure. It lives with the config because the config defines
 * the language and validate reports a bad pattern at its entry; the planner's key filter
 * (plan/filters.ts) compiles the same patterns with it.
 *
 * A pattern matches the whole key: `*` and `?` stay inside one path segment, `**` crosses
 * segments (`**\/x` also matches `x`, `logs/**` also matches `logs`), `[abc]`, `[a-z]`,
 * `[!a]`/`[^a]` are classes, and a pattern ending in `/` means everything below that folder.
 */
import { userError } from '../errors.ts';

/** Characters with a meaning in a regular expression (u flag), escaped when they are literal. */
const REGEX_SYNTAX = new Set('\\^$.*+?()[]{}|'.split(''));
/** Characters with a meaning inside a class, escaped when literal. */
const CLASS_SYNTAX = new Set('\\]^-['.split(''));

function literal(char: string): string {
  return REGEX_SYNTAX.has(char) ? `\\${char}` : char;
}

function classLiteral(char: string): string {
  return CLASS_SYNTAX.has(char) ? `\\${char}` : char;
}

/**
 * The class starting at `chars[start]` ('['), as regex source and the index after it; undefined
 * when unterminated (the bracket is then literal).
 */
function bracketClass(pattern: string, chars: string[], start: number): { source: string; next: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (chars[i] === '!' || chars[i] === '^') {
    negate = true;
    i++;
  }
  const parts: string[] = [];
  let first = true;
  for (; i < chars.length; i++) {
    const char = chars[i] as string;
    if (char === ']' && !first) {
      // A class never matches the separator: `*`, `?` and classes stay inside a segment.
      return { source: negate ? `[^/${parts.join('')}]` : `(?!/)[${parts.join('')}]`, next: i + 1 };
    }
    first = false;
    const to = chars[i + 2];
    if (chars[i + 1] === '-' && to !== undefined && to !== ']') {
      if ((to.codePointAt(0) ?? 0) < (char.codePointAt(0) ?? 0)) {
        throw userError('E_GLOB', `invalid pattern ${JSON.stringify(pattern)}: the range ${char}-${to} goes from high to low`, {
          hint: `write it as ${to}-${char}`,
        });
      }
      parts.push(`${classLiteral(char)}-${classLiteral(to)}`);
      i += 2;
    } else {
      parts.push(classLiteral(char));
    }
  }
  return undefined;
}

/**
 * A regular expression matching exactly the keys `pattern` describes. An unterminated `[` is a
 * literal bracket; a reversed range (`[z-a]`) is a user error naming the pattern.
 */
export function compileGlob(pattern: string): RegExp {
  const chars = Array.from(pattern.endsWith('/') ? `${pattern}**` : pattern);
  let out = '';
  // Where the output ended after the last literal '/', so `logs/**` can take that slash back.
  let afterLiteralSlash = -1;
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] as string;
    if (char === '*' && chars[i + 1] === '*') {
      let end = i + 2;
      while (chars[end] === '*') end++;
      const atSegmentStart = i === 0 || chars[i - 1] === '/';
      if (atSegmentStart && chars[end] === '/') {
        out += '(?:.*/)?';
        i = end;
      } else if (end === chars.length && afterLiteralSlash === out.length) {
        out = `${out.slice(0, -1)}(?:/.*)?`;
        i = end - 1;
      } else {
        out += '.*';
        i = end - 1;
      }
    } else if (char === '*') {
      out += '[^/]*';
    } else if (char === '?') {
      out += '[^/]';
    } else if (char === '[') {
      const cls = bracketClass(pattern, chars, i);
      if (cls === undefined) {
        out += literal(char);
      } else {
        out += cls.source;
        i = cls.next - 1;
      }
    } else {
      out += literal(char);
      if (char === '/') afterLiteralSlash = out.length;
    }
  }
  return new RegExp(`^${out}$`, 'su');
}
