/**
 * `dualsync check` against real MinIO: an intact site is safe to return; each way the
 * destination can fall short is found by the listings (and the bytes), not believed from the
 * ledger, and keeps the exit code at 1.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { cleanup, listAll, md5, putObjects, useMinioPair, type MinioPair } from '../harness/index.ts';
import { startLink } from '../harness/link.ts';
import { startStoppableMinio, type StoppableMinio } from '../harness/outage.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();
const stoppable: StoppableMinio[] = [];
afterAll(async () => {
  for (const server of stoppable) await server.down().catch(() => {});
  await cleanup();
});

const SAFE = 'safe to return the device';
const objects = [
  { key: 'a/one.txt', body: 'first object\n'.repeat(20) },
  { key: 'a/two.txt', body: 'second object\n'.repeat(30) },
  { key: 'b/three.bin', body: Buffer.alloc(4096, 7) },
];

interface CheckLine {
  code: string;
  key: string;
  why?: { code: string; [fact: string]: unknown };
  skip?: { code: string; unit?: string };
  attempts?: number;
  lastFailure?: { code: string; hop?: string };
  volume?: string;
  destinationEtag?: string;
  recordedDestinationEtag?: string;
  sourceMd5?: string;
  destinationMd5?: string;
}

/** A site whose three objects were delivered by apply. */
async function deliveredSite(): Promise<Site> {
  const site = await makeSite(pair, { volumes: 1 });
  await putObjects(pair.edge, site.sourceBucket, objects);
  const applied = await site.cli('apply', '--auto-approve');
  expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  return site;
}

/** `check --json` as lines: each object's entry, and the summary. */
async function checkJson(site: Site, ...args: string[]): Promise<{ exitCode: number; entries: CheckLine[]; summary: { safe: boolean } }> {
  const result = await site.cli('check', '--json', ...args);
  const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const last = lines.pop() as { summary: { safe: boolean } };
  expect(last.summary, result.stdout + result.stderr).toBeDefined();
  return { exitCode: result.exitCode, entries: lines as unknown as CheckLine[], summary: last.summary };
}

