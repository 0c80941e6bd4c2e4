/**
 * The Snowball Edge profile, in the pure parts and small adapters: a device's unsorted v1
 * answer plans like a sorted one, `region: snow` brings its defaults, the connection budget
 * caps workers x concurrency for s5cmd and the SDK alike, ETags that are not MD5s are said to
 * be so, and an untrusted device certificate says how to fetch the right one.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { candidatePartSizes, etagShape } from '../../src/plan/etag.ts';
import { s5cmdEnv, s5cmdGlobalArgs } from '../../src/apply/s5cmd.ts';
import { verifyDownloaded, verifyUploaded } from '../../src/apply/verify.ts';
import { parseConfig } from '../../src/config/parse.ts';
import { classifyS3Error } from '../../src/inventory/s3.ts';
import type { HopConfig } from '../../src/model/config.ts';
import type { Config } from '../../src/model/config.ts';
import type { Action, Plan } from '../../src/model/plan.ts';
import type { Inventory, ListingStream } from '../../src/model/objects.ts';
import { hopSettings } from '../../src/plan/hops.ts';
import { compareKeys } from '../../src/plan/keys.ts';
import { warningText } from '../../src/view/reasons.ts';
import { ExternalSort } from '../../src/inventory/extsort.ts';
import { planStreams } from '../../src/plan/planner.ts';
import { inventory, ledgerCursor, listingStream, planOf, testConfig } from '../builders.ts';

const MIB = 1024 * 1024;

/** A seeded permutation (mulberry32), so a failing order can be replayed. */
function permuted<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** A stable opaque ETag, as the device may give. */
const deviceEtag = (key: string) => `snow-${createHash('sha256').update(key).digest('hex').slice(0, 20)}`;

/** The plan of an inventory whose source listing is sorted by the listing layer's external sort, as a v1 answer is. */
async function planSortedOnDisk(config: Config, inv: Inventory, dir: string): Promise<Plan<Action[]>> {
  const sort = new ExternalSort(dir);
  for (const entry of inv.source.entries) sort.add(entry);
  const base = listingStream({ ...inv.source, entries: [] });
  const source: ListingStream = {
    ...base,
    pages: sort.pages(7),
    get flaws() {
      return sort.duplicates.count === 0 ? undefined : { duplicates: sort.duplicates.count, ...(sort.duplicates.first === undefined ? {} : { firstDuplicate: sort.duplicates.first }), undecodable: 0 };
    },
  };
  const { plan } = await planStreams(config, {
    source,
    destination: listingStream(inv.destination),
    volumes: inv.volumes,
    local: inv.local,
    ledger: { serial: inv.ledger.serial, records: ledgerCursor(inv.ledger.records) },
  });
  return { ...plan, actions: [...plan.actions] };
}

