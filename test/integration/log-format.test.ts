/**
 * `--log-format json`: one JSON object per line and event, for journald and Loki. A watch cycle
 * with one upload MinIO accepts but never lists (the destination holds `coll/a`, which hides
 * `coll/a/b`) must say that failure with its key, hop and code, and nothing else on stdout.
 */
import { describe, expect, it } from 'vitest';
import { putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite } from './site.ts';

const pair = useMinioPair();

interface LogLine {
  ts: string;
  level: string;
  event: string;
  [field: string]: unknown;
}

/** Every line of `stdout` as JSON with ts, level and event; fails on any other line. */
function parseLog(stdout: string): LogLine[] {
  const lines = stdout.split('\n').filter((line) => line !== '');
  return lines.map((line) => {
    const parsed = JSON.parse(line) as LogLine;
    expect(Number.isNaN(Date.parse(parsed.ts)), line).toBe(false);
    expect(parsed.ts).toMatch(/Z$/);
    expect(['info', 'warn', 'error'], line).toContain(parsed.level);
    expect(typeof parsed.event, line).toBe('string');
    return parsed;
  });
}

describe('--log-format json', () => {
  it('watch --once: cycle start and end with counts, each failure with key, hop and code; a second run says in sync', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await putObjects(pair.cloud, site.destinationBucket, [{ key: 'coll/a', body: 'the parent object' }]);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'ok.txt', body: 'delivered' }, { key: 'coll/a/b', body: 'refused' }]);
    const result = await site.cli('watch', '--once', '--log-format', 'json');
    expect(result.exitCode, result.stdout + result.stderr).toBe(1);
    const events = parseLog(result.stdout);
    expect(events.map((e) => e.event)).toEqual(['cycle_start', 'failure', 'cycle_end', 'watch_stopped']);
    expect(events[3]).toMatchObject({ level: 'info', cycles: 1, reason: '--once' });
    expect(events[1]).toMatchObject({ level: 'warn', event: 'failure', cycle: 1, key: 'coll/a/b', hop: 'upload', code: 'not-listed-after-put' });
    expect(events[1]!.message).toMatch(/does not list it/);
    expect(events[2]).toMatchObject({ event: 'cycle_end', cycle: 1, result: 'failures', failures: 1, downloaded: { objects: 2 }, uploaded: { objects: 1, bytes: 'delivered'.length } });
    // No progress lines, human or redrawn, anywhere.
    expect(result.stderr).not.toMatch(/progress:|\r/);

    const again = await site.cli('watch', '--once', '--log-format', 'json', '--interval', '1s');
    const second = parseLog(again.stdout);
    expect(second.at(-2)).toMatchObject({ event: 'cycle_end', downloaded: { objects: 0 }, uploaded: { objects: 0 } });
  });

  it('apply --auto-approve: failures and the end as JSON lines; refused with --json or without approval', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await putObjects(pair.cloud, site.destinationBucket, [{ key: 'coll/a', body: 'the parent object' }]);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'ok.txt', body: 'delivered' }, { key: 'coll/a/b', body: 'refused' }]);
    const both = await site.cli('apply', '--auto-approve', '--json', '--log-format', 'json');
    expect(both.exitCode).toBe(1);
    expect(both.stderr).toMatch(/Error \[E_USAGE\]: --log-format json and --json do not go together/);
    const unapproved = await site.cli('apply', '--log-format', 'json');
    expect(unapproved.stderr).toMatch(/Error \[E_USAGE\]: --log-format json has no plan to show/);
    const bad = await site.cli('apply', '--auto-approve', '--log-format', 'xml');
    expect(bad.stderr).toMatch(/Error \[E_USAGE\]: --log-format "xml": not a log format/);

    const result = await site.cli('apply', '--auto-approve', '--log-format', 'json');
    expect(result.exitCode, result.stdout + result.stderr).toBe(1);
    const events = parseLog(result.stdout);
    expect(events.map((e) => e.event)).toEqual(['failure', 'apply_end']);
    expect(events[0]).toMatchObject({ key: 'coll/a/b', hop: 'upload', code: 'not-listed-after-put' });
    expect(events[1]).toMatchObject({ level: 'info', downloaded: { objects: 2 }, uploaded: { objects: 1 }, failures: 1 });
  });
});
