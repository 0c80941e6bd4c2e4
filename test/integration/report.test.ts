/**
 * `dualsync report` against a site apply really moved: its rows are what apply did, stamped by
 * an injected clock; its head hash is the event log's; `--verify` catches an edited ledger row
 * and an edited event.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseSync } from 'node:sqlite';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { cleanup, putObjects, useMinioPair } from '../harness/index.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runApply, type EngineDeps } from '../../src/engine.ts';
import { makeSite, type Site } from './site.ts';
import { verifyLedger } from '../../src/ops/report.ts';
import { buildCli } from '../../src/cli/main.ts';
import { fillLedger } from '../harness/ledger.ts';

const pair = useMinioPair();
afterAll(cleanup);

const T0 = Date.parse('2030-05-01T10:00:00.000Z');

/** Applies with a clock that moves one second per reading, so each stamp is a known instant after T0. */
async function applyWithClock(site: Site): Promise<{ readings: string[] }> {
  const { config } = await loadConfig(site.configPath, site.env);
  const readings: string[] = [];
  let tick = 0;
  const deps: EngineDeps = {
    now: () => {
      const at = new Date(T0 + 1000 * tick++);
      readings.push(at.toISOString());
      return at;
    },
    env: site.env,
    warn: () => {},
  };
  const report = await runApply(config, deps, {});
  expect(report.applied).toBe(true);
  return { readings };
}

function edit(site: Site, sql: string): void {
  const db = new DatabaseSync(join(site.stateDir, 'ledger.db'));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe('dualsync report', () => {
  it('rows match what apply did, with the injected clock; --verify passes, then catches an edited row and an edited event', async () => {
    const site = await makeSite(pair, { volumes: 1, transfer: ['purgeAfterUpload: true'] });
    await putObjects(pair.edge, site.sourceBucket, [
      { key: 'a/one.txt', body: 'one\n'.repeat(100) },
      { key: 'b/two.txt', body: 'two\n'.repeat(50) },
    ]);
    const { readings } = await applyWithClock(site);

    const jsonl = await site.cli('report', '--format', 'jsonl');
    expect(jsonl.exitCode, jsonl.stderr).toBe(0);
    const rows = jsonl.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows.map((r) => [r.key, r.size, r.stage, r.verifiedBy, r.attempts])).toEqual([
      ['a/one.txt', 400, 'purged', 'size', 0],
      ['b/two.txt', 200, 'purged', 'size', 0],
    ]);
    for (const row of rows) {
      expect(row.sourceEtag).toMatch(/^[0-9a-f]{32}$/);
      expect(row.destinationEtag).toBe(row.sourceEtag);
      // Every stamp is one the injected clock handed out, in order staged <= delivered <= purged.
      for (const field of ['stagedAt', 'deliveredAt', 'purgedAt']) expect(readings).toContain(row[field]);
      expect(String(row.stagedAt) <= String(row.deliveredAt) && String(row.deliveredAt) <= String(row.purgedAt)).toBe(true);
    }

    const csv = await site.cli('report', '--format', 'csv', '--key-prefix', 'b/');
    expect(csv.stdout.split('\n')[0]).toBe('key,size,sourceEtag,localMd5,destinationEtag,stage,verifiedBy,adoptedBy,volume,stagedAt,deliveredAt,purgedAt,attempts,lastError,skipReason');
    expect(csv.stdout.trim().split('\n').slice(1).map((line) => line.split(',')[0])).toEqual(['b/two.txt']);
    const none = await site.cli('report', '--format', 'jsonl', '--since', '2031-01-01');
    expect(none.stdout).toBe('');
    const staged = await site.cli('report', '--format', 'jsonl', '--stage', 'staged');
    expect(staged.stdout).toBe('');

    const summary = await site.cli('report');
    expect(summary.stdout).toMatch(/Objects: 2 \(600 bytes\)/);
    expect(summary.stdout).toMatch(/purged +2 objects +600 bytes/);
    expect(summary.stdout).toContain(`First delivery: ${String(rows[0]!.deliveredAt) < String(rows[1]!.deliveredAt) ? rows[0]!.deliveredAt : rows[1]!.deliveredAt}`);
    const head = /head hash ([0-9a-f]{64})/.exec(summary.stdout)![1]!;
    // staged, delivered, purged for each object.
    expect(summary.stdout).toContain('Event log: 6 event(s)');

    const verified = await site.cli('report', '--verify');
    expect(verified.exitCode, verified.stdout).toBe(0);
    expect(verified.stdout).toContain(`chain to head hash ${head}`);

    edit(site, `UPDATE objects SET destination_etag = 'ffffffffffffffffffffffffffffffff' WHERE key = 'b/two.txt'`);
    const rowEdited = await site.cli('report', '--verify');
    expect(rowEdited.exitCode).toBe(1);
    expect(rowEdited.stdout).toMatch(/the ledger row of "b\/two.txt" does not match event \d+, the last that wrote it/);
  });

  it('a row inserted by hand is named by --verify; a skipped key is worded in the CSV and a code in JSON Lines and status --json', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await putObjects(pair.edge, site.sourceBucket, [
      { key: 'a/one.txt', body: 'one\n' },
      { key: 'c/bell\u0007.txt', body: 'bell\n' },
    ]);
    await applyWithClock(site);
    const jsonl = await site.cli('report', '--format', 'jsonl', '--stage', 'skipped');
    expect(jsonl.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { skipReason: unknown }).skipReason)).toEqual([{ code: 'key-control-character', unit: 'U+0007' }]);
    const csv = await site.cli('report', '--format', 'csv', '--stage', 'skipped');
    expect(csv.stdout.trim().split('\n')[1]).toMatch(/,control character U\+0007 \(a run file line cannot carry it\)$/);
    const status = JSON.parse((await site.cli('status', '--json')).stdout) as { skipped: { key: string; reason: unknown }[] };
    expect(status.skipped).toEqual([{ key: 'c/bell\u0007.txt', reason: { code: 'key-control-character', unit: 'U+0007' } }]);
    expect((await site.cli('report', '--verify')).exitCode).toBe(0);

    edit(site, `INSERT INTO objects (key, size, etag, stage, attempts) VALUES ('a/planted.txt', 4, 'e', 'delivered', 0)`);
    const planted = await site.cli('report', '--verify');
    expect(planted.exitCode).toBe(1);
    expect(planted.stdout).toContain('the ledger row of "a/planted.txt" was written by no event');
  });

  it('an edited event is named by --verify', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'x.txt', body: 'x' }, { key: 'y.txt', body: 'y' }]);
    await applyWithClock(site);
    expect((await site.cli('report', '--verify')).exitCode).toBe(0);
    edit(site, `UPDATE events SET at = '2030-01-01T00:00:00.000Z' WHERE seq = (SELECT min(seq) + 1 FROM events)`);
    const edited = await site.cli('report', '--verify');
    expect(edited.exitCode).toBe(1);
    expect(edited.stdout).toMatch(/^Ledger does NOT verify: event 2 \(\w+ "[xy].txt" at 2030-01-01T00:00:00.000Z\) does not match its hash/);
  });
});

