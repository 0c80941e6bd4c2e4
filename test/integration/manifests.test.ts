/**
 * The run files of `plan --out` are plain s5cmd run files an operator can run by hand: run with
 * the real s5cmd against real servers, credentials only in the environment, they move exactly
 * the planned objects, hostile names included. (Apply writes the same lines; it also renames
 * each verified download from its temporary name into place, as this test does by hand.)
 */
import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { localPath, tempPath } from '../../src/plan/volume-paths.ts';
import { md5, md5OfBucket, putObjects, requireTools, useMinioPair } from '../harness/index.ts';
import { makeSite } from './site.ts';

const pair = useMinioPair();

const HOSTILE = [
  'plain/file.txt',
  'spaces/a file with  two  spaces.txt',
  'quotes/"double" and \'single\'.txt',
  'globs/star*question?[bracket].txt',
  'shell/$HOME `tick` back\\slash;pipe|amp&.txt',
  'unicode/café ünïcode ✓ 日本語.txt',
  'unicode/cafe\u0301-nfd.txt',
  'dash/-leading-dash',
  'percent/100% + hash # eq =.txt',
  'empty/zero-bytes',
];

describe('plan --out run files, run by hand with s5cmd', () => {
  it('download.s5cmd then upload.s5cmd move exactly the planned objects, byte-exact', async () => {
    const { s5cmd } = requireTools();
    const site = await makeSite(pair, { volumes: 2 });
    const objects = HOSTILE.map((key, i) => ({ key, body: key.startsWith('empty/') ? '' : `${key}\n`.repeat(i + 1) }));
    await putObjects(pair.edge, site.sourceBucket, objects);
    const planPath = join(site.dir, 'plan.json');
    const planned = await site.cli('plan', '--out', planPath);
    expect(planned.exitCode, planned.stderr).toBe(0);
    const plan = JSON.parse(await readFile(planPath, 'utf8')).plan as { actions: { kind: string; key: string; volume?: string }[] };
    const downloads = plan.actions.filter((a) => a.kind === 'download');
    expect(downloads.map((a) => a.key).sort()).toEqual([...HOSTILE].sort());

    const credentials = (server: typeof pair.edge) => ({
      PATH: process.env.PATH ?? '',
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
      AWS_REGION: 'us-east-1',
    });
    // Each file's own "By hand:" line, run as printed with <this file> filled in, s5cmd on the PATH.
    const byHand = async (file: string, server: typeof pair.edge) => {
      const comment = (await readFile(file, 'utf8')).split('\n').find((l) => l.startsWith('# By hand: '))!;
      const command = comment.slice('# By hand: '.length).replace('<this file>', `'${file}'`);
      expect(command).toContain(`--endpoint-url ${server.endpoint}`);
      const env = { ...credentials(server), PATH: `${dirname(s5cmd)}:${process.env.PATH ?? ''}` };
      delete (env as { AWS_REGION?: string }).AWS_REGION;
      return execa('sh', ['-c', command], { env, extendEnv: false, reject: false });
    };
    const down = await byHand(join(site.dir, 'plan.download.s5cmd'), pair.edge);
    expect(down.exitCode, String(down.stderr)).toBe(0);
    for (const action of downloads) {
      const body = objects.find((o) => o.key === action.key)!.body;
      const staged = tempPath(action.volume!, action.key);
      expect(md5(await readFile(staged)), action.key).toBe(md5(body));
      // What apply does once the download verifies.
      await mkdir(dirname(localPath(action.volume!, action.key)), { recursive: true });
      await rename(staged, localPath(action.volume!, action.key));
    }

    const up = await byHand(join(site.dir, 'plan.upload.s5cmd'), pair.cloud);
    expect(up.exitCode, String(up.stderr)).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));
  });
});
