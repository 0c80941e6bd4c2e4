import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writePieces } from '../../src/cli/output.ts';
import { jsonDocument, jsonPieces } from '../../src/view/json.ts';
import { planToJson } from '../../src/view/plan.ts';
import { inventory, spooledActions, testConfig, planOf } from '../builders.ts';

const plan = await planOf(
  testConfig(),
  inventory().volume('/v1', { free: 1e9 }).source('new "quoted"\ncaf\u00e9', 10).source('b', 3).dest('b', 3).staged('/v1', 'staged', 4).destIncomplete('cut short').build(),
);


describe('jsonPieces', () => {
  it.each<[string, unknown]>([
    ['a plan as --json shows it', { ...planToJson(plan), inputDigest: 'd' }],
    ['apply --json of a declined plan', { applied: false, plan: planToJson(plan) }],
    ['empty lists and objects', { a: [], b: {}, c: { d: [] }, e: [[], {}] }],
    ['what JSON.stringify leaves out or writes as null', { a: undefined, b: () => 1, c: [undefined, () => 1, Symbol('s'), null], d: Number.NaN, e: new Date(0), f: [1, { g: undefined }] }],
    ['plain values', 'text\nwith a break'],
  ])('joins to JSON.stringify(value, null, 2) for %s', async (_name, value) => {
    expect([...jsonPieces(value)].join('')).toBe(JSON.stringify(value, null, 2));
  });

  it('writes a plan whose actions are spooled (not an array) as if they were one, where JSON.stringify writes {}', async () => {
    const list = spooledActions(plan.actions);
    expect(JSON.stringify(planToJson({ ...plan, actions: list }))).toContain('"actions":{}');
    expect([...jsonDocument({ ...planToJson({ ...plan, actions: list }), inputDigest: 'd' })].join('')).toBe(`${JSON.stringify({ ...planToJson(plan), inputDigest: 'd' }, null, 2)}\n`);
  });
});

describe('writePieces', () => {
  it('writes every piece in order, in chunks, waiting for a slow stream to drain', async () => {
    const chunks: string[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString());
        setTimeout(callback, 1);
      },
    });
    const pieces = Array.from({ length: 50_000 }, (_, i) => `${i},`);
    await writePieces(slow, pieces);
    expect(chunks.join('')).toBe(pieces.join(''));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.length).toBeLessThan(100);
  });
});
