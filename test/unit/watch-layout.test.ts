// watch has one room for its logic (src/watch/) and one for its words (src/view/watch.ts);
// the command only parses options and prints. These read the source as text.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const importsOf = (path: string) => [...read(path).matchAll(/^import [^;]*? from '([^']+)';/gms)].map((match) => match[1]!);

describe('watch layout', () => {
  it('the loop emits values: nothing in src/watch/ imports a view', () => {
    const watchFiles = readdirSync(join(root, 'src/watch')).filter((name) => name.endsWith('.ts'));
    const withView = watchFiles.filter((name) => importsOf(`src/watch/${name}`).some((from) => from.includes('/view/')));
    expect(withView).toEqual([]);
  });

  it('the command decides nothing: no engine, lock, loop or backoff in src/cli/commands/watch.ts', () => {
    const imports = importsOf('src/cli/commands/watch.ts');
    expect(imports.filter((from) => /engine\.ts$|apply\/lock\.ts$|watch\/loop\.ts$|watch\/facts\.ts$/.test(from))).toEqual([]);
    expect(read('src/cli/commands/watch.ts')).not.toMatch(/backoffMs|runApply|acquireLock|hopsDown/);
  });
});
