/**
 * `watch` and a bug: an error that is not a DualsyncError ends the loop with the stack and a
 * request to report it, instead of being retried forever. The bug is injected through the
 * command's own stderr (a dependency it is given): the progress view writes its first line there
 * as a cycle starts moving objects, and this stream throws a plain Error for that line.
 */
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite } from './site.ts';
import { buildCli } from '../../src/cli/main.ts';

const pair = useMinioPair();

/** A stderr that keeps what it is given, except that writing a progress line throws (a bug in the view). */
function stderrWithBrokenProgress(): { stream: Writable; text: () => string; thrown: () => number } {
  let text = '';
  let thrown = 0;
  const stream = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  stream.write = ((chunk: string | Uint8Array) => {
    const line = String(chunk);
    if (line.startsWith('progress: ')) {
      thrown++;
      throw new Error('injected: the progress view failed');
    }
    text += line;
    return true;
  }) as Writable['write'];
  return { stream, text: () => text, thrown: () => thrown };
}

describe('watch and an internal error', () => {
  it('stops at the first cycle that hits a bug, prints it with the stack, exits 1, and releases the lock', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'a.txt', body: 'a' }]);
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (chunk) => (out += chunk));
    const stderr = stderrWithBrokenProgress();
    const stdin = new PassThrough();
    stdin.end();
    // Not --once: a loop that retried the bug would run until the deadline below.
    const run = buildCli().run(['watch', '--interval', '1s', '-c', site.configPath], { stdin, stdout, stderr: stderr.stream, env: site.env, colorDepth: 1 });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'still running'>((resolve) => {
      timer = setTimeout(() => resolve('still running'), 60_000);
    });
    const exitCode = await Promise.race([run, deadline]);
    clearTimeout(timer);
    expect(exitCode, `${out}\n${stderr.text()}\n(progress lines thrown: ${stderr.thrown()})`).toBe(1);
    expect(stderr.thrown(), `${out}\n${stderr.text()}`).toBe(1);
    expect(out).toMatch(/cycle 1: internal error: injected: the progress view failed; stopping \(this is a bug in dualsync; please report it\)/);
    expect(out).not.toMatch(/retrying in/);
    expect(stderr.text()).toMatch(/^Internal error: Error: injected: the progress view failed\n\s+at /m);
    expect(stderr.text()).toContain('This is a bug in dualsync; please report it with the lines above.');
    // The lock went with it: the next command runs.
    const status = await site.cli('status');
    expect(status.stdout).not.toMatch(/watch running/);
  }, 90_000);
});
