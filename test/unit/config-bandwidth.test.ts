import { afterEach, describe, expect, it } from 'vitest';
import { bandwidthAt, isLimited, parseBandwidth } from '../../src/config/bandwidth.ts';
import { parseConfig } from '../../src/config/parse.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A local time in the week of Monday 2026-12-07 (day 0 = Monday ... 6 = Sunday). */
function local(day: number, hours: number, minutes: number, seconds = 0): Date {
  return new Date(2026, 11, 7 + day, hours, minutes, seconds);
}
const MON = 0, TUE = 1, WED = 2, THU = 3, FRI = 4, SAT = 5, SUN = 6;

describe('parseBandwidth: the forms', () => {
  it.each([
    ['off', 'off', undefined],
    ['OFF in any case', 'OFF', undefined],
    ['a binary rate', '10MiB/s', 10 * MiB],
    ['a decimal rate with spaces', ' 500 KB / s ', 500_000],
    ['a fraction', '1.5MiB/s', 1.5 * MiB],
    ['bytes per second', '2048/s', 2048],
  ])('one rate for all times, %s: %s', (_situation, input, bytesPerSecond) => {
    const bandwidth = parseBandwidth(input);
    for (const at of [local(MON, 0, 0), local(WED, 12, 30), local(SUN, 23, 59)]) expect(bandwidthAt(bandwidth, at)).toBe(bytesPerSecond);
    expect(isLimited(bandwidth)).toBe(bytesPerSecond !== undefined);
  });

  it('a timetable with days: limited on weekday office hours, off otherwise', () => {
    const bandwidth = parseBandwidth('Mon-Fri,08:00,2MiB/s 18:00,off');
    expect(bandwidth.written).toBe('Mon-Fri,08:00,2MiB/s 18:00,off');
    expect(bandwidthAt(bandwidth, local(MON, 7, 59))).toBeUndefined();
    expect(bandwidthAt(bandwidth, local(MON, 8, 0))).toBe(2 * MiB);
    expect(bandwidthAt(bandwidth, local(FRI, 17, 59, 59))).toBe(2 * MiB);
    expect(bandwidthAt(bandwidth, local(FRI, 18, 0))).toBeUndefined();
    expect(bandwidthAt(bandwidth, local(SAT, 10, 0))).toBeUndefined();
    expect(bandwidthAt(bandwidth, local(SUN, 10, 0))).toBeUndefined();
  });

  it('an entry without days applies every day; the last entry of a day carries over midnight', () => {
    const bandwidth = parseBandwidth('08:00,512KiB/s 12:00,10MiB/s 18:00,30MiB/s 23:00,off');
    expect(bandwidthAt(bandwidth, local(TUE, 0, 30))).toBeUndefined(); // Monday 23:00's off
    expect(bandwidthAt(bandwidth, local(TUE, 8, 0))).toBe(512 * KiB);
    expect(bandwidthAt(bandwidth, local(TUE, 12, 0))).toBe(10 * MiB);
    expect(bandwidthAt(bandwidth, local(TUE, 22, 59))).toBe(30 * MiB);
    expect(bandwidthAt(bandwidth, local(TUE, 23, 0))).toBeUndefined();
  });

  it("across the week's end: Sunday's last entry holds on Monday morning until Monday's first", () => {
    const bandwidth = parseBandwidth('Mon,09:00,1MiB/s Sun,20:00,4MiB/s');
    expect(bandwidthAt(bandwidth, local(MON, 0, 0))).toBe(4 * MiB);
    expect(bandwidthAt(bandwidth, local(MON, 8, 59))).toBe(4 * MiB);
    expect(bandwidthAt(bandwidth, local(MON, 9, 0))).toBe(1 * MiB);
    expect(bandwidthAt(bandwidth, local(THU, 3, 0))).toBe(1 * MiB); // no entry since Monday's
    expect(bandwidthAt(bandwidth, local(SUN, 19, 59))).toBe(1 * MiB);
    expect(bandwidthAt(bandwidth, local(SUN, 20, 0))).toBe(4 * MiB);
  });

  it('day lists, ranges that wrap over the weekend, any case, and entries in any order', () => {
    const bandwidth = parseBandwidth('00:00,off fri-mon,06:00,1MiB/s  Wed,tue,06:00,3MiB/s');
    expect(bandwidthAt(bandwidth, local(FRI, 6, 0))).toBe(1 * MiB);
    expect(bandwidthAt(bandwidth, local(SAT, 7, 0))).toBe(1 * MiB);
    expect(bandwidthAt(bandwidth, local(SUN, 7, 0))).toBe(1 * MiB);
    expect(bandwidthAt(bandwidth, local(MON, 7, 0))).toBe(1 * MiB);
    expect(bandwidthAt(bandwidth, local(TUE, 7, 0))).toBe(3 * MiB);
    expect(bandwidthAt(bandwidth, local(WED, 7, 0))).toBe(3 * MiB);
    expect(bandwidthAt(bandwidth, local(THU, 7, 0))).toBeUndefined();
    expect(bandwidthAt(bandwidth, local(WED, 5, 59))).toBeUndefined();
  });

  it('a timetable of one entry holds all week', () => {
    const bandwidth = parseBandwidth('Wed,12:00,1MiB/s');
    expect(bandwidthAt(bandwidth, local(MON, 0, 0))).toBe(MiB);
    expect(bandwidthAt(bandwidth, local(WED, 11, 0))).toBe(MiB);
  });

  it('a timetable that is never limited is not limited', () => {
    expect(isLimited(parseBandwidth('08:00,off 18:00,off'))).toBe(false);
  });
});