describe('planning from a Snowball listing', () => {
  /**
   * What a device hands over: opaque ETags, keys whose UTF-16 and UTF-8 orders differ (an
   * astral character against U+FFFD), NFC/NFD and case twins, a file/prefix pair; a destination
   * that already holds some (with MD5 ETags), copies staged earlier, a ledger from earlier runs.
   */
  function deviceInventory(complete: boolean): Inventory {
    const builder = inventory().volume('/v1', { free: 5_000 }).volume('/v2', { free: 4_000, reserve: 100 });
    const keys = ['emoji/😀.txt', 'emoji/\uFFFD.txt', 'twins/caf\u00e9', 'twins/cafe\u0301', 'twins/Readme', 'twins/README', 'a', 'a/b', 'odd/star*[q]?', 'odd/-dash'];
    for (let i = 0; i < 120; i++) keys.push(`sensors/${i % 4}/r${String(i).padStart(3, '0')}.csv`);
    keys.forEach((key, i) => {
      const size = 3 + ((i * 29) % 50);
      builder.source(key, size, deviceEtag(key));
      if (i % 5 === 0) builder.dest(key, size);
      if (i % 7 === 1) builder.ledger({ key, size, etag: deviceEtag(key), stage: 'staged', volume: '/v1' }).local('/v1', key, size);
      // The ledger holds one record per key.
      else if (i % 11 === 2) builder.ledger({ key, size, etag: deviceEtag(key), stage: 'purged' }).dest(key, size);
      if (i % 13 === 3) builder.local('/v2', key, size + 1);
    });
    if (!complete) builder.sourceIncomplete('listing returned exactly 1,000 keys: set listApi: v1 for this hop');
    return builder.build();
  }

  for (const complete of [true, false]) {
    it(`an unsorted answer gives the same plan as a sorted one (${complete ? 'complete v1 listing' : 'v2 listing cut at 1,000 keys'})`, async () => {
      const config = testConfig({ source: { region: 'snow', listApi: complete ? 'v1' : 'v2', maxConnections: 24 }, transfer: { maxBatchBytes: 2_000, verify: 'etag' } });
      const base = deviceInventory(complete);
      const sorted: Inventory = { ...base, source: { ...base.source, entries: [...base.source.entries].sort((x, y) => compareKeys(x.key, y.key)) } };
      const expected = await planOf(config, sorted);
      expect(expected.actions.length).toBeGreaterThan(100);
      expect(expected.summary.noChanges).toBe(false);
      const dir = await mkdtemp(join(tmpdir(), 'dualsync-snow-'));
      for (let seed = 1; seed <= 25; seed++) {
        // The device's answer in any order goes through the listing layer's sort on disk, as a
        // v1 listing does; the volume scan and the volumes arrive in any order too.
        const shuffled: Inventory = {
          ...base,
          source: { ...base.source, entries: permuted(base.source.entries, seed) },
          volumes: permuted(base.volumes, seed + 2000),
          local: permuted(base.local, seed + 3000),
        };
        expect(await planSortedOnDisk(config, shuffled, dir)).toEqual(expected);
      }
    });
  }

  it('a cut listing never reads as "no changes", even when every listed object is delivered', async () => {
    const builder = inventory().volume('/v1', { free: 100 });
    for (const key of ['b', 'a', 'c']) builder.source(key, 1, deviceEtag(key)).dest(key, 1).ledger({ key, size: 1, etag: deviceEtag(key), stage: 'purged' });
    const complete = await planOf(testConfig({ source: { region: 'snow', listApi: 'v1' } }), builder.build());
    expect(complete.summary.noChanges).toBe(true);
    const cut = await planOf(testConfig({ source: { region: 'snow', listApi: 'v2' } }), builder.sourceIncomplete('cut at 1,000 keys').build());
    expect(cut.actions).toEqual([]);
    expect(cut.summary.noChanges).toBe(false);
    expect(cut.warnings).toContainEqual({ code: 'source-listing-incomplete' });
  });
});

describe('region snow: defaults', () => {
  const yaml = (sourceLines: string[]) =>
    ['version: 1', 'source:', '  bucket: field-data', ...sourceLines.map((line) => `  ${line}`), 'destination:', '  bucket: archive', '  region: us-east-1', 'staging:', '  volumes: [/mnt/v]', ''].join('\n');
  const parse = (sourceLines: string[]) => parseConfig(yaml(sourceLines), 'sync.yaml', {}, '/srv/site');

  it.each<[string, string[], Partial<HopConfig>, RegExp | undefined]>([
    ['snow: listApi v1 and 500 connections', ['region: snow', 'endpoint: http://192.0.2.10:8080'], { listApi: 'v1', maxConnections: 500, addressing: 'path' }, undefined],
    ['snow with its own cap: kept', ['region: snow', 'maxConnections: 24'], { listApi: 'v1', maxConnections: 24 }, undefined],
    ['snow with listApi v2 forced: kept, with a warning', ['region: snow', 'listApi: v2'], { listApi: 'v2', maxConnections: 500 }, /cuts ListObjectsV2 listings at 1,000 keys/],
    ['snow above the device limit: kept, with a warning', ['region: snow', 'maxConnections: 1500'], { maxConnections: 1500 }, /drops connections beyond 1000/],
    ['AWS region: listApi v2, no cap', ['region: eu-west-1'], { listApi: 'v2' }, undefined],
    ['AWS region with v1 asked for: v1', ['region: eu-west-1', 'listApi: v1'], { listApi: 'v1' }, undefined],
  ])('%s', async (_situation, lines, expected, warning) => {
    const result = parseConfig(yaml(lines), 'sync.yaml', {}, '/srv/site');
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(result.config?.source).toMatchObject(expected);
    if (!lines.includes('region: snow') && !lines.some((line) => line.startsWith('maxConnections'))) expect(result.config?.source.maxConnections).toBeUndefined();
    const warnings = result.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);
    if (warning === undefined) expect(warnings).toEqual([]);
    else expect(warnings.join('\n')).toMatch(warning);
    expect(parse(lines).config?.destination).toMatchObject({ listApi: 'v2' });
  });
});

