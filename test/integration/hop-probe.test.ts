/**
 * A hop that was down last cycle is probed briefly before it is listed, so that a link that
 * drops every packet (here: a server that accepts connections and never answers) costs the live
 * hop seconds per cycle, not the listing's timeouts and retries.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createClients, gatherInventory } from '../../src/engine.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import { PROBE_TIMEOUT_MS, probeHop, probeReach } from '../../src/inventory/reach.ts';
import { createS3Client } from '../../src/inventory/s3.ts';
import { createBucket, freePort, hopFor, putObjects, tempDir, useMinioPair } from '../harness/index.ts';
import { testConfig } from '../builders.ts';
import type { ListingStream } from '../../src/model/index.ts';

const pair = useMinioPair();
const sockets = new Set<Socket>();
const blackHole = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => blackHole.close(resolve));
});

const deps = { now: () => new Date(), env: process.env, warn: () => {} };

async function site(destinationEndpoint: string | undefined) {
  const dir = await tempDir('dualsync-probe-');
  const sourceBucket = await createBucket(pair.edge);
  const destinationBucket = await createBucket(pair.cloud);
  await putObjects(pair.edge, sourceBucket, [{ key: 'a.txt', body: 'a' }, { key: 'b.txt', body: 'bb' }]);
  const destination = hopFor(pair.cloud, destinationBucket);
  const config = testConfig({
    source: hopFor(pair.edge, sourceBucket),
    destination: destinationEndpoint === undefined ? destination : { ...destination, endpoint: destinationEndpoint },
    staging: { volumes: [join(dir, 'volume')] },
    stateDir: join(dir, 'state'),
  });
  return { config, ledger: await LedgerStore.open(config.stateDir) };
}

/** The keys a listing stream hands out, read to its end. */
async function keysOf(listing: ListingStream): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of listing.pages) for (const entry of page) keys.push(entry.key);
  await listing.close();
  return keys;
}

describe('a hop known to be down', () => {
  it('a silent destination is given up after the short probe; the source is listed as usual', async () => {
    const port = await freePort();
    await new Promise<void>((resolve) => blackHole.listen(port, '127.0.0.1', resolve));
    const { config, ledger } = await site(`http://127.0.0.1:${port}`);
    const clients = createClients(config);
    try {
      const started = Date.now();
      const gathered = await gatherInventory(config, clients, deps, undefined, new Set(['destination']));
      const ms = Date.now() - started;
      console.log(`silent destination given up after ${ms} ms`);
      expect(ms).toBeLessThan(PROBE_TIMEOUT_MS + 5_000);
      expect(gathered.inventory.destination.unreachable).toMatch(/did not answer within 10 s/);
      expect((await keysOf(gathered.inventory.source)).sort()).toEqual(['a.txt', 'b.txt']);
    } finally {
      clients.source.destroy();
      clients.destination.destroy();
      await ledger.close();
    }
  }, 60_000);

  it('a destination that is back answers the probe and is listed in full', async () => {
    const { config, ledger } = await site(undefined);
    await putObjects(pair.cloud, config.destination.bucket, [{ key: 'a.txt', body: 'a' }]);
    const clients = createClients(config);
    try {
      const gathered = await gatherInventory(config, clients, deps, undefined, new Set(['destination', 'source']));
      expect(gathered.inventory.destination.unreachable).toBeUndefined();
      expect(await keysOf(gathered.inventory.destination)).toEqual(['a.txt']);
      expect(await keysOf(gathered.inventory.source)).toHaveLength(2);
    } finally {
      clients.source.destroy();
      clients.destination.destroy();
      await ledger.close();
    }
  }, 60_000);
});

describe('one probe for the run and for doctor', () => {
  it('nothing listening: the network step fails with ECONNREFUSED; the run calls the hop unreachable (retryable E_S3_FAILED)', async () => {
    const port = await freePort();
    const hop = { ...hopFor(pair.edge, 'any-bucket'), endpoint: `http://127.0.0.1:${port}` };
    const reach = await probeReach(hop, { timeoutMs: 5_000 });
    expect(reach).toMatchObject({ host: '127.0.0.1', port, viaProxy: false, failure: { stage: 'network', code: 'ECONNREFUSED', timedOut: false } });
    const client = createS3Client(hop);
    try {
      expect(await probeHop(client, hop)).toMatchObject({ code: 'E_S3_FAILED', retryable: true });
    } finally {
      client.destroy();
    }
  });

  it('a server that takes the connection and never answers: reachable for TCP, unreachable once HeadBucket is asked', async () => {
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const hop = { ...hopFor(pair.edge, 'any-bucket'), endpoint: `http://127.0.0.1:${(silent.address() as { port: number }).port}` };
      const network = await probeReach(hop, { timeoutMs: 5_000 });
      expect(network.failure).toBeUndefined();
      expect(network.connectMs).toBeGreaterThanOrEqual(0);
      const client = createS3Client(hop);
      try {
        expect((await probeReach(hop, { client, timeoutMs: 2_000 })).failure).toMatchObject({ stage: 'server', code: 'ETIMEDOUT', timedOut: true });
        expect(await probeHop(client, hop, undefined, 2_000)).toMatchObject({ code: 'E_HOP_UNREACHABLE', message: expect.stringMatching(/did not answer within 2 s/) });
      } finally {
        client.destroy();
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 30_000);

  it('a healthy server: reachable at both steps, the name resolved for doctor\'s row', async () => {
    const hop = { ...hopFor(pair.edge, await createBucket(pair.edge)) };
    const named = { ...hop, endpoint: hop.endpoint!.replace('127.0.0.1', 'localhost') };
    const client = createS3Client(named);
    try {
      const reach = await probeReach(named, { client });
      expect(reach.failure).toBeUndefined();
      expect(reach.addresses?.length).toBeGreaterThan(0);
    } finally {
      client.destroy();
    }
  });
});
