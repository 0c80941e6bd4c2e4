import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs, tempDir } from '../harness/temp.ts';
import { runCli } from '../cli/helpers.ts';
import type { VolumeList } from '../../src/model/volume-list.ts';

afterAll(removeTempDirs);

/** A config with two named volumes (one with staged files and a leftover) and one that is missing. */
async function site(): Promise<{ dir: string; config: string }> {
  const dir = await tempDir('dualsync-volumes-');
  await mkdir(join(dir, 'volume-01', 'site-7', 'day 1'), { recursive: true });
  await writeFile(join(dir, 'volume-01', 'site-7', 'day 1', 'a.csv'), 'x'.repeat(1000));
  await writeFile(join(dir, 'volume-01', 'site-7', 'b.csv'), 'y'.repeat(24));
  await mkdir(join(dir, 'volume-01', '.dualsync-tmp'));
  await writeFile(join(dir, 'volume-01', '.dualsync-tmp', 'c.csv829301'), 'partial');
  await mkdir(join(dir, 'volume-02'));
  const config = join(dir, 'sync.yaml');
  await writeFile(
    config,
    [
      'version: 1',
      'source: { bucket: field-data, region: us-east-1, endpoint: "http://127.0.0.1:1", credentials: { profile: edge } }',
      'destination: { bucket: archive, region: us-east-1, endpoint: "http://127.0.0.1:2", credentials: { profile: cloud } }',
      `staging: { volumes: ["${join(dir, 'volume-01')}", "${join(dir, 'volume-02')}", "${join(dir, 'volume-03')}"], reserve: 1GiB }`,
      `stateDir: ${join(dir, 'state')}`,
    ].join('\n'),
  );
  return { dir, config };
}

describe('dualsync volumes list', () => {
  it('shows each volume with its filesystem, space, reserve and staged bytes; a missing one is a problem row and exit 1', async () => {
    const { dir, config } = await site();
    const result = await runCli(['volumes', 'list', '--json', '-c', config]);
    expect(result.stderr).not.toMatch(/Internal error/);
    expect(result.exitCode).toBe(1);
    const list = JSON.parse(result.stdout) as VolumeList;
    expect(list.volumes.map((v) => [v.root ?? v.entry, v.problem === undefined])).toEqual([
      [join(dir, 'volume-01'), true],
      [join(dir, 'volume-02'), true],
      [join(dir, 'volume-03'), false],
    ]);
    const [first, second, missing] = list.volumes;
    expect(first).toMatchObject({ stagedFiles: 2, stagedBytes: 1024, leftovers: 1, reserveBytes: 1024 ** 3 });
    expect(first?.fsType).toEqual(expect.any(String));
    expect(first?.mountPoint).toEqual(expect.stringMatching(/^\//));
    expect(first!.totalBytes).toBeGreaterThan(first!.freeBytes!);
    expect(second).toMatchObject({ stagedFiles: 0, stagedBytes: 0, leftovers: 0 });
    expect(missing?.problem).toMatch(/volume-03 matches no directory/);

    const human = await runCli(['volumes', 'list', '-c', config]);
    expect(human.exitCode).toBe(1);
    expect(human.stdout).toContain('2 (1 KiB)');
    expect(human.stdout).toContain('PROBLEM:');
    expect(human.stdout).toMatch(/holds 1 file\(s\) of interrupted downloads/);
    expect(human.stdout).toMatch(/2 volume\(s\): .* free above the reserves, 1 KiB staged; 1 with a problem\./);
  });

  it('exits 0 when every volume is there', async () => {
    const { dir, config } = await site();
    await mkdir(join(dir, 'volume-03'));
    const result = await runCli(['volumes', '-c', config]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('PROBLEM');
  });
});
