/**
 * Every key that `apply` moves also survives `plan --out FILE` and `apply FILE`: the hostile-key
 * corpora (line and paragraph separators included, which `readline` once split a plan file at)
 * go through a saved plan against real MinIO and s5cmd, once in a small plan held in memory and
 * once among more actions than a spool holds in memory, so that apply reads the saved plan into
 * spool files. Each round ends byte-exact at the destination, and a second plan has no changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { cleanup, listAll, md5, md5OfBucket, putMultipart, putObjects, startPair, type MinioPair } from '../harness/index.ts';
import { DEFAULT_MEMORY_ENTRIES } from '../../src/files/spool.ts';
import { bodyOf, readCorpus, REFUSAL_ERRORS, rounds, type CorpusCase } from '../harness/key-corpus.ts';
import { makeSite } from './site.ts';

const corpus = [...readCorpus('hostile.json'), ...readCorpus('hostile-extra.json')];
const SEPARATORS = /[\u2028\u2029]/;

let pair: MinioPair;
const report: string[] = [];

beforeAll(async () => {
  pair = await startPair();
});
afterAll(async () => {
  console.log(['saved plans of hostile keys:', ...report].join('\n'));
  await pair?.stop();
  await cleanup();
});

/**
 * Seeds `items` (and `fillers` plain objects) into a fresh site, saves a plan, applies the file,
 * and checks the destination and a second plan. Returns how many downloads the plan held.
 */
async function roundTrip(items: CorpusCase[], fillers: number): Promise<{ downloads: number; tried: number }> {
  const site = await makeSite(pair, { volumes: 2, transfer: ['verify: etag', 'partSize: 5MiB', 'workers: 16'] });
  const held: CorpusCase[] = [];
  for (const item of items) {
    const body = bodyOf(item);
    try {
      if (body.length > 5 * 1024 * 1024) await putMultipart(pair.edge, site.sourceBucket, item.key, body, 5 * 1024 * 1024);
      else await putObjects(pair.edge, site.sourceBucket, [{ key: item.key, body }]);
      held.push(item);
    } catch (error) {
      expect(`${(error as Error).name}: ${(error as Error).message}`, `unexpected error seeding ${JSON.stringify(item.key)}`).toMatch(REFUSAL_ERRORS);
    }
  }
  // A key MinIO lists under another name (a leading '/' dropped) is not a corpus key: taken out again.
  const heldKeys = new Set(held.map((item) => item.key));
  for (const { key } of await listAll(pair.edge, site.sourceBucket)) {
    if (!heldKeys.has(key)) await pair.edge.client.send(new DeleteObjectCommand({ Bucket: site.sourceBucket, Key: key }));
  }
  const listed = new Set((await listAll(pair.edge, site.sourceBucket)).map((o) => o.key));
  const tried = held.filter((item) => listed.has(item.key));
  const filler = Array.from({ length: fillers }, (_, i) => ({ key: `filler/${String(i).padStart(5, '0')}`, body: `filler ${i}\n` }));
  await putObjects(pair.edge, site.sourceBucket, filler);

  const planPath = join(site.dir, 'plan.json');
  const planned = await site.cli('plan', '--out', planPath);
  expect(planned.exitCode, planned.stdout + planned.stderr).toBe(0);
  const saved = JSON.parse(await readFile(planPath, 'utf8')) as { plan: { actions: { kind: string; key: string }[] } };
  const downloads = saved.plan.actions.filter((a) => a.kind === 'download').map((a) => a.key);
  const stage = tried.filter((item) => item.expect === 'stage');
  expect(downloads.filter((key) => !key.startsWith('filler/')).sort()).toEqual(stage.map((item) => item.key).sort());

  const applied = await site.cli('apply', planPath);
  expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  expect(applied.stderr).not.toMatch(/Error|Internal error|\n\s+at /);

  const expected = new Map([...stage.map((item) => [item.key, md5(bodyOf(item))] as const), ...filler.map((f) => [f.key, md5(f.body)] as const)]);
  expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(expected);
  const again = await site.cli('plan', '--detailed-exitcode');
  expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  return { downloads: downloads.length, tried: tried.length };
}

describe('a saved plan of hostile keys', () => {
  it('the corpora hold keys with a line separator and a paragraph separator', () => {
    expect(corpus.filter((item) => SEPARATORS.test(item.key) && item.expect === 'stage').length).toBeGreaterThanOrEqual(2);
  });

  it('every key MinIO holds goes through plan --out and apply FILE byte-exact, in plans held in memory', async () => {
    const planned = rounds(corpus);
    let tried = 0;
    for (const round of planned) tried += (await roundTrip(round, 0)).tried;
    report.push(`  in memory: ${tried} corpus keys MinIO holds, in ${planned.length} rounds`);
    expect(tried).toBeGreaterThan(60);
  }, 300_000);

  it(`and among more than ${DEFAULT_MEMORY_ENTRIES} actions of a kind, read back through spool files`, async () => {
    // The round that holds the separators, with enough plain objects that each kind's spool spills to a file.
    const round = rounds(corpus).find((candidate) => candidate.some((item) => SEPARATORS.test(item.key)))!;
    const withSeparators = round.filter((item) => SEPARATORS.test(item.key)).length;
    const { downloads, tried } = await roundTrip(round, DEFAULT_MEMORY_ENTRIES + 100);
    expect(downloads).toBeGreaterThan(DEFAULT_MEMORY_ENTRIES);
    report.push(`  spooled: ${downloads} downloads (their uploads and purges too), ${tried} corpus keys, ${withSeparators} with a separator`);
  }, 600_000);
});
