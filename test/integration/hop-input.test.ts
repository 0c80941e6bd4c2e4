/**
 * The lines of one turn of the event loop reach s5cmd's stdin in one write: apply sends a line per
 * object as each is staged, and one write (and system call) each was a measurable part of its
 * per-object cost. Real s5cmd and MinIO: every line still runs, in one s5cmd `run`.
 */
import { Socket } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBucket, listAll, requireTools, tempDir, useMinioPair } from '../harness/index.ts';
import { hopFor } from '../harness/minio.ts';
import { HopRunner } from '../../src/apply/runner.ts';
import { s5cmdEnv, s5cmdGlobalArgs } from '../../src/apply/s5cmd.ts';

const pair = useMinioPair();

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the input of a hop', () => {
  it('writes the lines sent in one turn together, and s5cmd runs every one', async () => {
    const { s5cmd } = requireTools();
    const bucket = await createBucket(pair.cloud);
    const folder = await tempDir('hop-input');
    mkdirSync(join(folder, 'd'), { recursive: true });
    const count = 40;
    for (let i = 0; i < count; i++) writeFileSync(join(folder, 'd', `o${i}`), `object ${i}`);
    const hop = hopFor(pair.cloud, bucket);
    const written: string[] = [];
    const write = Socket.prototype.write;
    vi.spyOn(Socket.prototype, 'write').mockImplementation(function (this: Socket, ...args: Parameters<typeof write>) {
      const chunk = args[0];
      if (typeof chunk === 'string' && chunk.startsWith('cp ')) written.push(chunk);
      return write.apply(this, args);
    } as typeof write);
    const reported: string[] = [];
    const runner = new HopRunner({
      s5cmd,
      args: s5cmdGlobalArgs(hop, 8),
      env: s5cmdEnv(hop),
      onSuccess: (result) => reported.push(result.destination),
    });
    for (let i = 0; i < count; i++) runner.send(`cp "${join(folder, 'd', `o${i}`)}" "s3://${bucket}/d/o${i}"`);
    runner.end();
    const result = await runner.done();
    expect(result.exitCode).toBe(0);
    expect(reported).toHaveLength(count);
    expect((await listAll(pair.cloud, bucket)).length).toBe(count);
    // One write of all forty lines, not forty writes.
    expect(written).toHaveLength(1);
    expect(written[0]!.split('\n').filter((line) => line !== '')).toHaveLength(count);
  });
});
