import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byHand, downloadLine, quoteWord, renderManifests, uploadLine, writeManifests } from '../../src/manifest/s5cmd.ts';
import type { Action, Plan } from '../../src/model/plan.ts';
import { keySkipReason } from '../../src/plan/keys.ts';
import { localPath, tempPath } from '../../src/plan/volume-paths.ts';
import { inventory, testConfig, planOf, planSummary } from '../builders.ts';

const run = promisify(execFile);
const S5CMD = fileURLToPath(new URL('../../.tools/s5cmd', import.meta.url));
const corpus = (JSON.parse(readFileSync(new URL('../../fixtures/keys/hostile.json', import.meta.url), 'utf8')) as { keys: { key: string; expect: string }[] }).keys;
const stageable = corpus.filter((c) => c.expect === 'stage').map((c) => c.key);

const hop = { workers: 8, concurrency: 5 };
const config = testConfig();

describe('quoteWord', () => {
  it.each([
    ['plain', 'abc', '"abc"'],
    ['spaces', 'a b  c', '"a b  c"'],
    ['a single quote needs nothing', "it's", `"it's"`],
    ['a double quote', 'say "hi"', '"say \\"hi\\""'],
    ['a backslash', 'a\\b', '"a\\\\b"'],
    ['a trailing backslash', 'a\\', '"a\\\\"'],
    ['dollar and backtick stay inert', '$HOME `id`', '"\\$HOME \\`id\\`"'],
    ['wildcards are plain characters here (--raw does the rest)', '*?[x]', '"*?[x]"'],
    ['unicode', 'caf\u00e9 \u{1F680}', '"caf\u00e9 \u{1F680}"'],
    ['a leading #', '#x', '"#x"'],
    ['empty', '', '""'],
  ])('%s', async (_name, word, quoted) => {
    expect(quoteWord(word)).toBe(quoted);
  });

  it.each([['a\nb'], ['a\rb'], ['a\0b']])('refuses %j', async (word) => {
    expect(() => quoteWord(word)).toThrow(/assertion failed.*cannot carry/);
  });
});

describe('run file lines', () => {
  const download: Action = { kind: 'download', key: 'dir/a "b".txt', size: 3, etag: 'e', volume: '/mnt/v1' };
  const upload: Action = { kind: 'upload', key: 'dir/a "b".txt', size: 3, etag: 'e', volume: '/mnt/v1', afterDownload: true };

  it('a download goes from the source bucket and prefix to the temporary path', async () => {
    expect(downloadLine(download, config, hop)).toBe('cp --raw --concurrency 5 "s3://edge/sensors/dir/a \\"b\\".txt" "/mnt/v1/.dualsync-tmp/dir/a \\"b\\".txt"');
    expect(downloadLine({ ...download, kind: 'redownload' }, config, { workers: 1, concurrency: 2 })).toContain('--concurrency 2 ');
  });

  it('an upload goes from the final path to the destination bucket and prefix, in whole-MiB parts', async () => {
    expect(uploadLine(upload, config, hop)).toBe('cp --raw --concurrency 5 --part-size 50 "/mnt/v1/dir/a \\"b\\".txt" "s3://archive/site-7/dir/a \\"b\\".txt"');
  });

  it('an empty prefix maps the key to the bucket root', async () => {
    const bare = testConfig({ source: { prefix: '' } });
    expect(downloadLine(download, bare, hop)).toContain('"s3://edge/dir/a \\"b\\".txt"');
  });

  it.each<[string, () => string]>([
    ['an upload to downloadLine', () => downloadLine(upload, config, hop)],
    ['a download to uploadLine', () => uploadLine(download, config, hop)],
    ['an action without a volume', () => downloadLine({ kind: 'download', key: 'a', size: 1, etag: 'e' }, config, hop)],
    ['an unsafe key', () => downloadLine({ ...download, key: 'a/../../etc' }, config, hop)],
    ['a part size that is not whole MiB', () => uploadLine(upload, testConfig({ transfer: { partSizeBytes: 1_000_000 } }), hop)],
  ])('refuses %s', async (_name, make) => {
    expect(make).toThrow(/assertion failed/);
  });
});

