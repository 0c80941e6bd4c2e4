/**
 * `watch --metrics-addr`: a real watch against real MinIO and s5cmd, scraped over HTTP and read
 * with a Prometheus text-format parser. The counters must say what moved: four objects
 * downloaded, three delivered, and one upload that MinIO accepts but never lists (the
 * destination holds `coll/a`, which hides `coll/a/b`), counted as a failure with its code.
 * The source has a bandwidth limit, exported per hop with the upload hop's (none) as 0.
 */
import { describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { listAll, putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite } from './site.ts';
import { VERSION } from '../../src/version.ts';
import { waitFor } from '../harness/wait.ts';

const pair = useMinioPair();

type Families = ReturnType<typeof parsePrometheusTextFormat>;

/** The value of the series of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(families: Families, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === name);
  const series = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return series === undefined ? undefined : Number(series.value);
}

async function scrape(url: string): Promise<Families> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusTextFormat(await response.text());
}

const BODIES = { 'a.txt': 'a'.repeat(1000), 'b/c.txt': 'c'.repeat(2345), 'd.bin': 'd'.repeat(70_000) };
const REFUSED = { key: 'coll/a/b', body: 'refused at the destination' };
/** The download hop's limit: high enough not to slow these few bytes, there to be exported. */
const DOWNLOAD_LIMIT = 64 * 1024 * 1024;

describe('watch --metrics-addr', () => {
  it('serves counters that match what moved, failures by code, backoff, stages, volumes and versions', async () => {
    const site = await makeSite(pair, { volumes: 2, transfer: ['retryBackoff: { base: 1h, max: 6h }'], source: ['bandwidth: 64MiB/s'] });
    await putObjects(pair.cloud, site.destinationBucket, [{ key: 'coll/a', body: 'the parent object' }]);
    await putObjects(pair.edge, site.sourceBucket, [...Object.entries(BODIES).map(([key, body]) => ({ key, body })), REFUSED]);
    const movedBytes = Object.values(BODIES).reduce((n, body) => n + body.length, 0);
    const child = site.spawn('watch', '--interval', '1s', '--metrics-addr', '127.0.0.1:0');
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    try {
      const url = await waitFor(async () => /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stdout)?.[1], 30_000, 'the metrics URL in the log');
      // The refused object fails twice (the first failure is retried at once), then backs off.
      const families = await waitFor(async () => {
        const scraped = await scrape(url);
        return valueOf(scraped, 'dualsync_backoff_objects') === 1 ? scraped : undefined;
      }, 60_000, 'one object in backoff');
      expect(valueOf(families, 'dualsync_transferred_objects_total', { hop: 'download' })).toBe(4);
      expect(valueOf(families, 'dualsync_transferred_bytes_total', { hop: 'download' })).toBe(movedBytes + REFUSED.body.length);
      expect(valueOf(families, 'dualsync_transferred_objects_total', { hop: 'upload' })).toBe(3);
      expect(valueOf(families, 'dualsync_transferred_bytes_total', { hop: 'upload' })).toBe(movedBytes);
      expect(valueOf(families, 'dualsync_failures_total', { hop: 'upload', code: 'not-listed-after-put' })).toBe(2);
      expect(families.find((f) => f.name === 'dualsync_failures_total')?.type).toBe('COUNTER');
      expect(valueOf(families, 'dualsync_backlog_objects', { hop: 'upload' })).toBe(0);
      expect(valueOf(families, 'dualsync_cycles_total', { result: 'ok' })).toBeGreaterThanOrEqual(3);
      const lastSuccess = valueOf(families, 'dualsync_last_success_timestamp_seconds')!;
      expect(Math.abs(lastSuccess - Date.now() / 1000)).toBeLessThan(120);
      expect(valueOf(families, 'dualsync_cycle_duration_seconds', { phase: 'list_and_plan' })).toBeGreaterThan(0);
      for (const volume of site.volumes) expect(valueOf(families, 'dualsync_volume_free_bytes', { volume })).toBeGreaterThan(0);
      expect(valueOf(families, 'dualsync_hop_up', { endpoint: 'source' })).toBe(1);
      // The limit in force per hop: the source's on the download hop, none (0) on the upload hop.
      expect(valueOf(families, 'dualsync_bandwidth_limit_bytes_per_second', { hop: 'download' })).toBe(DOWNLOAD_LIMIT);
      expect(valueOf(families, 'dualsync_bandwidth_limit_bytes_per_second', { hop: 'upload' })).toBe(0);
      expect(families.find((f) => f.name === 'dualsync_bandwidth_limit_bytes_per_second')?.type).toBe('GAUGE');
      expect(valueOf(families, 'dualsync_build_info', { version: VERSION })).toBe(1);
      expect(families.find((f) => f.name === 'dualsync_build_info')?.metrics[0]?.labels?.s5cmd_version).toMatch(/^\d+\.\d+\.\d+(\+[0-9A-Za-z.]+)?$/);
      // The ledger is read after each cycle: three delivered and purged (or delivered), one staged.
      const stages = await waitFor(async () => {
        const scraped = await scrape(url);
        return valueOf(scraped, 'dualsync_ledger_objects', { stage: 'staged' }) === 1 ? scraped : undefined;
      }, 30_000, 'the ledger counts');
      expect((valueOf(stages, 'dualsync_ledger_objects', { stage: 'delivered' }) ?? 0) + (valueOf(stages, 'dualsync_ledger_objects', { stage: 'purged' }) ?? 0)).toBe(3);
      expect(await fetch(url.replace('/metrics', '/other')).then((r) => r.status)).toBe(404);

      // Later cycles move nothing more: the counters stay where they are.
      const cycles = valueOf(stages, 'dualsync_cycles_total', { result: 'ok' })!;
      const later = await waitFor(async () => {
        const scraped = await scrape(url);
        return valueOf(scraped, 'dualsync_cycles_total', { result: 'ok' })! >= cycles + 2 ? scraped : undefined;
      }, 30_000, 'two more cycles');
      expect(valueOf(later, 'dualsync_transferred_objects_total', { hop: 'download' })).toBe(4);
      expect(valueOf(later, 'dualsync_transferred_objects_total', { hop: 'upload' })).toBe(3);
      expect(valueOf(later, 'dualsync_failures_total', { hop: 'upload', code: 'not-listed-after-put' })).toBe(2);
      expect((await listAll(pair.cloud, site.destinationBucket)).map((o) => o.key).sort()).toEqual(['a.txt', 'b/c.txt', 'coll/a', 'd.bin']);
    } finally {
      child.kill('SIGTERM');
    }
    const result = await child;
    expect(result.exitCode, String(result.stdout) + String(result.stderr)).toBe(0);
  });

  it('is off by default, and refuses an address off the loopback unless told', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    const once = await site.cli('watch', '--once');
    expect(once.exitCode, once.stdout + once.stderr).toBe(0);
    expect(once.stdout).not.toMatch(/metrics at/);
    const remote = await site.cli('watch', '--once', '--metrics-addr', '0.0.0.0:9464');
    expect(remote.exitCode).toBe(1);
    expect(remote.stderr).toMatch(/Error \[E_USAGE\]: --metrics-addr 0\.0\.0\.0:9464: 0\.0\.0\.0 is not a loopback address/);
    expect(remote.stderr).toMatch(/--metrics-allow-remote/);
    const named = await site.cli('watch', '--once', '--metrics-addr', 'localhost:9464');
    expect(named.stderr).toMatch(/Error \[E_USAGE\]: --metrics-addr "localhost:9464": localhost is not an IP address/);
    const allowed = await site.cli('watch', '--once', '--metrics-addr', '0.0.0.0:0', '--metrics-allow-remote');
    expect(allowed.exitCode, allowed.stdout + allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(/metrics at http:\/\/0\.0\.0\.0:\d+\/metrics/);
  });
});
