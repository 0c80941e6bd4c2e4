/**
 * S3 on Outposts, checked by the shape of the requests only: nothing here reaches an Outpost.
 *
 * The hop is configured as at a site (the access point ARN, its region, AWS's endpoint), with two
 * additions that divert its traffic to this machine: `proxy` names a local recording proxy, and
 * `tls.caBundle` a certificate made here for the access point's host. The proxy accepts the
 * CONNECT, ends TLS with that certificate, records each request and answers as an access point
 * would. So the host, path and signature scope are what the SDK (listing) and the real s5cmd
 * (download) make from the ARN themselves; what an Outpost then does with them is not tested.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findS5cmd, requireOutpostsS5cmd, s5cmdEnv, s5cmdGlobalArgs } from '../../src/apply/s5cmd.ts';
import { downloadLine } from '../../src/manifest/s5cmd.ts';
import { createS3Client, listHop } from '../../src/inventory/s3.ts';
import type { Config, HopConfig } from '../../src/model/config.ts';
import type { Action } from '../../src/model/plan.ts';
import { cleanup, requireTools, runProcess, tempDir } from '../harness/index.ts';

const ARN = 'arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01234567890123456/accesspoint/reports';
const HOST = 'reports-123456789012.op-01234567890123456.s3-outposts.us-west-2.amazonaws.com';
const BODY = 'bytes kept on an Outpost\n';

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

let dir: string;
let pem: string;
let proxy: http.Server;
let proxyUrl: string;
const recorded: Recorded[] = [];
/** The hosts the clients asked the proxy to CONNECT to. */
const tunnels: string[] = [];

/** A listing answer as an access point gives it (keys URL-encoded, as asked). */
function listingAnswer(): string {
  return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>reports</Name><Prefix>logs%2F</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated><Contents><Key>logs%2Fa.txt</Key><Size>${Buffer.byteLength(BODY)}</Size><ETag>"e1"</ETag></Contents></ListBucketResult>`;
}

beforeAll(async () => {
  dir = await tempDir('outposts-');
  const key = join(dir, 'key.pem');
  pem = join(dir, 'outpost.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=outposts-test', '-addext', `subjectAltName=DNS:${HOST}`, '-keyout', key, '-out', pem], { stdio: 'ignore' });
  const tls = https.createServer({ key: await readFile(key), cert: await readFile(pem) }, (request, response) => {
    recorded.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
    request.resume();
    if (request.method === 'GET' && (request.url ?? '').includes('list-type=2')) {
      response.writeHead(200, { 'content-type': 'application/xml' }).end(listingAnswer());
    } else if (request.method === 'GET' && request.url === '/logs/a.txt') {
      response.writeHead(200, { 'content-length': Buffer.byteLength(BODY), etag: '"e1"', 'last-modified': new Date(0).toUTCString() }).end(BODY);
    } else {
      response.writeHead(404).end();
    }
  });
  proxy = http.createServer((_request, response) => response.writeHead(405).end());
  proxy.on('connect', (request: http.IncomingMessage, socket: Socket) => {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    tunnels.push(request.url ?? '');
    tls.emit('connection', socket);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (proxy !== undefined) {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  }
  await cleanup();
});

function outpostsHop(): HopConfig {
  return {
    bucket: ARN,
    prefix: 'logs/',
    region: 'us-west-2',
    addressing: 'virtual',
    tls: { verify: true, caBundle: pem },
    proxy: proxyUrl,
    listApi: 'v2',
    credentials: { kind: 'static', accessKeyId: 'AKIDOUTPOSTS', secretAccessKey: 'outposts-secret', inline: false },
  };
}

describe('S3 on Outposts request shapes (recorded locally, not at an Outpost)', () => {
  it('the listing goes through the SDK: the access point host, path-less bucket, signed for s3-outposts', async () => {
    recorded.length = 0;
    tunnels.length = 0;
    const hop = outpostsHop();
    const client = createS3Client(hop);
    try {
      const listing = await listHop(client, hop);
      expect(listing.entries).toEqual([{ key: 'a.txt', size: Buffer.byteLength(BODY), etag: 'e1' }]);
    } finally {
      client.destroy();
    }
    expect(recorded).toHaveLength(1);
    const [list] = recorded;
    expect(new Set(tunnels)).toEqual(new Set([`${HOST}:443`]));
    expect(list?.headers.host).toBe(HOST);
    const url = new URL(list?.url ?? '', `https://${HOST}`);
    expect(url.pathname).toBe('/');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ 'list-type': '2', prefix: 'logs/', 'encoding-type': 'url' });
    expect(list?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDOUTPOSTS\/\d{8}\/us-west-2\/s3-outposts\/aws4_request, SignedHeaders=[^ ]*x-amz-content-sha256/);
  });

  it("the real s5cmd downloads a run file's line: access point host, signed for s3-outposts, with X-Amz-Content-Sha256", async () => {
    const tools = requireTools();
    recorded.length = 0;
    tunnels.length = 0;
    const hop = outpostsHop();
    const found = await findS5cmd({ DUALSYNC_S5CMD: tools.s5cmd, PATH: process.env.PATH ?? '' });
    requireOutpostsS5cmd(found, [{ side: 'source', hop }]);
    const config = { source: hop } as Config;
    const action = { kind: 'download', key: 'a.txt', size: Buffer.byteLength(BODY), etag: 'e1', volume: dir } as Action;
    const target = join(dir, 'a.txt');
    const runFile = join(dir, 'download.s5cmd');
    // The manifest's own line, with the temporary path swapped for a plain one to read back.
    const line = downloadLine(action, config, { concurrency: 1 } as never).replace(/"[^"]*"$/, JSON.stringify(target));
    await writeFile(runFile, `${line}\n`);
    const result = await runProcess(tools.s5cmd, [...s5cmdGlobalArgs(hop, 1), 'run', runFile], { env: s5cmdEnv(hop, { PATH: process.env.PATH ?? '' }), timeoutMs: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await readFile(target, 'utf8')).toBe(BODY);
    const gets = recorded.filter((request) => request.method === 'GET');
    expect(gets).toHaveLength(1);
    const [get] = gets;
    expect(new Set(tunnels)).toEqual(new Set([`${HOST}:443`]));
    expect(get?.headers.host).toBe(HOST);
    expect(get?.url).toBe('/logs/a.txt');
    expect(get?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDOUTPOSTS\/\d{8}\/us-west-2\/s3-outposts\/aws4_request, SignedHeaders=[^ ]*x-amz-content-sha256/);
    expect(get?.headers['x-amz-content-sha256']).toMatch(/^([0-9a-f]{64}|UNSIGNED-PAYLOAD)$/);
  });

  it('an s5cmd older than 2.3.0 is refused for an Outposts hop, with the reason', () => {
    const old = { path: '/opt/s5cmd', version: '2.2.2', origin: 'PATH' as const, headPerDownload: true };
    let refusal: unknown;
    try {
      requireOutpostsS5cmd(old, [{ side: 'source', hop: outpostsHop() }]);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ code: 'E_S5CMD_OUTPOSTS' });
    expect(String((refusal as Error).message)).toContain('without the X-Amz-Content-Sha256 header');
    // A plain bucket does not need it.
    expect(() => requireOutpostsS5cmd(old, [{ side: 'source', hop: { ...outpostsHop(), bucket: 'field-data' } }])).not.toThrow();
  });
});
