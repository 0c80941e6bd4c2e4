/**
 * Bad configs made by program: every field of sync.example.yaml given the wrong type, every
 * required field removed (the list comes from the schema), an unknown key in every section, and
 * bad sizes, URLs, durations, negative numbers and enum values. Each mutation, through `validate`
 * and through `plan`, exits 1 naming `file:line` and the field's path, never with a stack trace.
 * (fixtures/config/broken/ holds the hand-written cases and their exact messages.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { runCli } from './helpers.ts';

type Path = (string | number)[];

interface Mutation {
  name: string;
  /** The field the error must name. */
  path: Path;
  /** Where the error must point: the field's value, its key, or (for a missing field) its parent's key. */
  at: 'value' | 'key' | 'parent';
  says: RegExp;
  apply: (doc: Document) => void;
}

const repo = resolve(new URL('../..', import.meta.url).pathname);
const example = readFileSync(join(repo, 'sync.example.yaml'), 'utf8');
const schema = JSON.parse(readFileSync(join(repo, 'schemas/sync.schema.json'), 'utf8')) as {
  required: string[];
  properties: Record<string, { required?: string[]; $ref?: string }>;
  definitions: Record<string, { required?: string[] }>;
};

let dir: string;
let base: string;

/** sync.example.yaml with its relative paths made absolute, so that mutations can live in a temp folder. */
function baseConfig(stateDir: string): string {
  const doc = parseDocument(example);
  doc.setIn(['source', 'tls', 'caBundle'], join(repo, 'fixtures/config/good/snowball.pem'));
  doc.setIn(['staging', 'volumes', 0], join(repo, 'fixtures/volumes/example-*'));
  doc.setIn(['stateDir'], stateDir);
  return doc.toString();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dualsync-mutations-'));
  await mkdir(join(dir, 'state'));
  base = baseConfig(join(dir, 'state'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function dotted(path: Path): string {
  return path.map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : i === 0 ? segment : `.${segment}`)).join('');
}

/** The 1-based line of a field's key or value in `text`. */
function lineOf(text: string, path: Path, which: 'key' | 'value'): number {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  let node: unknown = doc.contents;
  let key: Node | undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === segment);
      if (pair === undefined) throw new Error(`no ${dotted(path)} in the mutated config`);
      key = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node)) {
      key = undefined;
      node = node.items[segment as number];
    } else {
      throw new Error(`${dotted(path)} does not lead anywhere`);
    }
  }
  const target = (which === 'key' ? key : node) as Node | undefined;
  if (target?.range === undefined || target.range === null) throw new Error(`${dotted(path)} has no position`);
  return lineCounter.linePos(target.range[0]).line;
}

/** Leaves and sections of the example, with their paths (arrays' elements included). */
function fields(value: unknown, path: Path = []): { path: Path; value: unknown }[] {
  const found: { path: Path; value: unknown }[] = path.length > 0 ? [{ path, value }] : [];
  if (Array.isArray(value)) value.forEach((item, i) => found.push(...fields(item, [...path, i])));
  else if (typeof value === 'object' && value !== null) for (const [key, item] of Object.entries(value)) found.push(...fields(item, [...path, key]));
  return found;
}

function flowMap(doc: Document, value: Record<string, unknown>): Node {
  const node = doc.createNode(value) as Node & { flow?: boolean };
  node.flow = true;
  return node;
}

/** Every field of the example with a value of another type. */
function wrongTypes(): Mutation[] {
  return fields(parseDocument(example).toJS()).map(({ path, value }) => {
    const kind = Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a section' : typeof value;
    const replacement = (doc: Document): unknown =>
      typeof value === 'string' || Array.isArray(value) ? flowMap(doc, { wrong: 'type' }) : typeof value === 'object' ? 'nothing here' : typeof value === 'number' ? 'many' : 'maybe';
    return {
      name: `wrong type: ${dotted(path)} (${kind}) given ${typeof value === 'string' || Array.isArray(value) ? 'a mapping' : 'a string'}`,
      path,
      at: 'value' as const,
      says: /expected|must be/,
      apply: (doc: Document) => doc.setIn(path, replacement(doc)),
    };
  });
}

