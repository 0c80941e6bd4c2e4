/**
 * Sizes, percentages and durations as operators write them (`500GiB`, `5%`, `30s`), and bytes as
 * views print them. Pure: no I/O.
 */
import type { Reserve } from '../model/config.ts';
import { userError } from '../errors.ts';

const SIZE_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['', 1n],
  ['b', 1n],
  ['kb', 1000n],
  ['mb', 1000n ** 2n],
  ['gb', 1000n ** 3n],
  ['tb', 1000n ** 4n],
  ['kib', 1024n],
  ['mib', 1024n ** 2n],
  ['gib', 1024n ** 3n],
  ['tib', 1024n ** 4n],
]);

const SIZE_EXPECTED = 'a byte count or a number with a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 500GiB';
const SIZE_SYNTAX = /^(\d+)(?:\.(\d+))?\s*([a-z]*)$/i;
const PERCENT_SYNTAX = /^(\d+(?:\.\d+)?)\s*%$/;

/**
 * Bytes of a size such as `500GiB`, `1.5TB`, `1024` or a number. Exact (no floating point drift):
 * `0.1GB` is 100,000,000 bytes, and a size that is not a whole number of bytes is refused.
 */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
    throw userError('E_SIZE', `invalid size ${input}: expected ${SIZE_EXPECTED}`);
  }
  const match = SIZE_SYNTAX.exec(input.trim());
  const unit = SIZE_UNITS.get((match?.[3] ?? '').toLowerCase());
  if (!match || unit === undefined) {
    throw userError('E_SIZE', `invalid size "${input}": expected ${SIZE_EXPECTED}`);
  }
  const fraction = match[2] ?? '';
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(match[1] + fraction) * unit;
  if (scaled % scale !== 0n) {
    throw userError('E_SIZE', `invalid size "${input}": it is not a whole number of bytes`, {
      hint: 'write it in a smaller unit or as a byte count',
    });
  }
  const bytes = scaled / scale;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw userError('E_SIZE', `invalid size "${input}": larger than ${formatBytes(Number.MAX_SAFE_INTEGER)}`);
  }
  return Number(bytes);
}

/**
 * A staging reserve: `5%` of each volume's size, or an absolute size (`20GiB`). The percentage must
 * be 0 to 99: a reserve of the whole volume would leave nothing to stage on.
 */
export function parsePercentOrSize(input: string | number): Reserve {
  if (typeof input === 'string') {
    const match = PERCENT_SYNTAX.exec(input.trim());
    if (match) {
      const percent = Number(match[1]);
      if (percent > 99) {
        throw userError('E_SIZE', `invalid reserve "${input}": a percentage must be from 0% to 99%`);
      }
      return { kind: 'percent', percent };
    }
  }
  try {
    return { kind: 'bytes', bytes: parseSize(input) };
  } catch {
    throw userError('E_SIZE', `invalid reserve "${input}": expected a percentage such as 5% or a size such as 20GiB`);
  }
}

const DURATION_UNITS: ReadonlyMap<string, number> = new Map([
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
]);
const DURATION_SYNTAX = /^(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g;

/** Milliseconds of a duration such as `30s`, `5m`, `1h30m` or `500ms` (units ms, s, m, h, d). */
export function parseDuration(input: string): number {
  const text = input.trim().toLowerCase();
  if (!DURATION_SYNTAX.test(text)) {
    throw userError('E_DURATION', `invalid duration "${input}": expected a number with a unit (ms, s, m, h, d), e.g. 30s, 5m, 1h30m`);
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) {
    total += Number(amount) * (DURATION_UNITS.get(unit ?? '') ?? 0);
  }
  return Math.round(total);
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/** Bytes for people: `512 B`, `1 KiB`, `3.2 GiB` (binary units, at most one decimal). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  let unit = 0;
  while (unit < BYTE_UNITS.length - 1 && value >= 1024) {
    value /= 1024;
    unit += 1;
  }
  let rounded = unit === 0 ? Math.round(value) : Math.round(value * 10) / 10;
  // 1023.96 KiB rounds up to 1024 KiB, which reads better as 1 MiB.
  if (rounded >= 1024 && unit < BYTE_UNITS.length - 1) {
    rounded = Math.round((rounded / 1024) * 10) / 10;
    unit += 1;
  }
  return `${sign}${rounded} ${BYTE_UNITS[unit]}`;
}