describe('renderManifests', async () => {
  const secretConfig = testConfig({
    source: { credentials: { kind: 'static', accessKeyId: 'AKIAEDGESECRETID', secretAccessKey: 'edge-secret-key-value', inline: false } },
    destination: { credentials: { kind: 'static', accessKeyId: 'AKIACLOUDSECRETID', secretAccessKey: 'cloud-secret-key-value', sessionToken: 'cloud-session-token', inline: true } },
  });
  const plan = await planOf(
    secretConfig,
    inventory().volume('/v1', { free: 1000 }).volume('/v2', { free: 1000 }).source('b', 1).source('a', 2).source('c', 3).local('/v2', 'c', 1).staged('/v2', 's', 4).source('skip//me', 1).build(),
  );
  const manifests = renderManifests(plan, secretConfig);

  it('writes one line per download and re-download, then one per upload, in plan order', async () => {
    const commands = (text: string): string[] => text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(commands(manifests.download)).toEqual(
      plan.actions.filter((a) => a.kind === 'download' || a.kind === 'redownload').map((a) => downloadLine(a, secretConfig, plan.hops.download)),
    );
    expect(commands(manifests.download).map((line) => line.split('"')[1])).toEqual(['s3://edge/sensors/a', 's3://edge/sensors/b', 's3://edge/sensors/c']);
    expect(commands(manifests.upload).map((line) => line.split('"')[1])).toEqual(['/v1/a', '/v2/b', '/v2/c', '/v2/s']);
  });

  it('starts with a comment header and ends each file with a newline', async () => {
    for (const text of [manifests.download, manifests.upload]) {
      expect(text.startsWith('# dualsync ')).toBe(true);
      expect(text.endsWith('\n')).toBe(true);
      expect(text.endsWith('\n\n')).toBe(false);
    }
    expect(manifests.download.split('\n')[0]).toBe('# dualsync download manifest: 3 objects, s3://edge/sensors/ -> staging volumes');
  });

  it('an empty hop still gets its header and nothing else', async () => {
    const empty = renderManifests(await planOf(config, inventory().build()), config);
    expect(empty.download.split('\n').filter((line) => line !== '').every((line) => line.startsWith('#'))).toBe(true);
    expect(empty.upload.endsWith('\n')).toBe(true);
  });

  it('keeps every line, once and in order, across internal chunk boundaries', async () => {
    const builder = inventory().volume('/v1', { free: 1e9 });
    for (let i = 0; i < 2500; i++) builder.source(`k/${String(i).padStart(4, '0')}`, 1);
    const big = await planOf(config, builder.build());
    const text = renderManifests(big, config).download;
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe('');
    const commands = lines.filter((line) => !line.startsWith('#') && line !== '');
    expect(commands).toHaveLength(2500);
    // The header's comment lines, then the commands and nothing else.
    expect(lines.slice(lines.findIndex((line) => !line.startsWith('#')), -1)).toEqual(commands);
    expect(commands.map((line) => line.split('"')[1])).toEqual(big.actions.filter((a) => a.kind === 'download').map((a) => `s3://edge/sensors/${a.key}`));
  });

  it('written piece by piece, the run files are the same text, in a few pieces rather than one per line', async () => {
    const builder = inventory().volume('/v1', { free: 1e9 });
    for (let i = 0; i < 5000; i++) builder.source(`k${i}`, 1);
    const big = await planOf(config, builder.build());
    const pieces = { download: [] as string[], upload: [] as string[] };
    writeManifests(big, config, { download: (piece) => pieces.download.push(piece), upload: (piece) => pieces.upload.push(piece) });
    const whole = renderManifests(big, config);
    expect(pieces.download.join('')).toBe(whole.download);
    expect(pieces.upload.join('')).toBe(whole.upload);
    expect(pieces.download.length).toBeLessThan(10);
  });

  it('never carries a credential (invariant 5)', async () => {
    for (const secret of ['AKIAEDGESECRETID', 'edge-secret-key-value', 'AKIACLOUDSECRETID', 'cloud-secret-key-value', 'cloud-session-token']) {
      expect(manifests.download).not.toContain(secret);
      expect(manifests.upload).not.toContain(secret);
    }
  });
});

