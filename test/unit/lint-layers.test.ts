// The lint rules that keep the rooms apart, tried on the imports they must refuse and allow.
// A rule that lints nothing passes every file; these prove the rule bites where it should.
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const eslint = new ESLint({ cwd: root });

/** The rule ids ESLint reports for `text` as if it were the file at `path` (relative to the repository). */
async function ruleIds(path: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: join(root, path) });
  return (result?.messages ?? []).map((message) => message.ruleId ?? message.message);
}

const VIEW_IMPORT = "import { renderDoctor } from '../view/doctor.ts';\nexport const shown = renderDoctor;\n";

describe('only the command line imports view/', () => {
  it.each([
    ['src/ops/doctor-extra.ts', VIEW_IMPORT],
    ['src/ledger/extra.ts', VIEW_IMPORT],
    ['src/apply/extra.ts', VIEW_IMPORT],
    ['src/inventory/extra.ts', VIEW_IMPORT],
    ['src/model/extra.ts', VIEW_IMPORT],
    ['src/engine-extra.ts', "import { renderDoctor } from './view/doctor.ts';\nexport const shown = renderDoctor;\n"],
    ['src/ops/typed.ts', "import type { DoctorReport } from '../view/doctor.ts';\nexport type Shown = DoctorReport;\n"],
  ])('%s may not import view/', async (path, text) => {
    expect(await ruleIds(path, text)).toContain('no-restricted-imports');
  });

  it.each([
    ['src/cli/commands/extra.ts', "import { renderDoctor } from '../../view/doctor.ts';\nexport const shown = renderDoctor;\n"],
    ['src/view/extra.ts', "import { renderDoctor } from './doctor.ts';\nexport const shown = renderDoctor;\n"],
  ])('%s may import view/', async (path, text) => {
    expect(await ruleIds(path, text)).toEqual([]);
  });

  it('still keeps pure folders free of I/O next to the view rule', async () => {
    expect(await ruleIds('src/model/extra.ts', "import { readFile } from 'node:fs/promises';\nexport const read = readFile;\n")).toContain('no-restricted-imports');
  });
});
