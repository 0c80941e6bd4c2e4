/**
 * The device simulator itself (test/harness/device-sim.ts): before the Snowball tests lean on
 * it, show that it forwards requests faithfully (signatures, bodies, errors) and bends exactly
 * what the device bends: v1 whole and shuffled, v2 cut at 1,000 keys, a connection cap, the
 * signing region, opaque ETags.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, listHop } from '../../src/inventory/s3.ts';
import { cleanup, createBucket, getObjectMd5, hopFor, md5, putObjects, startMinio, type MinioServer } from '../harness/index.ts';
import { classifyRequest, opaqueEtag, signingRegion, useDeviceSims, type DeviceSim, type DeviceSimOptions } from '../harness/device-sim.ts';

let edge: MinioServer;
let bucket: string;
const deviceSim = useDeviceSims();
const objects = Array.from({ length: 1234 }, (_, i) => ({ key: `data/${String(i).padStart(4, '0')}.bin`, body: `object ${i}` }));
const hostile = [
  { key: 'odd/space and "quotes" \'single\'.txt', body: 'quotes' },
  { key: 'odd/star*question?[bracket].txt', body: 'globs' },
  { key: 'odd/café ünïcode ✓ & <angle>.txt', body: 'unicode' },
];

beforeAll(async () => {
  edge = await startMinio('edge');
  bucket = await createBucket(edge);
  await putObjects(edge, bucket, [...objects, ...hostile]);
});
afterAll(async () => {
  await edge?.stop();
  await cleanup();
});

function sim(options: Partial<DeviceSimOptions> = {}): Promise<DeviceSim> {
  return deviceSim(edge, options);
}

/** A client that signs with MinIO's keys for the simulator's address, as dualsync would. */
function clientVia(device: DeviceSim, region = 'snow'): S3Client {
  return new S3Client({
    endpoint: device.endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: edge.accessKeyId, secretAccessKey: edge.secretAccessKey },
    maxAttempts: 1,
  });
}

const allKeys = () => [...objects, ...hostile].map((object) => object.key);

describe('device simulator: listings', () => {
  it('ListObjects v1: the whole bucket in one unsorted page, no marker to follow', async () => {
    const device = await sim();
    const page = await clientVia(device).send(new ListObjectsCommand({ Bucket: bucket }));
    const keys = (page.Contents ?? []).map((object) => object.Key ?? '');
    expect(page.IsTruncated).toBe(false);
    expect(page.NextMarker).toBeUndefined();
    expect([...keys].sort()).toEqual([...allKeys()].sort());
    expect(keys).not.toEqual([...keys].sort());
    expect(device.counters.requests.listV1).toBe(1);
  });

  it('ListObjects v1 with a marker and a page size: still the whole bucket (the device has neither)', async () => {
    const device = await sim();
    const page = await clientVia(device).send(new ListObjectsCommand({ Bucket: bucket, Marker: 'data/0500.bin', MaxKeys: 10 }));
    expect(page.IsTruncated).toBe(false);
    expect(page.Contents).toHaveLength(allKeys().length);
  });

  it('ListObjects v1 under a prefix: only that prefix, whole', async () => {
    const device = await sim();
    const page = await clientVia(device).send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'odd/' }));
    expect((page.Contents ?? []).map((object) => object.Key).sort()).toEqual(hostile.map((object) => object.key).sort());
  });

  it('ListObjectsV2: cut at 1,000 keys and claims to be complete', async () => {
    const device = await sim();
    const page = await clientVia(device).send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(page.Contents).toHaveLength(1000);
    expect(page.KeyCount).toBe(1000);
    expect(page.IsTruncated).toBe(false);
    expect(page.NextContinuationToken).toBeUndefined();
  });

  it("dualsync's own lister: v1 complete through it, v2 flagged as probably cut", async () => {
    const device = await sim();
    const v1 = hopFor(edge, bucket, { endpoint: device.endpoint, region: 'snow', listApi: 'v1' });
    const whole = await listHop(createS3Client(v1), v1);
    expect(whole.complete).toBe(true);
    expect(whole.entries).toHaveLength(allKeys().length);
    const v2 = { ...v1, listApi: 'v2' as const };
    const cut = await listHop(createS3Client(v2), v2);
    expect(cut.complete).toBe(false);
    expect(cut.entries).toHaveLength(1000);
    expect(cut.warnings.join('\n')).toMatch(/exactly 1,000 keys.*listApi: v1/);
  });

  it('after a listing, a hop with a connection budget keeps no idle connection to the device; one without keeps it alive', async () => {
    const device = await sim();
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    const capped = hopFor(edge, bucket, { endpoint: device.endpoint, region: 'snow', listApi: 'v1', maxConnections: 24 });
    await listHop(createS3Client(capped), capped);
    await settle();
    expect(device.counters).toMatchObject({ accepted: 1, open: 0 });
    const uncapped = { ...capped, maxConnections: undefined };
    await listHop(createS3Client(uncapped), uncapped);
    await settle();
    expect(device.counters).toMatchObject({ accepted: 2, open: 1 });
  });
});