describe('dualsync report after a reset', () => {
  it("the new ledger's chain opens with a reset event naming the replaced ledger's head; both chains verify", async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'p.txt', body: 'p' }]);
    await applyWithClock(site);
    const before = await site.cli('report');
    const oldHead = /head hash ([0-9a-f]{64})/.exec(before.stdout)![1]!;

    const reset = await site.cli('reset', '--yes');
    expect(reset.exitCode, reset.stderr).toBe(0);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'q.txt', body: 'q' }]);
    await applyWithClock(site);

    const db = new DatabaseSync(join(site.stateDir, 'ledger.db'), { readOnly: true });
    let first: { seq: number; type: string; key: string; body: string };
    let backup: string;
    try {
      first = db.prepare('SELECT seq, type, key, body FROM events ORDER BY seq LIMIT 1').get() as typeof first;
      backup = (JSON.parse(first.body) as { backup: string }).backup;
      expect(first).toMatchObject({ seq: 1, type: 'reset', key: '' });
      expect(JSON.parse(first.body)).toEqual({ previousHead: oldHead, backup: expect.stringMatching(/^backup-\d{8}T\d{6}Z/) });
    } finally {
      db.close();
    }
    const verified = await site.cli('report', '--verify');
    expect(verified.exitCode, verified.stdout).toBe(0);

    // The replaced ledger, in its backup folder, still verifies to the head the reset event names.
    const { config } = await loadConfig(site.configPath, site.env);
    const old = await verifyLedger({ ...config, stateDir: join(site.stateDir, backup) }, { now: () => new Date(), env: site.env, warn: () => {} });
    expect(old).toMatchObject({ ok: true, headHash: oldHead });
  });
});

describe('dualsync report: a bad option', () => {
  it('--format, --stage and --since out of range are E_USAGE naming the option and what it takes', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    for (const [args, words] of [
      [['--format', 'xml'], /--format "xml" is not one of csv, jsonl/],
      [['--stage', 'gone'], /--stage "gone" is not one of staged, delivered, purged, failing, skipped, none/],
      [['--since', 'yesterday'], /--since "yesterday" is not a date or time/],
    ] as const) {
      const result = await site.cli('report', ...args);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain('E_USAGE');
      expect(result.stderr).toMatch(words);
    }
  });
});

describe('dualsync report to a slow reader', () => {
  it('100k rows as JSON Lines into a reader that takes 64 KiB per timer tick: the buffered output and the heap stay bounded', async () => {
    const ROWS = 100_000;
    const site = await makeSite(pair, { volumes: 1 });
    await fillLedger(site.stateDir, ROWS);
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    // The heap and the buffers outside it (a Writable turns the strings written into Buffers).
    const used = () => {
      const memory = process.memoryUsage();
      return memory.heapUsed + memory.arrayBuffers;
    };
    const baseline = used();

    const MIB = 1024 * 1024;
    const TICK_BYTES = 64 * 1024;
    let budget = TICK_BYTES;
    let lines = 0;
    let writes = 0;
    let peakBuffered = 0;
    let peakMemory = 0;
    let tail = '';
    const slow = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        peakBuffered = Math.max(peakBuffered, slow.writableLength);
        if (++writes % 5000 === 0) {
          gc();
          peakMemory = Math.max(peakMemory, used() - baseline);
        }
        const text = tail + chunk.toString();
        const parts = text.split('\n');
        tail = parts.pop()!;
        lines += parts.length;
        budget -= chunk.length;
        if (budget > 0) return callback();
        setTimeout(() => {
          budget = TICK_BYTES;
          callback();
        }, 1);
      },
    });
    const stderr = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    const stdin = new PassThrough();
    stdin.end();
    const exitCode = await buildCli().run(['report', '--format', 'jsonl', '-c', site.configPath], { stdin, stdout: slow, stderr, env: site.env, colorDepth: 1 });
    expect(exitCode).toBe(0);
    slow.end();
    await finished(slow);
    expect(lines).toBe(ROWS);
    // 100k rows are about 30 MiB of JSON: written all at once, they would all wait in the stream.
    expect(peakBuffered, `peak bytes waiting in the output: ${peakBuffered}`).toBeLessThan(2 * MIB);
    expect(peakMemory, `peak growth of the heap and buffers: ${(peakMemory / MIB).toFixed(1)} MiB`).toBeLessThan(16 * MIB);
  });
});
