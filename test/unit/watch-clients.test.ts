import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { Clients } from '../../src/engine.ts';
import type { Config } from '../../src/model/index.ts';
import { KeptClients } from '../../src/watch/clients.ts';

/** Clients that count how often they were made and closed. */
function countingFactory() {
  const made: { destroyed: number }[] = [];
  const make = (): Clients => {
    const pair = { destroyed: 0 };
    made.push(pair);
    const client = { destroy: () => pair.destroyed++ } as unknown as S3Client;
    return { source: client, destination: client };
  };
  return { made, make };
}

const config = {} as Config;

describe("watch's S3 clients", () => {
  it('many cycles in a row: one pair of clients for all of them', () => {
    const { made, make } = countingFactory();
    const kept = new KeptClients(make);
    const first = kept.get(config);
    for (let cycle = 2; cycle <= 100; cycle++) expect(kept.get(config)).toBe(first);
    expect(made).toHaveLength(1);
    expect(made[0]!.destroyed).toBe(0);
  });

  it('after a failed cycle or a hop down: the old pair is closed, the next cycle gets a new one', () => {
    const { made, make } = countingFactory();
    const kept = new KeptClients(make);
    const first = kept.get(config);
    kept.renew();
    expect(made[0]!.destroyed).toBe(2);
    const second = kept.get(config);
    expect(second).not.toBe(first);
    expect(made).toHaveLength(2);
    expect(kept.get(config)).toBe(second);
  });

  it('renew with nothing made yet (the first cycle failed before its clients): nothing to close', () => {
    const { made, make } = countingFactory();
    const kept = new KeptClients(make);
    expect(() => kept.renew()).not.toThrow();
    expect(made).toHaveLength(0);
  });

  it('clients that cannot be made (a CA bundle that cannot be read) are tried again next cycle', () => {
    let calls = 0;
    const kept = new KeptClients(() => {
      calls++;
      throw new Error('cannot read the CA bundle');
    });
    expect(() => kept.get(config)).toThrow(/CA bundle/);
    expect(() => kept.get(config)).toThrow(/CA bundle/);
    expect(calls).toBe(2);
  });
});
