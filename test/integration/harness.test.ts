import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { s5cmdEnv, s5cmdGlobalArgs } from '../../src/apply/s5cmd.ts';
import {
  cleanup,
  clientFor,
  createBucket,
  hopFor,
  listAll,
  livingChildren,
  md5,
  md5OfBucket,
  putMultipart,
  putObjects,
  requireTools,
  runProcess,
  startPair,
  tempDir,
} from '../harness/index.ts';

afterAll(cleanup);

describe('harness', () => {
  it('requireTools finds the patched s5cmd 2.3.0 and MinIO', async () => {
    const tools = requireTools();
    const { code, stdout } = await runProcess(tools.s5cmd, ['version'], { env: { PATH: '/usr/bin:/bin' } });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^v2\.3\.0\+nohead\.1-dev$/m);
    expect(existsSync(tools.minio)).toBe(true);
  });

  it('requireTools with the tools missing: one line saying to run npm run tools', async () => {
    const saved = process.env.DUALSYNC_TOOLS;
    process.env.DUALSYNC_TOOLS = await tempDir('no-tools-');
    try {
      expect(() => requireTools()).toThrow(/^integration tests need .*s5cmd and .*minio: run `npm run tools`[^\n]*$/);
    } finally {
      if (saved === undefined) delete process.env.DUALSYNC_TOOLS;
      else process.env.DUALSYNC_TOOLS = saved;
    }
  });

  it('two servers with their own keys; s5cmd moves bytes edge -> local -> cloud; nothing left running', async () => {
    const pair = await startPair();
    const pids = [pair.edge.pid, pair.cloud.pid];
    try {
      const { edge, cloud } = pair;
      expect(edge.endpoint).not.toBe(cloud.endpoint);
      expect(edge.accessKeyId).not.toBe(cloud.accessKeyId);

      // Each answers its own keys and refuses the other's.
      await edge.client.send(new ListBucketsCommand({}));
      await cloud.client.send(new ListBucketsCommand({}));
      const edgeKeysOnCloud = clientFor(cloud.endpoint, edge.accessKeyId, edge.secretAccessKey);
      const cloudKeysOnEdge = clientFor(edge.endpoint, cloud.accessKeyId, cloud.secretAccessKey);
      await expect(edgeKeysOnCloud.send(new ListBucketsCommand({}))).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
      await expect(cloudKeysOnEdge.send(new ListBucketsCommand({}))).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
      edgeKeysOnCloud.destroy();
      cloudKeysOnEdge.destroy();

      const source = await createBucket(edge);
      const target = await createBucket(cloud);
      expect(source).toMatch(/^t-[0-9a-f]{16}$/);
      expect(await createBucket(edge)).not.toBe(source);

      const objects = [
        { key: 'site/a.txt', body: 'alpha' },
        { key: 'site/with space/b.bin', body: Buffer.alloc(70_000, 7) },
        { key: 'site/ünï/c.csv', body: 'x,y\n1,2\n' },
        { key: 'site/empty', body: '' },
      ];
      await putObjects(edge, source, objects);
      const big = Buffer.alloc(11 * 1024 * 1024, 1);
      big.write('not all ones', 6 * 1024 * 1024);
      const bigEtag = await putMultipart(edge, source, 'site/big.bin', big, 5 * 1024 * 1024);
      expect(bigEtag).toMatch(/^[0-9a-f]{32}-3$/);
      const listed = await listAll(edge, source, 'site/');
      expect(listed.map((o) => o.key).sort()).toEqual([...objects.map((o) => o.key), 'site/big.bin'].sort());
      expect(listed.find((o) => o.key === 'site/a.txt')?.etag).toBe(md5('alpha'));

      // s5cmd with each hop's keys in its environment only.
      const { s5cmd } = requireTools();
      const local = await tempDir('s5cmd-local-');
      const edgeHop = hopFor(edge, source);
      const cloudHop = hopFor(cloud, target);
      const downloadArgs = [...s5cmdGlobalArgs(edgeHop, 4), 'cp', `s3://${source}/site/*`, `${local}/`];
      const uploadArgs = [...s5cmdGlobalArgs(cloudHop, 4), 'cp', `${local}/*`, `s3://${target}/copied/`];
      for (const args of [downloadArgs, uploadArgs]) {
        expect(args.join(' ')).not.toContain(edge.secretAccessKey);
        expect(args.join(' ')).not.toContain(cloud.secretAccessKey);
      }
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: local };
      const down = await runProcess(s5cmd, downloadArgs, { env: s5cmdEnv(edgeHop, env) });
      expect(down.code, down.stderr).toBe(0);
      expect(await readFile(join(local, 'a.txt'), 'utf8')).toBe('alpha');
      expect((await readdir(join(local, 'with space'))).sort()).toEqual(['b.bin']);
      const up = await runProcess(s5cmd, uploadArgs, { env: s5cmdEnv(cloudHop, env) });
      expect(up.code, up.stderr).toBe(0);
      // Every result line is JSON (the runner depends on it).
      for (const line of up.stdout.trim().split('\n')) expect(JSON.parse(line)).toMatchObject({ operation: 'cp', success: true });

      const sent = await md5OfBucket(edge, source, 'site/');
      const received = await md5OfBucket(cloud, target, 'copied/');
      expect(received).toEqual(sent);
      expect(sent.get('big.bin')).toBe(md5(big));

      // The wrong hop's keys fail loudly with s5cmd too.
      const crossed = await runProcess(s5cmd, [...s5cmdGlobalArgs(cloudHop, 1), 'ls', `s3://${target}/`], { env: s5cmdEnv(edgeHop, env) });
      expect(crossed.code).not.toBe(0);
    } finally {
      await pair.stop();
    }
    expect(livingChildren()).toEqual([]);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`), `MinIO ${pid} still in /proc`).toBe(false);
  });
});
