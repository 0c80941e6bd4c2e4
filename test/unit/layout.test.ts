// The house's rooms: each job has one home, and arrows between folders point one way.
// These read the source as text, so a second copy or a backward import fails here.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function sources(dir = join(root, 'src')): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** `src/…` paths whose text matches `pattern`. */
function filesMatching(pattern: RegExp): string[] {
  return sources()
    .filter((path) => pattern.test(readFileSync(path, 'utf8')))
    .map((path) => relative(root, path));
}

describe('layout', () => {
  it('defines fsyncDirectory once, in src/files/', () => {
    expect(filesMatching(/function fsyncDirectory\b/)).toEqual(['src/files/fsync.ts']);
  });

  it('spells the two sides and the two hops once each, in src/model/', () => {
    // src/config/ still spells the side in four signatures; it is being reworked on its own.
    const outsideConfig = (paths: string[]) => paths.filter((path) => !path.startsWith('src/config/'));
    expect(outsideConfig(filesMatching(/'source' \| 'destination'|'destination' \| 'source'/))).toEqual(['src/model/side.ts']);
    expect(filesMatching(/'download' \| 'upload'|'upload' \| 'download'/)).toEqual(['src/model/apply.ts']);
  });

  it('keeps the layout of a volume apart from key order and key safety', () => {
    expect(filesMatching(/export const (TEMP_DIR|CLAIM_FILE)\b/)).toEqual(['src/model/volume-layout.ts']);
    expect(filesMatching(/export function (localPath|tempPath)\b/)).toEqual(['src/plan/volume-paths.ts']);
    expect(filesMatching(/import \{[^}]*\b(TEMP_DIR|CLAIM_FILE|localPath|tempPath)\b[^}]*\} from '[^']*plan\/keys\.ts'/)).toEqual([]);
  });

  it('says at its top why a file in src/ is over 400 lines', () => {
    const long = sources()
      .map((path) => ({ path: relative(root, path), text: readFileSync(path, 'utf8') }))
      .filter(({ text }) => text.split('\n').length > 400);
    expect(long.filter(({ text }) => !/^ \* Over 400 lines: /m.test(text.slice(0, 3000))).map(({ path }) => path)).toEqual([]);
  });

  it('plan/ imports nothing from manifest/ (the spool interfaces live in model/)', () => {
    expect(filesMatching(/from '\.\.\/manifest\//).filter((path) => path.startsWith('src/plan/'))).toEqual([]);
  });
});
