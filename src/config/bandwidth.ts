/**
 * A hop's bandwidth limit as operators write it: one rate for all times (`10MiB/s`, `off`), or a
 * weekly timetable in rclone's style, `"Mon-Fri,08:00,2MiB/s 18:00,off"`. Pure: the time at
 * which a rate is asked for is passed in, and read in the process's local time zone (as rclone
 * does), so "08:00" is 08:00 on the site's clock.
 *
 * A timetable is entries separated by spaces, each `[DAYS,]HH:MM,RATE`:
 * - DAYS is a day (`Mon` ... `Sun`, any case), a range (`Mon-Fri`; `Fri-Mon` wraps over the
 *   weekend), or a list of those separated by commas (`Mon,Wed,Fri-Sat`). Without DAYS the entry
 *   applies on every day of the week.
 * - An entry's rate applies from its time on each of its days until the next entry of the week,
 *   whichever day that falls on: the last entry of a day carries over midnight into the next day
 *   (and the last of Sunday into Monday) until another entry takes over.
 * - Two entries may not start at the same minute of the same day.
 */
import type { Bandwidth, BandwidthChange } from '../model/config.ts';
import { userError } from '../errors.ts';
import { parseSize } from './units.ts';

const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const MINUTES_PER_DAY = 24 * 60;
const TIME_SYNTAX = /^(\d{1,2}):(\d{2})$/;
const RATE_SYNTAX = /^(.+?)\s*\/\s*s$/i;

const RATE_EXPECTED = 'a size per second such as 10MiB/s or 500KB/s (units B, KB, MB, GB, KiB, MiB, GiB), or off';
const ENTRY_EXPECTED = 'each timetable entry is [DAYS,]HH:MM,RATE, e.g. Mon-Fri,08:00,2MiB/s or 18:00,off';

/** No limit at any time. */
export const NO_BANDWIDTH_LIMIT: Bandwidth = { written: 'off', changes: [] };

/**
 * The limit that `input` describes. Throws E_CONFIG (a user error) naming what is wrong: the
 * entry, and its rate, time or days.
 */
export function parseBandwidth(input: string): Bandwidth {
  const written = input.trim().replace(/\s+/g, ' ');
  if (written === '') throw userError('E_CONFIG', `is empty: expected ${RATE_EXPECTED}, or a timetable: ${ENTRY_EXPECTED}`);
  if (!written.includes(',')) {
    const bytesPerSecond = parseRate(written, `"${written}"`);
    return bytesPerSecond === undefined ? NO_BANDWIDTH_LIMIT : { written, changes: [{ minuteOfWeek: 0, bytesPerSecond }] };
  }
  const byMinute = new Map<number, { entry: string; bytesPerSecond: number | undefined }>();
  for (const entry of written.split(' ')) {
    const fields = entry.split(',').map((field) => field.trim());
    const where = `timetable entry "${entry}"`;
    if (fields.length < 2 || fields.some((field) => field === '')) throw userError('E_CONFIG', `${where}: ${ENTRY_EXPECTED}`);
    const rate = fields.pop()!;
    const time = fields.pop()!;
    const bytesPerSecond = parseRate(rate, where);
    const minuteOfDay = parseTime(time, where);
    const days = fields.length === 0 ? [0, 1, 2, 3, 4, 5, 6] : parseDays(fields, where);
    for (const day of days) {
      const minuteOfWeek = day * MINUTES_PER_DAY + minuteOfDay;
      const earlier = byMinute.get(minuteOfWeek);
      if (earlier !== undefined) {
        throw userError('E_CONFIG', `${where}: it starts at ${DAY_NAMES[day]} ${time} like "${earlier.entry}"`, {
          hint: 'give each day and time one entry',
        });
      }
      byMinute.set(minuteOfWeek, { entry, bytesPerSecond });
    }
  }
  const changes: BandwidthChange[] = [...byMinute.entries()]
    .sort(([a], [b]) => a - b)
    .map(([minuteOfWeek, { bytesPerSecond }]) => (bytesPerSecond === undefined ? { minuteOfWeek } : { minuteOfWeek, bytesPerSecond }));
  return { written, changes };
}

/**
 * Bytes per second allowed at `at` (local time), or undefined for no limit: the rate of the
 * latest change at or before that minute of the week, or, before the week's first change, the
 * week's last change (the timetable carries over from Sunday into Monday).
 */
export function bandwidthAt(bandwidth: Bandwidth, at: Date): number | undefined {
  const { changes } = bandwidth;
  if (changes.length === 0) return undefined;
  // getDay() counts from Sunday; the week here starts on Monday.
  const minuteOfWeek = ((at.getDay() + 6) % 7) * MINUTES_PER_DAY + at.getHours() * 60 + at.getMinutes();
  let current = changes[changes.length - 1]!;
  for (const change of changes) {
    if (change.minuteOfWeek > minuteOfWeek) break;
    current = change;
  }
  return current.bytesPerSecond;
}

/** Whether the limit is ever in force. */
export function isLimited(bandwidth: Bandwidth): boolean {
  return bandwidth.changes.some((change) => change.bytesPerSecond !== undefined);
}

/** Bytes per second of `10MiB/s`, or undefined for `off`. */
function parseRate(text: string, where: string): number | undefined {
  if (text.toLowerCase() === 'off') return undefined;
  const match = RATE_SYNTAX.exec(text);
  if (!match) throw userError('E_CONFIG', `${where}: the rate "${text}" is not ${RATE_EXPECTED}`);
  let bytes: number;
  try {
    bytes = parseSize(match[1]!);
  } catch {
    throw userError('E_CONFIG', `${where}: the rate "${text}" is not ${RATE_EXPECTED}`);
  }
  if (bytes === 0) throw userError('E_CONFIG', `${where}: a rate of 0 would stop the hop`, { hint: 'write off for no limit, or a rate above 0' });
  return bytes;
}

/** Minutes after midnight of `HH:MM` (00:00 to 23:59). */
function parseTime(text: string, where: string): number {
  const match = TIME_SYNTAX.exec(text);
  const hours = Number(match?.[1]);
  const minutes = Number(match?.[2]);
  if (!match || hours > 23 || minutes > 59) throw userError('E_CONFIG', `${where}: the time "${text}" is not HH:MM from 00:00 to 23:59`);
  return hours * 60 + minutes;
}

/** Days of the week (0 = Monday) that `Mon`, `Mon-Fri`, `Fri-Mon` and lists of those name. */
function parseDays(items: string[], where: string): number[] {
  const days = new Set<number>();
  for (const item of items) {
    const [first, last, ...rest] = item.split('-');
    const from = dayIndex(first!, where);
    const to = last === undefined ? from : dayIndex(last, where);
    if (rest.length > 0) throw userError('E_CONFIG', `${where}: "${item}" is not a day or a range of days such as Mon-Fri`);
    // A range runs forward through the week, so Fri-Mon is Friday to Monday over the weekend.
    for (let day = from; ; day = (day + 1) % 7) {
      days.add(day);
      if (day === to) break;
    }
  }
  return [...days].sort((a, b) => a - b);
}

function dayIndex(text: string, where: string): number {
  const index = DAY_NAMES.findIndex((name) => name.toLowerCase() === text.toLowerCase());
  if (index === -1) throw userError('E_CONFIG', `${where}: "${text}" is not a day: write ${DAY_NAMES.join(', ')}`);
  return index;
}
