import { describe, expect, it } from 'vitest';
import { downloadWindow } from '../../src/apply/feed.ts';

describe('download window (lines in flight on the download hop)', () => {
  it.each([
    ['a big batch keeps every worker busy', 2000, 64, 64],
    ['a small batch over a slow link: an eighth of it, so uploads start early', 100, 64, 13],
    ['a handful of large objects: at least four at once', 8, 64, 4],
    ['never more than the objects', 2, 64, 2],
    ['never more than the workers', 1000, 3, 3],
    ['one object', 1, 256, 1],
  ])('%s (%i objects, %i workers -> %i)', (_name, objects, workers, expected) => {
    expect(downloadWindow(objects, workers)).toBe(expected);
  });
});
