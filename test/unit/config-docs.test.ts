import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import schema from '../../schemas/sync.schema.json' with { type: 'json' };
import { renderConfigDocs, type SchemaDoc } from '../../scripts/gen-config-docs.ts';

/** Every property path of the schema with its node, following the hop and credentials definitions. */
function properties(node: SchemaDoc, prefix: string, root: SchemaDoc): [string, SchemaDoc][] {
  const found: [string, SchemaDoc][] = [];
  for (const [name, property] of Object.entries(node.properties ?? {})) {
    found.push([`${prefix}${name}`, property]);
    const target = property.$ref ? root.definitions?.[property.$ref.replace('#/definitions/', '')] : property;
    if (target?.properties) found.push(...properties(target, `${prefix}${name}.`, root));
  }
  return found;
}

describe('docs/config.md', () => {
  it('is exactly what scripts/gen-config-docs.ts generates from the schema (run it after a schema change)', () => {
    const committed = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderConfigDocs(schema as SchemaDoc));
  });

  it('every field of the schema has a description, and the docs show each one', () => {
    const docs = renderConfigDocs(schema as SchemaDoc);
    const fields = properties(schema as SchemaDoc, '', schema as SchemaDoc);
    expect(fields.length).toBeGreaterThan(30);
    for (const [path, node] of fields) {
      expect(node.description, path).toBeTruthy();
      expect(docs, path).toContain((node.description ?? '').replace(/\s+/g, ' ').replace(/\|/g, '\\|'));
    }
  });
});

describe('stateDir is described as what it holds', () => {
  /** What a state directory holds, as the code names it (ledger/, apply/, engine, reset). */
  const HOLDS = ['`id`', '`ledger.db`', '`ledger.db-wal`', '`ledger.db-shm`', '`ledger.db-high-water`', '`last-run.json`', '`lock`', '`children/`', '`spool/`', '`backup-*`'];

  it('in the schema and so in docs/config.md', () => {
    const description = (schema as SchemaDoc).properties?.stateDir?.description ?? '';
    expect(description).not.toMatch(/saved plans and logs/);
    for (const name of HOLDS) expect(description, name).toContain(name);
  });

  it('in the starter config that init writes', async () => {
    const { starterConfig } = await import('../../src/config/template.ts');
    const line = starterConfig('x').split('\n').find((l) => l.startsWith('stateDir:')) ?? '';
    expect(line).not.toMatch(/saved plans and logs/);
    expect(line).toMatch(/ledger.*lock/);
  });
});