describe('parseBandwidth: the time is the local time of the process, not UTC', () => {
  const saved = process.env.TZ;
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  it('switches at 12:00 on the local clock', () => {
    const bandwidth = parseBandwidth('00:00,4MiB/s 12:00,off');
    // Node reads TZ again when it is set, so one process can try two zones.
    process.env.TZ = 'Asia/Kolkata'; // UTC+5:30, no daylight saving
    const before = new Date('2026-12-07T06:29:00Z'); // 11:59 in Kolkata, 06:29 UTC
    const after = new Date('2026-12-07T06:30:00Z'); // 12:00 in Kolkata
    expect(bandwidthAt(bandwidth, before)).toBe(4 * MiB);
    expect(bandwidthAt(bandwidth, after)).toBeUndefined();
    process.env.TZ = 'UTC';
    expect(bandwidthAt(bandwidth, after)).toBe(4 * MiB); // 06:30 UTC: still before noon
  });
});

describe('parseBandwidth: errors say what is wrong', () => {
  it.each([
    ['an empty value', '  ', /is empty: expected a size per second/],
    ['a size without /s', '10MiB', /"10MiB" is not a size per second such as 10MiB\/s/],
    ['an unknown unit', '10 parsecs/s', /the rate "10 parsecs\/s" is not a size per second/],
    ['a rate of 0', '0MiB/s', /a rate of 0 would stop the hop/],
    ['an entry without a rate', '08:00', /is not a size per second/],
    ['an entry with an empty field', 'Mon,,08:00,1MiB/s', /timetable entry "Mon,,08:00,1MiB\/s": each timetable entry is \[DAYS,\]HH:MM,RATE/],
    ['an hour past 23', '24:00,off', /timetable entry "24:00,off": the time "24:00" is not HH:MM from 00:00 to 23:59/],
    ['minutes past 59', '08:60,off', /the time "08:60" is not HH:MM/],
    ['a time without minutes', '8,1MiB/s', /the time "8" is not HH:MM/],
    ['an unknown day', 'Monday,08:00,1MiB/s', /"Monday" is not a day: write Mon, Tue, Wed, Thu, Fri, Sat, Sun/],
    ['a range of three days', 'Mon-Wed-Fri,08:00,1MiB/s', /"Mon-Wed-Fri" is not a day or a range of days/],
    ['a bad rate in an entry', 'Mon,08:00,fast', /timetable entry "Mon,08:00,fast": the rate "fast" is not/],
    ['two entries at one time of one day', 'Mon-Fri,08:00,1MiB/s Wed,08:00,off', /timetable entry "Wed,08:00,off": it starts at Wed 08:00 like "Mon-Fri,08:00,1MiB\/s"/],
  ])('%s: %s', (_situation, input, message) => {
    expect(() => parseBandwidth(input)).toThrow(message);
  });
});

describe('sync.yaml: source.bandwidth and destination.bandwidth', () => {
  const yaml = (source: string, destination: string) => `version: 1
source:
  bucket: field-data
  region: us-east-1
${source}destination:
  bucket: archive
  region: us-east-1
${destination}staging:
  volumes: [/mnt/volume-a]
`;

  it('default off on both hops: no limit in the model', () => {
    const { config, diagnostics } = parseConfig(yaml('', ''), 'sync.yaml', {}, '/srv');
    expect(diagnostics).toEqual([]);
    expect(config!.source.bandwidth).toBeUndefined();
    expect(config!.destination.bandwidth).toBeUndefined();
  });

  it('each hop has its own limit', () => {
    const { config, diagnostics } = parseConfig(yaml('', '  bandwidth: "Mon-Fri,08:00,2MiB/s 18:00,off"\n'), 'sync.yaml', {}, '/srv');
    expect(diagnostics).toEqual([]);
    expect(bandwidthAt(config!.destination.bandwidth!, local(TUE, 9, 0))).toBe(2 * MiB);
    expect(config!.source.bandwidth).toBeUndefined();
  });

  it('an error names the field, its line and what is wrong', () => {
    const { config, diagnostics } = parseConfig(yaml('  bandwidth: "Mon-Fri,8:00,2MiB/s 25:00,off"\n', ''), 'sync.yaml', {}, '/srv');
    expect(config).toBeUndefined();
    expect(diagnostics).toEqual([
      expect.objectContaining({ severity: 'error', path: 'source.bandwidth', line: 5, message: expect.stringContaining('timetable entry "25:00,off": the time "25:00" is not HH:MM') }),
    ]);
  });

  it('a number is not a rate', () => {
    const { diagnostics } = parseConfig(yaml('  bandwidth: 100\n', ''), 'sync.yaml', {}, '/srv');
    expect(diagnostics).toEqual([expect.objectContaining({ severity: 'error', path: 'source.bandwidth' })]);
  });
});
