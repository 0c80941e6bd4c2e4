/**
 * The same bucket under two names (issue 11, item 6): source bucket `edge`, prefix "", and
 * destination bucket `edge`, prefix archive/, on one MinIO. Reached as 127.0.0.1 and localhost,
 * validate and plan refuse the config. Reached through a TCP forwarder on another port, which no
 * config check can see through, apply still never copies its own output: a second apply leaves
 * no archive/archive/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanup, createBucket, listAll, putObjects, startMinio, tempDir, type MinioServer } from '../harness/index.ts';
import { startLink, type Link } from '../harness/link.ts';
import { runCli } from './site.ts';

let server: MinioServer;
let forwarder: Link;

beforeAll(async () => {
  server = await startMinio('alias');
  forwarder = await startLink(server.endpoint, {});
});
afterAll(async () => {
  await forwarder?.close();
  await server?.stop();
  await cleanup();
});

/** A config for one bucket as both hops: source prefix "", destination prefix archive/. */
async function aliasSite(bucket: string, sourceEndpoint: string, destinationEndpoint: string) {
  const dir = await tempDir('dualsync-alias-');
  await mkdir(join(dir, 'volume-01'), { recursive: true });
  const hop = (name: string, prefix: string, endpoint: string) => [
    `${name}:`,
    `  bucket: ${bucket}`,
    `  prefix: "${prefix}"`,
    '  region: us-east-1',
    `  endpoint: ${endpoint}`,
    '  addressing: path',
    '  credentials:',
    '    accessKeyId: ${KEY_ID}',
    '    secretAccessKey: ${SECRET}',
  ];
  const yaml = [
    'version: 1',
    ...hop('source', '', sourceEndpoint),
    ...hop('destination', 'archive/', destinationEndpoint),
    'staging:',
    `  volumes: ["${join(dir, 'volume-*')}"]`,
    '  reserve: 0%',
    `stateDir: ${join(dir, 'state')}`,
    '',
  ].join('\n');
  const configPath = join(dir, 'sync.yaml');
  await writeFile(configPath, yaml);
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, KEY_ID: server.accessKeyId, SECRET: server.secretAccessKey };
  return { cli: (...args: string[]) => runCli([...args, '-c', configPath], env) };
}

describe('the same bucket under two names', () => {
  it('127.0.0.1 and localhost on one port: validate and plan refuse, naming both hops', async () => {
    const bucket = await createBucket(server, 'edge');
    await putObjects(server, bucket, [{ key: 'a.txt', body: 'alpha' }]);
    const port = new URL(server.endpoint).port;
    const site = await aliasSite(bucket, `http://127.0.0.1:${port}`, `http://localhost:${port}`);

    for (const command of ['validate', 'plan']) {
      const result = await site.cli(command);
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toContain('destination.bucket: source and destination are the same place');
      expect(result.stderr).toContain('source.prefix ""');
      expect(result.stderr).toContain('destination.prefix "archive/"');
      expect(result.stderr).toContain('do not contain each other');
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
    expect((await listAll(server, bucket)).map((o) => o.key)).toEqual(['a.txt']);
  });

  it('an alias no check can see (a forwarder on another port): apply never copies its own output', async () => {
    const bucket = await createBucket(server, 'edge-forwarded');
    await putObjects(server, bucket, [{ key: 'a.txt', body: 'alpha' }, { key: 'dir/b.txt', body: 'beta' }]);
    const site = await aliasSite(bucket, forwarder.endpoint, server.endpoint);

    expect((await site.cli('validate')).exitCode).toBe(0);
    const first = await site.cli('apply', '--auto-approve');
    expect(first.exitCode, first.stderr + first.stdout).toBe(0);
    expect((await listAll(server, bucket)).map((o) => o.key)).toEqual(['a.txt', 'archive/a.txt', 'archive/dir/b.txt', 'dir/b.txt']);

    const second = await site.cli('apply', '--auto-approve');
    expect(second.exitCode, second.stderr + second.stdout).toBe(0);
    expect((await listAll(server, bucket)).map((o) => o.key)).toEqual(['a.txt', 'archive/a.txt', 'archive/dir/b.txt', 'dir/b.txt']);

    const plan = await site.cli('plan', '--detailed-exitcode');
    expect(plan.exitCode, plan.stdout).toBe(0);
    expect(plan.stdout).toContain("under the destination prefix archive/ of the same bucket edge-forwarded: dualsync's own output");
  });
});