/**
 * The proof against the real binary: every stageable key of the hostile corpus goes through
 * `s5cmd run` in --dry-run mode (s5cmd cannot copy local to local), and s5cmd must report
 * exactly the source and destination paths dualsync meant. Uploads also open and stat the
 * local file, so a path that s5cmd mangled would fail to find it.
 */
describe('s5cmd run reads the manifests byte-exactly (real .tools/s5cmd)', () => {
  let dir: string;
  let server: Server;
  let endpoint: string;
  const requests: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dualsync-manifest-'));
    // Nothing should be fetched in a dry run; a loopback server that answers 404 keeps any
    // metadata probe fast and shows what, if anything, s5cmd asked for.
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Puts each key on the first volume where it does not collide with a file/folder already there. */
  function placeOnVolumes(keys: string[], roots: string[]): Map<string, string> {
    const files = roots.map(() => new Set<string>());
    const folders = roots.map(() => new Set<string>());
    const placement = new Map<string, string>();
    for (const key of keys) {
      const parents = key.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'));
      const index = roots.findIndex((_, i) => !folders[i]!.has(key) && parents.every((p) => !files[i]!.has(p)));
      expect(index, key).toBeGreaterThanOrEqual(0);
      files[index]!.add(key);
      for (const p of parents) folders[index]!.add(p);
      placement.set(key, roots[index]!);
    }
    return placement;
  }

  async function s5cmdRun(file: string): Promise<{ source: string; destination: string; success: boolean; size?: number }[]> {
    expect(existsSync(S5CMD), `${S5CMD} is missing: run npm run tools`).toBe(true);
    const { stdout, stderr } = await run(S5CMD, ['--json', '--dry-run', '--retry-count', '0', '--endpoint-url', endpoint, 'run', file], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, AWS_ACCESS_KEY_ID: 'dry-run-id', AWS_SECRET_ACCESS_KEY: 'dry-run-secret', AWS_REGION: 'us-east-1' },
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stderr).toBe('');
    return stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const parsed = JSON.parse(line) as { source: string; destination: string; success: boolean; object?: { size?: number } };
        return { source: parsed.source, destination: parsed.destination, success: parsed.success, ...(parsed.object?.size === undefined ? {} : { size: parsed.object.size }) };
      });
  }

  it('the corpus holds the hostile keys this proof is about', async () => {
    expect(stageable.length).toBeGreaterThan(40);
    for (const key of stageable) expect(keySkipReason(key), key).toBeUndefined();
    expect(stageable.some((key) => key.includes('"') && key.includes("'") && key.includes('\\'))).toBe(true);
  });

  it('uploads: s5cmd opens exactly localPath(volume, key) and targets exactly the destination key', async () => {
    const roots = [join(dir, 'vol one'), join(dir, 'vol-2')];
    const placement = placeOnVolumes(stageable, roots);
    const actions: Action[] = [];
    for (const key of stageable) {
      const volume = placement.get(key)!;
      const path = localPath(volume, key);
      mkdirSync(dirname(path), { recursive: true });
      const content = Buffer.from(`${key}|`, 'utf8');
      writeFileSync(path, content);
      actions.push({ kind: 'upload', key, size: content.length, etag: 'x', volume });
    }
    const plan: Plan = {
      formatVersion: 1,
      actions,
      summary: planSummary(),
      volumes: [],
      hops: { download: hop, upload: hop },
      warnings: [],
    };
    const file = join(dir, 'upload.s5cmd');
    writeFileSync(file, renderManifests(plan, config).upload);
    const results = await s5cmdRun(file);
    expect(results).toHaveLength(actions.length);
    const bySource = new Map(results.map((r) => [r.source, r]));
    for (const action of actions) {
      const result = bySource.get(localPath(action.volume!, action.key));
      expect(result, action.key).toBeDefined();
      expect(result!.success).toBe(true);
      expect(result!.destination).toBe(`s3://archive/site-7/${action.key}`);
      expect(result!.size, action.key).toBe(action.size);
    }
    expect(requests.filter((r) => !r.startsWith('HEAD '))).toEqual([]);
  });

  it('downloads: s5cmd reads exactly the source key and writes exactly tempPath(volume, key)', async () => {
    const volume = join(dir, 'download volume');
    const actions: Action[] = stageable.map((key) => ({ kind: 'download', key, size: 1, etag: 'x', volume }));
    const file = join(dir, 'download.s5cmd');
    writeFileSync(file, `${actions.map((a) => downloadLine(a, config, hop)).join('\n')}\n`);
    const results = await s5cmdRun(file);
    expect(results).toHaveLength(actions.length);
    const bySource = new Map(results.map((r) => [r.source, r]));
    for (const action of actions) {
      const result = bySource.get(`s3://edge/sensors/${action.key}`);
      expect(result, action.key).toBeDefined();
      expect(result!.success).toBe(true);
      expect(result!.destination).toBe(tempPath(volume, action.key));
    }
    expect(requests.filter((r) => !r.startsWith('HEAD '))).toEqual([]);
  });
});

