import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AtomicFile, writeFileAtomically } from '../../src/files/atomic.ts';
import { removeTempDirs, tempDirSync } from '../harness/temp.ts';

afterAll(removeTempDirs);
const dir = (): string => tempDirSync('atomic-test-');

describe('atomic files', () => {
  it('replace the target only once everything was written, a megabyte at a time', () => {
    const path = join(dir(), 'plan.json');
    writeFileSync(path, 'old');
    const file = new AtomicFile(path);
    const line = `${'x'.repeat(99)}\n`;
    for (let i = 0; i < 30_000; i++) file.emit(line);
    expect(readFileSync(path, 'utf8')).toBe('old');
    file.commit();
    expect(readFileSync(path, 'utf8')).toBe(line.repeat(30_000));
    expect(readdirSync(join(path, '..'))).toEqual(['plan.json']);
  });

  it('leave the old file and no temporary file when the writer throws', () => {
    const folder = dir();
    const path = join(folder, 'plan.json');
    writeFileSync(path, 'old');
    expect(() =>
      writeFileAtomically(path, (emit) => {
        emit('x'.repeat(2 << 20));
        throw new Error('stopped half-way');
      }),
    ).toThrow(/half-way/);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(folder)).toEqual(['plan.json']);
  });

  it('name the file in an error of its own', () => {
    const path = join(dir(), 'missing-folder', 'plan.json');
    expect(() => new AtomicFile(path)).toThrow(/missing-folder\/plan\.json\.tmp-/);
    expect(existsSync(path)).toBe(false);
  });
});