describe('device simulator: forwarding', () => {
  it('objects read through it are byte-exact, and writes through it are accepted (the client signature is forwarded intact)', async () => {
    const device = await sim();
    const client = clientVia(device);
    const key = hostile[2]!.key;
    const read = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await read.Body?.transformToString()).toBe(hostile[2]!.body);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'via/sim.txt', Body: 'written through the simulator' }));
    expect(await getObjectMd5(edge, bucket, 'via/sim.txt')).toBe(md5('written through the simulator'));
    expect(device.counters.requests).toMatchObject({ get: 1, put: 1 });
  });

  it('a request signed for another region is refused as the device would, and counted', async () => {
    const device = await sim();
    const error = await clientVia(device, 'us-east-1')
      .send(new ListObjectsCommand({ Bucket: bucket }))
      .catch((caught: unknown) => caught as { name: string; $metadata: { httpStatusCode: number } });
    expect(error).toMatchObject({ name: 'AuthorizationHeaderMalformed', $metadata: { httpStatusCode: 400 } });
    expect(device.counters.wrongRegion).toBe(1);
  });

  it('wrong keys: MinIO refuses the forwarded signature, and the refusal comes back as it is', async () => {
    const device = await sim();
    const client = new S3Client({ endpoint: device.endpoint, region: 'snow', forcePathStyle: true, credentials: { accessKeyId: edge.accessKeyId, secretAccessKey: 'not-the-secret' }, maxAttempts: 1 });
    for (const command of [new ListObjectsCommand({ Bucket: bucket }), new HeadObjectCommand({ Bucket: bucket, Key: hostile[0]!.key })]) {
      const error = await client.send(command as ListObjectsCommand).catch((caught: unknown) => caught as { $metadata: { httpStatusCode: number } });
      expect(error.$metadata.httpStatusCode).toBe(403);
    }
  });

  it('opaqueEtags: no MD5 in listings, HEAD or GET, and the same object always gets the same ETag', async () => {
    const device = await sim({ opaqueEtags: true });
    const client = clientVia(device);
    const key = objects[7]!.key;
    const real = md5(objects[7]!.body);
    const listed = (await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: key }))).Contents?.[0]?.ETag;
    const head = (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag;
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await got.Body?.transformToString()).toBe(objects[7]!.body);
    for (const etag of [listed, head, got.ETag]) expect(etag).toBe(`"${opaqueEtag(real)}"`);
    expect(opaqueEtag(real)).not.toMatch(/^[0-9a-f]{32}(-\d+)?$/);
  });
});

describe('device simulator: the connection cap', () => {
  const open = (endpoint: string): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const url = new URL(endpoint);
      const socket = connect(Number(url.port), url.hostname, () => resolve(socket));
      socket.on('error', reject);
    });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

  it('drops every connection over the cap, counts it, and serves the rest', async () => {
    const device = await sim({ maxConnections: 3 });
    const sockets: Socket[] = [];
    const closedEarly: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const socket = await open(device.endpoint);
      sockets.push(socket);
      closedEarly.push(false);
      socket.on('error', () => undefined);
      socket.on('close', () => (closedEarly[i] = true));
    }
    await settle();
    // Opened one after the other, each dropped connection is gone before the next arrives: 3 + 1 at most.
    expect(device.counters).toMatchObject({ accepted: 3, dropped: 2, open: 3, maxConcurrent: 4 });
    expect(closedEarly).toEqual([false, false, false, true, true]);
    for (const socket of sockets) socket.destroy();
    await settle();
    expect(device.counters.open).toBe(0);
    // Room again: a request goes through.
    const page = await clientVia(device).send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'odd/' }));
    expect(page.Contents).toHaveLength(hostile.length);
    expect(device.counters.dropped).toBe(2);
  });
});

describe('device simulator: helpers', () => {
  it.each([
    ['GET', '/b?list-type=2&prefix=x', 'listV2'],
    ['GET', '/b?prefix=x&marker=y', 'listV1'],
    ['GET', '/b', 'listV1'],
    ['GET', '/b?location', 'other'],
    ['GET', '/b/k/e/y', 'get'],
    ['HEAD', '/b/key', 'head'],
    ['PUT', '/b/key', 'put'],
  ])('%s %s is %s', (method, path, kind) => {
    expect(classifyRequest(method, new URL(path, 'http://device'))).toBe(kind);
  });

  it('reads the signing region from the Authorization header or a presigned URL', () => {
    const header = 'AWS4-HMAC-SHA256 Credential=AKID/20240101/snow/s3/aws4_request, SignedHeaders=host, Signature=abc';
    expect(signingRegion({ authorization: header }, new URL('http://d/b'))).toBe('snow');
    expect(signingRegion({}, new URL('http://d/b/k?X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fs3%2Faws4_request'))).toBe('us-east-1');
    expect(signingRegion({}, new URL('http://d/b'))).toBeUndefined();
  });
});
