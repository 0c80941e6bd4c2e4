/**
 * The planner's include/exclude filter over relative keys. Pure. The glob language is
 * config/glob.ts's (validate checks each pattern with it); exclude wins over include.
 */
import { compileGlob } from '../config/glob.ts';

/**
 * A predicate deciding whether a relative key is part of the plan: it matches an include pattern
 * (an empty include list means every key) and no exclude pattern.
 */
export function keyFilter(include: readonly string[], exclude: readonly string[]): (key: string) => boolean {
  const includeAll = include.length === 0 || include.includes('**');
  const includeRe = includeAll ? undefined : combine(include);
  const excludeRe = exclude.length === 0 ? undefined : combine(exclude);
  if (includeRe === undefined && excludeRe === undefined) return () => true;
  return (key) => (includeRe === undefined || includeRe.test(key)) && (excludeRe === undefined || !excludeRe.test(key));
}

function combine(patterns: readonly string[]): RegExp {
  return new RegExp(patterns.map((pattern) => compileGlob(pattern).source).join('|'), 'su');
}