describe('dualsync check', () => {
  it('an intact site: every object = , exit 0 and the words; --content reads both sides and agrees', async () => {
    const site = await deliveredSite();
    const checked = await site.cli('check');
    expect(checked.exitCode, checked.stdout + checked.stderr).toBe(0);
    expect(checked.stdout).toContain('= a/one.txt\n= a/two.txt\n= b/three.bin\n');
    expect(checked.stdout).toContain(SAFE);

    const combined = join(site.dir, 'combined.txt');
    const content = await site.cli('check', '--content', '--combined', combined);
    expect(content.exitCode, content.stdout + content.stderr).toBe(0);
    expect(await readFile(combined, 'utf8')).toBe('= a/one.txt\n= a/two.txt\n= b/three.bin\n');
    expect(content.stdout).toMatch(/Content: 3 object\(s\) read on both sides/);
    expect(content.stdout).toContain(SAFE);
  });

  it('an object rewritten at the destination with the same size is found by the recorded ETag, and by --content', async () => {
    const site = await deliveredSite();
    await putObjects(pair.cloud, site.destinationBucket, [{ key: 'a/one.txt', body: 'FIRST OBJECT\n'.repeat(20) }]);
    const byEtag = await checkJson(site);
    expect(byEtag.exitCode).toBe(1);
    const one = byEtag.entries.find((e) => e.key === 'a/one.txt')!;
    expect(one.code).toBe('different');
    expect(one.why).toEqual({ code: 'etag-rewritten', destinationEtag: one.destinationEtag, recordedEtag: one.recordedDestinationEtag });
    expect(one.recordedDestinationEtag).toMatch(/^[0-9a-f]{32}$/);
    expect(byEtag.entries.filter((e) => e.code === 'delivered').map((e) => e.key)).toEqual(['a/two.txt', 'b/three.bin']);

    const human = await site.cli('check');
    expect(human.stdout).toContain('* a/one.txt\n');
    expect(human.stdout).not.toContain(SAFE.replace(/^s/, 'S'));
    expect(human.stdout).toMatch(/NOT safe to return the device yet:\n {2}1 different .*"a\/one.txt" \(destination ETag [0-9a-f]{32}, recorded at delivery [0-9a-f]{32}: rewritten since\)/);

    const byContent = await checkJson(site, '--content');
    expect(byContent.exitCode).toBe(1);
    const read = byContent.entries.find((e) => e.key === 'a/one.txt')!;
    expect(read.code).toBe('different');
    expect(read.sourceMd5).not.toBe(read.destinationMd5);
    expect(read.why).toEqual({ code: 'content-differs' });
    // The bytes agree where the listings proved it already.
    expect(byContent.entries.find((e) => e.key === 'a/two.txt')!.why).toEqual({ code: 'content-same', listings: { code: 'recorded-etag-matches' } });
  });

  it('a delivered object deleted at the destination is missing, whatever the ledger says', async () => {
    const site = await deliveredSite();
    await pair.cloud.client.send(new DeleteObjectCommand({ Bucket: site.destinationBucket, Key: 'a/two.txt' }));
    const checked = await site.cli('check');
    expect(checked.exitCode).toBe(1);
    expect(checked.stdout).toContain('- a/two.txt\n');
    expect(checked.stdout).toMatch(/1 missing .*"a\/two.txt" \(recorded as delivered at \S+Z, but the destination does not list it\)/);
    const json = await checkJson(site);
    expect(json.entries.find((e) => e.key === 'a/two.txt')).toMatchObject({ code: 'missing', why: { code: 'delivered-not-listed', deliveredAt: expect.stringMatching(/Z$/) as unknown } });
  });

  it('an object only at the destination blocks the words', async () => {
    const site = await deliveredSite();
    await putObjects(pair.cloud, site.destinationBucket, [{ key: 'stray.txt', body: 'not from the source' }]);
    const checked = await site.cli('check');
    expect(checked.exitCode).toBe(1);
    expect(checked.stdout).toContain('+ stray.txt\n');
    expect(checked.stdout).toMatch(/1 destination-only .*"stray.txt"/);
  });

  // MinIO refuses '.' and '..' segments (see hostile-keys.test.ts); the reserved first segment stands for them.
  it('skipped keys (a reserved segment, a control character) are named with the planner\'s reason and block', async () => {
    const site = await deliveredSite();
    await putObjects(pair.edge, site.sourceBucket, [
      { key: '.dualsync-tmp/up.txt', body: 'a reserved first segment' },
      { key: 'c/bell\u0007.txt', body: 'a control character' },
    ]);
    const json = await checkJson(site);
    expect(json.exitCode).toBe(1);
    const skipped = json.entries.filter((e) => e.code === 'skipped');
    expect(skipped.map((e) => e.key).sort()).toEqual(['.dualsync-tmp/up.txt', 'c/bell\u0007.txt']);
    expect(skipped.find((e) => e.key === '.dualsync-tmp/up.txt')!.skip).toMatchObject({ code: 'key-reserved-temp' });
    expect(skipped.find((e) => e.key === 'c/bell\u0007.txt')!.skip).toMatchObject({ code: 'key-control-character', unit: 'U+0007' });
    const human = await site.cli('check');
    expect(human.stdout).toContain('- "c/bell\\u0007.txt"\n');
  });

  it('an upload the destination refuses every time is failing, with its attempts and error', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationPrefix: 'site-7/', transfer: ['retryBackoff: { base: 1h, max: 6h }'] });
    await putObjects(pair.cloud, site.destinationBucket, [{ key: 'site-7/coll/a', body: 'the parent object' }]);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'coll/a/b', body: 'refused at the destination' }, { key: 'ok.txt', body: 'delivered' }]);
    for (let run = 0; run < 2; run++) expect((await site.cli('apply', '--auto-approve')).exitCode).toBe(1);
    const json = await checkJson(site);
    expect(json.exitCode).toBe(1);
    const failing = json.entries.find((e) => e.key === 'coll/a/b')!;
    expect(failing).toMatchObject({ code: 'failing', attempts: 2 });
    expect(failing.lastFailure).toMatchObject({ hop: 'upload' });
    expect(failing).not.toHaveProperty('lastError');
    expect((await site.cli('check')).stdout).toMatch(/1 failing .*"coll\/a\/b" \(upload: /);
    expect(json.entries.find((e) => e.key === 'ok.txt')!.code).toBe('delivered');
    expect((failing as unknown as { nextTryAt?: string }).nextTryAt).toBeDefined();
    expect((await site.cli('check')).stdout).toContain('! coll/a/b\n');
  });

  it('objects staged while the destination was down are staged-only', async () => {
    const cloud = await startStoppableMinio('check-staged');
    stoppable.push(cloud);
    const site = await makeSite({ edge: pair.edge, cloud: cloud.server, stop: async () => {} } satisfies MinioPair, { volumes: 1 });
    await putObjects(pair.edge, site.sourceBucket, objects);
    await cloud.down();
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    const down = await site.cli('check');
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toContain('E_HOP_UNREACHABLE');
    await cloud.up();
    expect(await listAll(cloud.server, site.destinationBucket)).toEqual([]);
    const json = await checkJson(site);
    expect(json.exitCode).toBe(1);
    expect(json.entries.map((e) => `${e.code} ${e.key}`)).toEqual(['staged-only a/one.txt', 'staged-only a/two.txt', 'staged-only b/three.bin']);
    expect(json.entries[0]!.volume).toBe(site.volumes[0]);
  });
});