/** Every field the schema requires, removed. */
function missingFields(): Mutation[] {
  const required: Path[] = schema.required.map((name) => [name]);
  for (const [section, property] of Object.entries(schema.properties)) {
    const own = property.required ?? (property.$ref ? schema.definitions[property.$ref.split('/').pop()!]?.required : undefined) ?? [];
    for (const name of own) required.push([section, name]);
  }
  return required.map((path) => ({
    name: `missing: ${dotted(path)}`,
    path,
    at: 'parent' as const,
    says: /missing required field/,
    apply: (doc: Document) => doc.deleteIn(path),
  }));
}

/** An unknown key in every section, and a near-miss of a real one. */
function unknownKeys(): Mutation[] {
  const sections = fields(parseDocument(example).toJS())
    .filter(({ value }) => typeof value === 'object' && value !== null && !Array.isArray(value))
    .map(({ path }) => path);
  const mutations: Mutation[] = [[], ...sections].map((section) => ({
    name: `unknown key: ${dotted([...section, 'colour']) || 'colour'}`,
    path: [...section, 'colour'],
    at: 'key' as const,
    says: /unknown field `colour`/,
    apply: (doc: Document) => (section.length === 0 ? doc.set('colour', 'blue') : doc.setIn([...section, 'colour'], 'blue')),
  }));
  mutations.push({
    name: 'unknown key: transfer.workerz (a typo)',
    path: ['transfer', 'workerz'],
    at: 'key',
    says: /unknown field `workerz` \(did you mean `workers`\?\)/,
    apply: (doc) => {
      doc.deleteIn(['transfer', 'workers']);
      doc.setIn(['transfer', 'workerz'], 64);
    },
  });
  return mutations;
}

function setTo(path: Path, value: unknown, says: RegExp, why: string): Mutation {
  return { name: `${why}: ${dotted(path)} = ${JSON.stringify(value)}`, path, at: 'value', says, apply: (doc) => doc.setIn(path, value) };
}