describe('the "By hand:" comment', () => {
  const snow = testConfig({
    source: {
      region: 'snow',
      endpoint: 'https://192.0.2.10:8443',
      listApi: 'v1',
      maxConnections: 500,
      tls: { verify: true, caBundle: '/etc/dualsync/snow ball.pem' },
      credentials: { kind: 'static', accessKeyId: 'AKIDSECRETLOOKING', secretAccessKey: 'never-printed', inline: false },
    },
    destination: { credentials: { kind: 'profile', profile: 'archive-writer' } },
  });

  it.each([
    [
      'a Snowball source: region snow, its CA bundle, its endpoint, listing v1, the connection cap',
      'source' as const,
      { workers: 1000, concurrency: 5 },
      [
        "# By hand: AWS_REGION=snow AWS_CA_BUNDLE='/etc/dualsync/snow ball.pem' s5cmd --numworkers 500 --endpoint-url https://192.0.2.10:8443 --use-list-objects-v1 run <this file>",
        "#   with the source's keys exported as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
      ],
    ],
    [
      'an AWS destination with a profile: the region and the profile, no endpoint',
      'destination' as const,
      { workers: 64, concurrency: 5 },
      ['# By hand: AWS_REGION=us-east-1 AWS_PROFILE=archive-writer s5cmd --numworkers 64 run <this file>'],
    ],
  ])('%s', async (_name, side, settings, expected) => {
    const lines = byHand(side, { ...snow.source }, snow.destination, settings);
    expect(lines).toEqual(expected);
    expect(lines.join('\n')).not.toMatch(/AKIDSECRETLOOKING|never-printed/);
  });

  it('tls.verify false: --no-verify-ssl and no bundle', async () => {
    const lines = byHand('source', { ...snow.source, tls: { verify: false, caBundle: '/x.pem' } }, snow.destination, { workers: 8, concurrency: 1 });
    expect(lines[0]).toContain('s5cmd --numworkers 8 --endpoint-url https://192.0.2.10:8443 --no-verify-ssl --use-list-objects-v1 run');
    expect(lines[0]).not.toContain('AWS_CA_BUNDLE');
  });
});

describe('run files of a spooled plan', () => {
  it('read only the kinds they carry: a plan of millions of adopts is not read through for them', async () => {
    const { MemorySpool, SpooledActions } = await import('../../src/plan/spools.ts');
    const config = testConfig();
    const array = await planOf(config, inventory().volume('/v1', { free: 1e9 }).source('a', 1).source('b', 2).dest('b', 2).build());
    const segments = (['download', 'redownload', 'adopt', 'upload', 'purge', 'skip'] as const).map((kind) => {
      const spool = new MemorySpool();
      array.actions.forEach((action, rank) => action.kind === kind && spool.push(rank, action));
      if (kind === 'adopt') {
        expect(spool.length).toBe(1);
        spool.entries = () => {
          throw new Error('the adopts were read');
        };
      }
      return { kind, spools: [spool] };
    });
    expect(renderManifests({ ...array, actions: new SpooledActions(segments) }, config)).toEqual(renderManifests(array, config));
  });
});
