import { describe, expect, it } from 'vitest';
import { formatBytes, parseDuration, parsePercentOrSize, parseSize } from '../../src/config/units.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

describe('parseSize', () => {
  it.each([
    ['a binary unit', '500GiB', 500 * GiB],
    ['a decimal unit with a fraction', '1.5TB', 1_500_000_000_000],
    ['a bare byte count in a string', '1024', 1024],
    ['a byte count as a number', 4096, 4096],
    ['zero', 0, 0],
    ['bytes with a B', '10B', 10],
    ['lower-case units', '2mib', 2 * MiB],
    ['upper-case units', '3KB', 3000],
    ['a space before the unit', '50 MiB', 50 * MiB],
    ['surrounding spaces', '  1TiB ', TiB],
    ['a fraction that floats would round badly', '0.1GB', 100_000_000],
    ['a binary fraction', '1.5KiB', 1536],
  ])('%s: %s', (_situation, input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each([
    ['an unknown unit', '5 gigs', /expected a byte count or a number with a unit/],
    ['a negative size', '-5GiB', /invalid size "-5GiB"/],
    ['a negative number', -1, /invalid size -1/],
    ['a fractional number of bytes', 1.5, /invalid size 1.5/],
    ['a fraction of a byte', '1.5B', /not a whole number of bytes/],
    ['an empty string', '', /invalid size ""/],
    ['a unit alone', 'GiB', /invalid size "GiB"/],
    ['petabytes, beyond what is supported', '1PB', /KiB, MiB, GiB, TiB/],
    ['more than a safe integer', '9000000TiB', /larger than/],
  ])('%s is refused: %s', (_situation, input, message) => {
    expect(() => parseSize(input)).toThrow(message);
  });
});

describe('parsePercentOrSize', () => {
  it.each([
    ['a percentage', '5%', { kind: 'percent', percent: 5 }],
    ['a fractional percentage', '2.5 %', { kind: 'percent', percent: 2.5 }],
    ['zero percent', '0%', { kind: 'percent', percent: 0 }],
    ['the largest percentage', '99%', { kind: 'percent', percent: 99 }],
    ['a size', '20GiB', { kind: 'bytes', bytes: 20 * GiB }],
    ['a byte count', 1000, { kind: 'bytes', bytes: 1000 }],
  ])('%s: %s', (_situation, input, reserve) => {
    expect(parsePercentOrSize(input)).toEqual(reserve);
  });

  it.each([
    ['the whole volume', '100%', /from 0% to 99%/],
    ['a nonsense value', 'lots', /expected a percentage such as 5% or a size such as 20GiB/],
  ])('%s is refused: %s', (_situation, input, message) => {
    expect(() => parsePercentOrSize(input)).toThrow(message);
  });
});

describe('parseDuration', () => {
  it.each([
    ['seconds', '30s', 30_000],
    ['minutes', '5m', 300_000],
    ['hours', '1h', 3_600_000],
    ['milliseconds', '500ms', 500],
    ['days', '1d', 86_400_000],
    ['a compound duration', '1h30m', 5_400_000],
    ['a compound duration with spaces', '1m 30s', 90_000],
    ['a fraction', '1.5s', 1500],
    ['upper case', '10S', 10_000],
  ])('%s: %s', (_situation, input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    ['a number without a unit', '30'],
    ['an unknown unit', '3 weeks'],
    ['an empty string', ''],
    ['a negative duration', '-5s'],
    ['a trailing unit without a number', '5m s'],
  ])('%s is refused: %s', (_situation, input) => {
    expect(() => parseDuration(input)).toThrow(/expected a number with a unit \(ms, s, m, h, d\)/);
  });
});

describe('formatBytes', () => {
  it.each([
    ['zero', 0, '0 B'],
    ['bytes', 512, '512 B'],
    ['just under a KiB', 1023, '1023 B'],
    ['one KiB', KiB, '1 KiB'],
    ['a fraction of GiB', 3.2 * GiB, '3.2 GiB'],
    ['a round MiB count', 50 * MiB, '50 MiB'],
    ['just under a MiB rounds up to the next unit', MiB - 1, '1 MiB'],
    ['TiB', 2.5 * TiB, '2.5 TiB'],
    ['beyond TiB', 3 * 1024 * TiB, '3 PiB'],
    ['a negative difference', -2 * KiB, '-2 KiB'],
  ])('%s: %d', (_situation, bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