/** Values of the right type that mean nothing valid. */
function badValues(): Mutation[] {
  const size = /expected a size|size such as|not a whole number of bytes|must be greater than 0|larger than/;
  return [
    setTo(['transfer', 'maxBatchBytes'], 'lots', size, 'bad size'),
    setTo(['transfer', 'maxBatchBytes'], '5XB', size, 'bad size'),
    setTo(['transfer', 'maxBatchBytes'], '-1GiB', size, 'bad size'),
    setTo(['transfer', 'maxBatchBytes'], '1.5B', size, 'bad size'),
    setTo(['transfer', 'maxUploadBatchBytes'], '0', size, 'bad size'),
    setTo(['transfer', 'maxUploadBatchBytes'], '99999999EiB', size, 'bad size'),
    setTo(['transfer', 'partSize'], '1MiB', /5MiB to 5GiB/, 'bad size'),
    setTo(['transfer', 'partSize'], '6.5MiB', /whole number of MiB/, 'bad size'),
    setTo(['staging', 'reserve'], '150%', /0% to 99%/, 'bad size'),
    setTo(['staging', 'reserve'], 'half', /size|percentage/, 'bad size'),
    setTo(['source', 'endpoint'], '192.0.2.10', /http:\/\/ or https:\/\/ URL/, 'bad URL'),
    setTo(['source', 'endpoint'], 'ftp://192.0.2.10', /http:\/\/ or https:\/\/ URL/, 'bad URL'),
    setTo(['source', 'endpoint'], 'https://', /http:\/\/ or https:\/\/ URL/, 'bad URL'),
    setTo(['source', 'endpoint'], 'not a url', /http:\/\/ or https:\/\/ URL/, 'bad URL'),
    setTo(['destination', 'proxy'], 'proxy.example:3128', /http:\/\/ or https:\/\/ URL/, 'bad URL'),
    setTo(['watch', 'interval'], 'soon', /duration such as 30s/, 'bad duration'),
    setTo(['watch', 'interval'], '-5s', /duration/, 'bad duration'),
    setTo(['watch', 'interval'], '5 parsecs', /duration/, 'bad duration'),
    setTo(['watch', 'interval'], '0s', /must be longer than 0/, 'bad duration'),
    setTo(['transfer', 'workers'], -1, /at least 1/, 'negative number'),
    setTo(['transfer', 'workers'], 0, /at least 1/, 'negative number'),
    setTo(['transfer', 'workers'], 2.5, /whole number/, 'negative number'),
    setTo(['transfer', 'concurrency'], -3, /at least 1/, 'negative number'),
    setTo(['source', 'maxConnections'], -10, /at least 1/, 'negative number'),
    setTo(['transfer', 'verify'], 'md5', /expected one of `size`, `etag`/, 'wrong enum'),
    setTo(['transfer', 'verify'], 'SIZE', /expected one of `size`, `etag`/, 'wrong enum'),
    setTo(['source', 'addressing'], 'both', /expected one of `path`, `virtual`/, 'wrong enum'),
    setTo(['source', 'listApi'], 'v3', /expected one of `v1`, `v2`/, 'wrong enum'),
    setTo(['version'], 2, /must be 1/, 'wrong enum'),
    setTo(['source', 'bucket'], 'Field_Data', /S3 bucket name/, 'bad name'),
    setTo(['destination', 'prefix'], '/site-7/', /must not start with `\/`/, 'bad prefix'),
    setTo(['destination', 'prefix'], 'site-7', /must end with `\/`/, 'bad prefix'),
  ];
}

const mutations = [...wrongTypes(), ...missingFields(), ...unknownKeys(), ...badValues()];

describe('sync.example.yaml, mutated', () => {
  it('the example itself (paths made absolute) is valid, so every failure below is the mutation', async () => {
    const file = join(dir, 'base.yaml');
    await writeFile(file, base);
    const result = await runCli(['validate', '-c', file]);
    expect(result.exitCode, result.stderr).toBe(0);
  });

  it('covers every class of mistake', () => {
    const names = mutations.map((m) => m.name).join('\n');
    for (const kind of ['wrong type', 'missing', 'unknown key', 'bad size', 'bad URL', 'bad duration', 'negative number', 'wrong enum']) expect(names).toContain(`${kind}:`);
    expect(mutations.length).toBeGreaterThan(60);
  });

  it.each(mutations.map((m, i) => ({ ...m, index: i })))('$name: exit 1 with file:line and the field, no stack', async (mutation) => {
    const doc = parseDocument(base);
    mutation.apply(doc);
    const text = doc.toString();
    const file = join(dir, `mutation-${mutation.index}.yaml`);
    await writeFile(file, text);
    const field = dotted(mutation.path);
    const line =
      mutation.at === 'parent'
        ? mutation.path.length === 1
          ? undefined
          : lineOf(text, mutation.path.slice(0, -1), 'key')
        : lineOf(text, mutation.path, mutation.at);
    for (const command of [['validate'], ['plan']]) {
      const result = await runCli([...command, '-c', file]);
      const where = `${command[0]}:\n${result.stderr}\n--- ${file}\n${text}`;
      expect(result.exitCode, where).toBe(1);
      expect(result.stderr, where).not.toMatch(/^\s+at |Internal error|assertion failed/m);
      const reported = result.stderr.split('\n').find((l) => l.includes(`  ${field}: `) && l.includes(line === undefined ? `${file}:` : `${file}:${line}:`));
      expect(reported, where).toBeDefined();
      expect(reported, where).toMatch(new RegExp(`${file.replaceAll('.', '\\.')}:\\d+:\\d+ `));
      expect(reported, where).toMatch(mutation.says);
    }
  });
});
