/**
 * Generates src/config/schema-validator.generated.ts, the validator of schemas/sync.schema.json as
 * Ajv's standalone code. Compiling the schema at run time cost every command ~85 ms of CPU before
 * it did anything; the generated module is loaded like any other. The options are the ones the
 * errors were written for (schema-errors.ts), so the errors, and the messages built from them, are
 * the same. test/unit/config-validator.test.ts fails when the committed file is no longer what
 * the schema generates.
 * Run: npm run config:validator (node scripts/gen-config-validator.ts)
 */
import { writeFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import schemaJson from '../schemas/sync.schema.json' with { type: 'json' };

/** The options the validator is compiled with. */
export const AJV_OPTIONS = { allErrors: true, strict: true, strictRequired: false } as const;

const HEADER = [
  '/* eslint-disable */',
  '// Generated from schemas/sync.schema.json by `npm run config:validator` (scripts/gen-config-validator.ts): do not edit.',
  '// @ts-nocheck',
  '/*',
  ' * Over 400 lines: Ajv writes the validator of the whole schema as one module; edit the schema, not this file.',
  ' */',
  '',
].join('\n');

/**
 * The module's text. Ajv's ESM output still `require`s its runtime helpers (ucs2length for
 * minLength/maxLength): each becomes an import of the same file. It is a CommonJS module whose
 * `exports.default` is the helper; an ES import sees it as `default` (vitest, which honours
 * `__esModule`) or as `default.default` (Node and the release's bundle), so the helper is picked
 * from either. ajv's own code still runs, and the release's LICENSES still names its package.
 */
export function generateValidatorSource(): string {
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true, lines: true } });
  const validate = ajv.compile(schemaJson);
  const code = standalone.default(ajv, validate);
  const imports = new Map<string, string>();
  const rewritten = code.replace(/require\("(ajv\/dist\/runtime\/([a-z0-9]+))"\)\.default/gi, (_match, path: string, helper: string) => {
    const name = `${helper}Module`;
    imports.set(name, `${path}.js`);
    return `helperOf(${name})`;
  });
  if (/\brequire\(/.test(rewritten)) throw new Error('the generated validator still calls require(): import that helper as well');
  const importLines = [...imports].map(([name, path]) => `import * as ${name} from ${JSON.stringify(path)};\n`).join('');
  const helperOf = imports.size === 0 ? '' : 'const helperOf = (module) => (typeof module.default === "function" ? module.default : module.default.default);\n';
  return `${HEADER}${importLines}${helperOf}${rewritten}\n`;
}

/** Where the generated module lives. */
export const VALIDATOR_FILE = new URL('../src/config/schema-validator.generated.ts', import.meta.url);

if (import.meta.main) {
  await writeFile(VALIDATOR_FILE, generateValidatorSource());
  process.stdout.write(`wrote ${VALIDATOR_FILE.pathname}\n`);
}