/** A TCP forwarder to `endpoint` that keeps the largest number of connections open at once. */
async function countingForwarder(endpoint: string): Promise<{ endpoint: string; peak: () => number; close: () => void }> {
  const upstream = new URL(endpoint);
  let open = 0;
  let peak = 0;
  const server = createServer((client) => {
    open++;
    peak = Math.max(peak, open);
    const server = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    client.pipe(server).pipe(client);
    closeTogether(client, server);
    client.once('close', () => open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, peak: () => peak, close: () => server.close() };
}

describe('dualsync check --content --concurrency', () => {
  it('30 objects in one listing page, --concurrency 2: at most 2 reads (and the listing) at once on the source', async () => {
    const forwarder = await countingForwarder(pair.edge.endpoint);
    try {
      const site = await makeSite(pair, { volumes: 1, sourceEndpoint: forwarder.endpoint });
      const bodies = Array.from({ length: 30 }, (_, i) => ({ key: `frames/f-${String(i).padStart(2, '0')}`, body: Buffer.alloc(256 * 1024, i) }));
      await putObjects(pair.edge, site.sourceBucket, bodies);
      await putObjects(pair.cloud, site.destinationBucket, bodies);
      const checked = await site.cli('check', '--content', '--concurrency', '2');
      expect(checked.exitCode, checked.stdout + checked.stderr).toBe(0);
      expect(checked.stdout).toMatch(/Content: 30 object\(s\) read on both sides/);
      expect(forwarder.peak()).toBeLessThanOrEqual(3);
      for (const wrong of ['0', 'many', '2.5']) {
        const refused = await site.cli('check', '--content', '--concurrency', wrong);
        expect(refused.exitCode).toBe(1);
        expect(refused.stderr).toContain(`Error [E_USAGE]: --concurrency "${wrong}" is not a whole number of objects, 1 or more`);
      }
    } finally {
      forwarder.close();
    }
  });
});

/** Ends both sockets of a forwarded connection when either one ends or fails. */
function closeTogether(client: Socket, server: Socket): void {
  const done = () => {
    client.destroy();
    server.destroy();
  };
  client.on('error', done).on('close', done);
  server.on('error', done).on('close', done);
}

/** A TCP forwarder to `endpoint` that cuts every connection once `bytes` of answers have passed on it. */
async function cuttingForwarder(endpoint: string, bytes: number): Promise<{ endpoint: string; cuts: () => number; close: () => void }> {
  const upstream = new URL(endpoint);
  let cuts = 0;
  const server = createServer((client) => {
    const server = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    let answered = 0;
    client.pipe(server);
    server.on('data', (chunk: Buffer) => {
      if (answered + chunk.length <= bytes) {
        answered += chunk.length;
        client.write(chunk);
        return;
      }
      cuts++;
      client.write(chunk.subarray(0, bytes - answered));
      answered = bytes;
      client.destroy();
      server.destroy();
    });
    closeTogether(client, server);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, cuts: () => cuts, close: () => server.close() };
}

/**
 * A TCP forwarder to `endpoint` that, when the first GET of `path` arrives, holds it until
 * `beforeRead` has run (which rewrites the object), then lets it through.
 */
async function rewritingForwarder(endpoint: string, path: string, beforeRead: () => Promise<void>): Promise<{ endpoint: string; rewritten: () => boolean; close: () => void }> {
  const upstream = new URL(endpoint);
  let rewrite: Promise<void> | undefined;
  const server = createServer((client) => {
    const server = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    // Requests of one connection pass in order, each after the rewrite if it is the GET.
    let queue = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      const line = chunk.toString('latin1', 0, Math.min(chunk.length, path.length + 5));
      if (rewrite === undefined && (line === `GET ${path} ` || line === `GET ${path}?`)) rewrite = beforeRead();
      const waitFor = rewrite ?? Promise.resolve();
      queue = queue.then(() => waitFor).then(() => void server.write(chunk));
    });
    server.pipe(client);
    closeTogether(client, server);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, rewritten: () => rewrite !== undefined, close: () => server.close() };
}

/** Bytes that differ from one offset to the next (a misaligned compare cannot pass). */
function patterned(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i + 4 <= length; i += 4) bytes.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return bytes;
}

describe('dualsync check --content reads both copies at once and compares them as they arrive', () => {
  const MiB = 1024 * 1024;
  const same = patterned(6 * MiB + 5, 1);
  const late = patterned(6 * MiB + 5, 2);
  const lateAtDestination = Buffer.from(late);
  lateAtDestination[lateAtDestination.length - 1] = lateAtDestination[lateAtDestination.length - 1]! ^ 1;
  const early = patterned(3 * MiB, 3);
  const earlyAtDestination = Buffer.from(early);
  earlyAtDestination[10] = earlyAtDestination[10]! ^ 1;

  it('objects of several MiB: each side\'s true MD5, the same object same, a byte changed early or late different', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'big/same.bin', body: same }, { key: 'big/late.bin', body: late }, { key: 'big/early.bin', body: early }]);
    await putObjects(pair.cloud, site.destinationBucket, [{ key: 'big/same.bin', body: same }, { key: 'big/late.bin', body: lateAtDestination }, { key: 'big/early.bin', body: earlyAtDestination }]);
    const checked = await checkJson(site, '--content', '--concurrency', '3');
    expect(checked.exitCode).toBe(1);
    const byKey = new Map(checked.entries.map((e) => [e.key, e]));
    expect(byKey.get('big/same.bin')).toMatchObject({ code: 'delivered', sourceMd5: md5(same), destinationMd5: md5(same) });
    expect(byKey.get('big/late.bin')).toMatchObject({ code: 'different', why: { code: 'content-differs' }, sourceMd5: md5(late), destinationMd5: md5(lateAtDestination) });
    expect(byKey.get('big/early.bin')).toMatchObject({ code: 'different', why: { code: 'content-differs' }, sourceMd5: md5(early), destinationMd5: md5(earlyAtDestination) });
  });

  it('a destination link that cuts every read after 1 MiB: never "same", the cause named', async () => {
    const forwarder = await cuttingForwarder(pair.cloud.endpoint, MiB);
    try {
      const site = await makeSite(pair, { volumes: 1, destinationEndpoint: forwarder.endpoint });
      await putObjects(pair.edge, site.sourceBucket, [{ key: 'big/same.bin', body: same }]);
      await putObjects(pair.cloud, site.destinationBucket, [{ key: 'big/same.bin', body: same }]);
      const checked = await checkJson(site, '--content');
      expect(forwarder.cuts()).toBeGreaterThan(0);
      expect(checked.exitCode).toBe(1);
      expect(checked.summary.safe).toBe(false);
      const entry = checked.entries.find((e) => e.key === 'big/same.bin')!;
      expect(entry.code).toBe('unverified');
      expect(entry.why).toMatchObject({ code: 'content-not-read' });
      expect(entry).not.toHaveProperty('sourceMd5');
    } finally {
      forwarder.close();
    }
  });

  it('a destination far slower than the source (the source runs ahead of it): the verdict and MD5s hold', async () => {
    const link = await startLink(pair.cloud.endpoint, { downBytesPerSecond: 8 * MiB });
    try {
      const site = await makeSite(pair, { volumes: 1, destinationEndpoint: link.endpoint });
      await putObjects(pair.edge, site.sourceBucket, [{ key: 'big/same.bin', body: same }, { key: 'big/late.bin', body: late }]);
      await putObjects(pair.cloud, site.destinationBucket, [{ key: 'big/same.bin', body: same }, { key: 'big/late.bin', body: lateAtDestination }]);
      // --concurrency 64 leaves each object 1 MiB to run ahead: the source passes it and is hashed on its own.
      const checked = await checkJson(site, '--content', '--concurrency', '64');
      const byKey = new Map(checked.entries.map((e) => [e.key, e]));
      expect(byKey.get('big/same.bin')).toMatchObject({ code: 'delivered', sourceMd5: md5(same), destinationMd5: md5(same) });
      expect(byKey.get('big/late.bin')).toMatchObject({ code: 'different', sourceMd5: md5(late), destinationMd5: md5(lateAtDestination) });
    } finally {
      await link.close();
    }
  });
  it('an object rewritten at the destination after the listing, before its read: reported as changed, never compared', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    const forwarder = await rewritingForwarder(pair.cloud.endpoint, `/${site.destinationBucket}/big/same.bin`, () =>
      putObjects(pair.cloud, site.destinationBucket, [{ key: 'big/same.bin', body: late }]),
    );
    try {
      await putObjects(pair.edge, site.sourceBucket, [{ key: 'big/same.bin', body: same }]);
      await putObjects(pair.cloud, site.destinationBucket, [{ key: 'big/same.bin', body: same }]);
      await writeFile(site.configPath, (await readFile(site.configPath, 'utf8')).replace(`endpoint: ${pair.cloud.endpoint}`, `endpoint: ${forwarder.endpoint}`));
      const checked = await checkJson(site, '--content');
      expect(forwarder.rewritten()).toBe(true);
      expect(checked.exitCode).toBe(1);
      const entry = checked.entries.find((e) => e.key === 'big/same.bin')!;
      expect(entry).toMatchObject({ code: 'unverified', why: { code: 'content-not-read', errorCode: 'E_CONTENT_CHANGED' } });
      expect(entry).not.toHaveProperty('destinationMd5');
    } finally {
      forwarder.close();
    }
  });
});