describe('the connection budget: workers x concurrency', () => {
  it.each<[string, number, number, number | undefined, { workers: number; concurrency: number }, RegExp | undefined]>([
    ['no cap (AWS): as configured', 256, 5, undefined, { workers: 256, concurrency: 5 }, undefined],
    ['snow default 500: 100 workers of 5', 256, 5, 500, { workers: 100, concurrency: 5 }, /workers 256 capped to 100 by source.maxConnections 500 with concurrency 5/],
    ['the issue case, 24 with 256 workers: 4 x 5', 256, 5, 24, { workers: 4, concurrency: 5 }, /capped to 4/],
    ['the device limit, 1,000: 200 x 5', 256, 5, 1000, { workers: 200, concurrency: 5 }, /capped to 200/],
    ['few workers already under the cap: untouched, no warning', 3, 5, 24, { workers: 3, concurrency: 5 }, undefined],
    ['a cap below one worker\'s concurrency: 1 x 3', 256, 5, 3, { workers: 1, concurrency: 3 }, /256 x concurrency 5 capped to 1 x 3/],
    ['concurrency 1: one connection per worker', 256, 1, 24, { workers: 24, concurrency: 1 }, /capped to 24/],
  ])('%s', async (_situation, workers, concurrency, cap, expected, warning) => {
    const { settings, warning: said } = hopSettings(workers, concurrency, cap, 'source');
    expect(settings).toMatchObject(expected);
    if (warning === undefined) expect(said).toBeUndefined();
    else expect(said === undefined ? undefined : warningText(said)).toMatch(warning);
  });

  it('s5cmd never gets more than maxConnections: --numworkers x cp --concurrency, for every cap from 1 to 1,000', async () => {
    for (let cap = 1; cap <= 1000; cap++) {
      for (const [workers, concurrency] of [[256, 5], [1000, 8], [7, 1], [2, 64]] as const) {
        const { settings } = hopSettings(workers, concurrency, cap, 'source');
        const hop: HopConfig = { ...testConfig().source, region: 'snow', endpoint: 'http://192.0.2.10:8080', maxConnections: cap };
        const args = s5cmdGlobalArgs(hop, settings.workers);
        const numWorkers = Number(args[args.indexOf('--numworkers') + 1]);
        expect(numWorkers * settings.concurrency, `cap ${cap}, ${workers} x ${concurrency}`).toBeLessThanOrEqual(cap);
        expect(numWorkers).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('s5cmd on a snow hop: lists with v1, signs for snow, trusts the device certificate', async () => {
    const hop: HopConfig = { ...testConfig().source, region: 'snow', endpoint: 'https://192.0.2.10:8443', listApi: 'v1', tls: { verify: true, caBundle: '/etc/dualsync/snowball.pem' } };
    expect(s5cmdGlobalArgs(hop, 4)).toEqual(['--json', '--numworkers', '4', '--endpoint-url', 'https://192.0.2.10:8443', '--use-list-objects-v1']);
    const env = s5cmdEnv(hop, { PATH: '/usr/bin', AWS_CA_BUNDLE: '/somewhere/else.pem', AWS_REGION: 'us-west-2' });
    expect(env).toMatchObject({ AWS_REGION: 'snow', AWS_CA_BUNDLE: '/etc/dualsync/snowball.pem' });
    expect(s5cmdEnv({ ...hop, tls: { verify: true } }, { PATH: '/usr/bin', AWS_CA_BUNDLE: '/somewhere/else.pem' }).AWS_CA_BUNDLE).toBeUndefined();
  });
});

describe('ETags a Snowball may give', () => {
  const md5 = (body: Buffer) => createHash('md5').update(body).digest('hex');
  const multipartEtag = (body: Buffer, partSize: number) => {
    const parts: Buffer[] = [];
    for (let offset = 0; offset < body.length; offset += partSize) parts.push(createHash('md5').update(body.subarray(offset, offset + partSize)).digest());
    return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
  };
  const body = Buffer.alloc(11 * MIB, 0);
  body.write('a sensor recording', 4 * MIB);
  const fileOf = async (content: Buffer) => {
    const path = join(await mkdtemp(join(tmpdir(), 'snowball-etag-')), 'object');
    await writeFile(path, content);
    return path;
  };

  it.each<[string, string, 'md5' | 'multipart' | 'opaque']>([
    ['an MD5', md5(body), 'md5'],
    ['a multipart ETag', multipartEtag(body, 5 * MIB), 'multipart'],
    ['non-hex (what the simulator and some devices give)', deviceEtag('k'), 'opaque'],
    ['32 characters, not all hex', 'z'.repeat(32), 'opaque'],
    ['empty', '', 'opaque'],
  ])('%s: classified by its shape', async (_situation, etag, kind) => {
    expect(etagShape(etag).kind).toBe(kind);
  });

  it.each<[string, () => string, { ok: boolean; verifiedBy: string; etagComparable?: boolean }]>([
    ['MD5 that matches: compared', () => md5(body), { ok: true, verifiedBy: 'md5', etagComparable: true }],
    ['MD5 that does not match: a failure, never a pass', () => md5(Buffer.from('other')), { ok: false, verifiedBy: 'md5', etagComparable: true }],
    ['multipart, part size known (5 MiB, a common one): compared', () => multipartEtag(body, 5 * MIB), { ok: true, verifiedBy: 'multipart-etag', etagComparable: true }],
    ['multipart, part size unknown (7 MiB): not comparable, size + local MD5', () => multipartEtag(body, 7 * MIB), { ok: true, verifiedBy: 'size+local-md5', etagComparable: false }],
    ['non-hex: not comparable, size + local MD5', () => deviceEtag('k'), { ok: true, verifiedBy: 'size+local-md5', etagComparable: false }],
  ])('verify: etag on download, %s', async (_situation, etag, expected) => {
    expect(candidatePartSizes(body.length, 2)).not.toContain(7 * MIB);
    const check = await verifyDownloaded(await fileOf(body), { size: body.length, etag: etag() }, 'etag');
    expect(check).toMatchObject(expected);
    if (check.ok) expect(check.md5).toBe(md5(body));
  });

  it('a non-comparable ETag still fails on size', async () => {
    const check = await verifyDownloaded(await fileOf(body), { size: body.length + 1, etag: deviceEtag('k') }, 'etag');
    expect(check).toMatchObject({ ok: false, verifiedBy: 'size' });
  });

  it('the local MD5 carried from the download decides at the destination: a staged copy changed since is caught', async () => {
    const path = await fileOf(body);
    const downloaded = await verifyDownloaded(path, { size: body.length, etag: deviceEtag('k') }, 'etag');
    const remote = { size: body.length, etag: md5(body) };
    expect(await verifyUploaded(path, remote, { size: body.length, md5: downloaded.md5 }, 'etag', 50 * MIB)).toMatchObject({ ok: true, verifiedBy: 'md5' });
    const changed = Buffer.from(body);
    changed.write('bit rot', 9 * MIB);
    await writeFile(path, changed);
    const caught = await verifyUploaded(path, { size: body.length, etag: md5(changed) }, { size: body.length, md5: downloaded.md5 }, 'etag', 50 * MIB);
    expect(caught).toMatchObject({ ok: false });
    expect(caught.failure).toMatchObject({ code: 'staged-copy-changed', expected: downloaded.md5 });
  });
});

describe('an untrusted device certificate', () => {
  const hop = (tls: HopConfig['tls']): HopConfig => ({ ...testConfig().source, region: 'snow', endpoint: 'https://192.0.2.10:8443', tls });
  const tlsError = (code: string) => Object.assign(new Error(`tls failure ${code}`), { code });

  it.each<[string, string, HopConfig['tls'], RegExp[]]>([
    ['no CA bundle', 'DEPTH_ZERO_SELF_SIGNED_CERT', { verify: true }, [/snowballEdge list-certificates/, /snowballEdge get-certificate --certificate-arn/, /PEM/, /set tls\.caBundle/]],
    ['a CA bundle of another certificate (the device made a new one)', 'DEPTH_ZERO_SELF_SIGNED_CERT', { verify: true, caBundle: '/etc/dualsync/snowball.pem' }, [/not signed by tls\.caBundle \(\/etc\/dualsync\/snowball\.pem\)/, /IP changes/, /get-certificate/, /over \/etc\/dualsync\/snowball\.pem/]],
    ['a chain the bundle does not hold', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', { verify: true, caBundle: '/etc/dualsync/snowball.pem' }, [/get-certificate/]],
    ['a certificate for another IP', 'ERR_TLS_CERT_ALTNAME_INVALID', { verify: true, caBundle: '/etc/dualsync/snowball.pem' }, [/does not name the host of https:\/\/192\.0\.2\.10:8443/, /get-certificate/]],
  ])('%s: E_S3_TLS, not retryable, says how to fetch the certificate', async (_situation, code, tls, hints) => {
    const error = classifyS3Error(tlsError(code), hop(tls), 'listing');
    expect(error.code).toBe('E_S3_TLS');
    expect(error.retryable).toBe(false);
    for (const hint of hints) expect(error.hint).toMatch(hint);
  });
});
