/**
 * The config validator is compiled ahead of time (scripts/gen-config-validator.ts). The committed
 * module must be exactly what the schema generates, and it must judge every config as Ajv
 * compiling the schema at run time does: the same errors, so the same messages.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import schemaJson from '../../schemas/sync.schema.json' with { type: 'json' };
import { AJV_OPTIONS, generateValidatorSource, VALIDATOR_FILE } from '../../scripts/gen-config-validator.ts';
import { validateSchema } from '../../src/config/schema.ts';

const FIXTURES = new URL('../../fixtures/config/', import.meta.url).pathname;

function fixtureDocuments(): { name: string; value: unknown }[] {
  return ['good', 'broken'].flatMap((folder) =>
    readdirSync(join(FIXTURES, folder))
      .filter((name) => name.endsWith('.yaml'))
      .map((name) => ({ name: `${folder}/${name}`, value: parseDocument(readFileSync(join(FIXTURES, folder, name), 'utf8')).toJS() as unknown })),
  );
}

describe('the precompiled config validator', () => {
  it('is what the schema generates (run `npm run config:validator` after changing the schema)', () => {
    expect(readFileSync(VALIDATOR_FILE, 'utf8')).toBe(generateValidatorSource());
  });

  it('gives the errors that compiling the schema at run time gives, for every config fixture', () => {
    const compiled = new Ajv(AJV_OPTIONS).compile(schemaJson);
    const documents = fixtureDocuments();
    expect(documents.length).toBeGreaterThan(10);
    let invalid = 0;
    for (const { name, value } of documents) {
      const valid = compiled(value);
      expect(validateSchema(value), name).toBe(valid);
      expect(validateSchema.errors ?? null, name).toEqual(compiled.errors ?? null);
      if (!valid) invalid++;
    }
    // The comparison covers errors, not only valid configs.
    expect(invalid).toBeGreaterThan(3);
  });
});
