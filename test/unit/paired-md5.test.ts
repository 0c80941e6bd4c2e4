/**
 * PairedMd5: the MD5s of two streams read at once (the source's and the destination's copy of one
 * object), hashing the bytes both sides agree on once. Whatever the chunk boundaries, whichever
 * side runs ahead, wherever they differ, the digests are each side's true MD5.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PairedMd5 } from '../../src/ops/paired-md5.ts';
import type { Side } from '../../src/model/side.ts';

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

/** Bytes that differ from one offset to the next, so that a misaligned compare cannot pass. */
function pattern(length: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/** `bytes` cut into chunks of the given sizes, cycling through them. */
function chunks(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    out.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return out;
}

/** Feeds both sides' chunks in the given order ('s' source, 'd' destination, cycling), then the rest of each. */
function feed(pair: PairedMd5, source: Buffer[], destination: Buffer[], order: string): void {
  const queues: Record<Side, Buffer[]> = { source, destination };
  const next: Record<Side, number> = { source: 0, destination: 0 };
  const left = (side: Side) => next[side] < queues[side].length;
  for (let i = 0; left('source') || left('destination'); i++) {
    const wanted: Side = order[i % order.length] === 's' ? 'source' : 'destination';
    const side: Side = left(wanted) ? wanted : wanted === 'source' ? 'destination' : 'source';
    pair.push(side, queues[side][next[side]++]!);
  }
}

describe('PairedMd5', () => {
  const body = pattern(1_000_003);

  const equalCases: { name: string; sourceSizes: number[]; destinationSizes: number[]; order: string }[] = [
    { name: 'same chunks, taking turns', sourceSizes: [65_536], destinationSizes: [65_536], order: 'sd' },
    { name: 'different chunk boundaries', sourceSizes: [65_536, 1_000, 17], destinationSizes: [4_096, 70_000], order: 'sdd' },
    { name: 'the source all first, then the destination', sourceSizes: [50_000], destinationSizes: [33_333], order: 's' },
    { name: 'the destination all first, the source in small pieces', sourceSizes: [1, 7, 4_096], destinationSizes: [1_000_003], order: 'd' },
  ];
  for (const { name, sourceSizes, destinationSizes, order } of equalCases) {
    it(`equal content, ${name}: both digests are the content's MD5, hashed once`, () => {
      const pair = new PairedMd5(4 * 1024 * 1024);
      feed(pair, chunks(body, sourceSizes), chunks(body, destinationSizes), order);
      expect(pair.digests()).toEqual({ source: md5(body), destination: md5(body) });
      expect(pair.hashedBytes).toBe(body.length);
    });
  }

  const differentAt = [0, 1, 65_535, 65_536, 500_000, body.length - 1];
  for (const offset of differentAt) {
    it(`one byte differs at offset ${offset}: each side's own MD5`, () => {
      const other = Buffer.from(body);
      other[offset] = other[offset]! ^ 0xff;
      const pair = new PairedMd5(4 * 1024 * 1024);
      feed(pair, chunks(body, [65_536, 3]), chunks(other, [40_000]), 'sd');
      expect(pair.digests()).toEqual({ source: md5(body), destination: md5(other) });
    });
  }

  it('a side that runs further ahead than the limit is hashed on its own: memory stays bounded, digests stay right', () => {
    const limit = 100_000;
    const pair = new PairedMd5(limit);
    for (const chunk of chunks(body, [30_000])) {
      pair.push('destination', chunk);
      expect(pair.aheadBytes).toBeLessThanOrEqual(limit);
    }
    for (const chunk of chunks(body, [30_000])) pair.push('source', chunk);
    expect(pair.digests()).toEqual({ source: md5(body), destination: md5(body) });
  });

  it('one side longer than the other: different digests, never the same', () => {
    const pair = new PairedMd5(4 * 1024 * 1024);
    feed(pair, chunks(body, [65_536]), chunks(body.subarray(0, body.length - 1), [65_536]), 'sd');
    const digests = pair.digests();
    expect(digests).toEqual({ source: md5(body), destination: md5(body.subarray(0, body.length - 1)) });
  });

  it('empty objects on both sides: the MD5 of nothing', () => {
    expect(new PairedMd5(1024).digests()).toEqual({ source: md5(Buffer.alloc(0)), destination: md5(Buffer.alloc(0)) });
  });
});
