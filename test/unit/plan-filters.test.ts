import { describe, expect, it } from 'vitest';
import { compileGlob } from '../../src/config/glob.ts';
import { keyFilter } from '../../src/plan/filters.ts';

describe('compileGlob', () => {
  it.each([
    ['** matches everything', '**', ['a', 'a/b/c', '', '.hidden'], []],
    ['* stays in one segment', '*.log', ['a.log', '.log'], ['d/a.log', 'a.log.gz']],
    ['? is one character, not a separator', 'a?c', ['abc', 'a.c', 'a\u00e9c', 'a\u{1F680}c'], ['ac', 'a/c', 'abbc']],
    ['**/ matches zero or more folders', '**/*.log', ['a.log', 'd/a.log', 'd/e/a.log'], ['a.txt']],
    ['/**/ in the middle matches zero or more folders', 'a/**/b', ['a/b', 'a/x/b', 'a/x/y/b'], ['ab', 'a/xb']],
    ['folder/** also matches the folder name', 'logs/**', ['logs', 'logs/a', 'logs/a/b'], ['logsx', 'xlogs/a']],
    ['a trailing slash means everything below', 'logs/', ['logs/a', 'logs/a/b', 'logs'], ['logs2/a']],
    ['** inside a name crosses folders', 'a**z', ['az', 'a/b/z', 'abz'], ['a/b/y']],
    ['a class', 'file[0-9].txt', ['file1.txt'], ['filea.txt', 'file10.txt']],
    ['a negated class with !', 'x[!a]', ['xb', 'x.'], ['xa', 'x/']],
    ['a negated class with ^', 'x[^a]', ['xb'], ['xa']],
    ['a class never matches the separator', 'a[+-9]b', ['a+b', 'a5b'], ['a/b']],
    ['] first in a class is literal', '[]a]', [']', 'a'], ['b']],
    ['an unterminated [ is literal', 'a[b', ['a[b'], ['ab']],
    ['regex characters are literal', 'a.b+(c)|{d}$^', ['a.b+(c)|{d}$^'], ['aXb+(c)|{d}$^']],
    ['a backslash is literal', 'a\\b', ['a\\b'], ['ab']],
    ['the whole key must match', 'b', ['b'], ['ab', 'ba', 'a/b']],
    ['keys with newlines still match *', '*', ['a\nb'], []],
  ])('%s', (_name, pattern, matching, notMatching) => {
    const re = compileGlob(pattern);
    for (const key of matching) expect(re.test(key), `${pattern} ~ ${key}`).toBe(true);
    for (const key of notMatching) expect(re.test(key), `${pattern} !~ ${key}`).toBe(false);
  });

  it('refuses a reversed range, naming the pattern', () => {
    expect(() => compileGlob('a[z-a]')).toThrow(/invalid pattern "a\[z-a\]".*high to low/);
  });
});

describe('keyFilter', () => {
  it.each([
    ['the default includes everything', ['**'], [], ['a', 'x/y'], []],
    ['an empty include list includes everything', [], [], ['a'], []],
    ['include narrows', ['data/**'], [], ['data/a'], ['other/a']],
    ['several includes', ['*.csv', 'raw/**'], [], ['a.csv', 'raw/x'], ['b/a.csv']],
    ['exclude wins over include', ['data/**'], ['**/*.tmp'], ['data/a.csv'], ['data/a.tmp', 'data/x/b.tmp']],
    ['exclude alone', ['**'], ['secret/'], ['public/a'], ['secret/a', 'secret']],
  ])('%s', (_name, include, exclude, kept, dropped) => {
    const keep = keyFilter(include, exclude);
    for (const key of kept) expect(keep(key), key).toBe(true);
    for (const key of dropped) expect(keep(key), key).toBe(false);
  });
});
