/**
 * Real MinIO servers for integration tests, on free loopback ports, each with its own root
 * credentials, so that a hop that talks to the wrong server or signs with the wrong keys fails.
 */
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { HopConfig } from '../../src/model/config.ts';
import { afterAll, beforeAll } from 'vitest';
import { startProcess, stopAllProcesses } from './processes.ts';
import type { TrackedProcess } from './processes.ts';
import { removeTempDirs, tempDir } from './temp.ts';
import { requireTools } from './tools.ts';

const START_ATTEMPTS = 5;
const HEALTH_TIMEOUT_MS = 60_000;

export interface MinioServer {
  name: string;
  /** http://127.0.0.1:PORT */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: 'us-east-1';
  /** Path-style client signed with this server's own keys. */
  client: S3Client;
  dataDir: string;
  pid: number;
  /** Output of the server so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago on 127.0.0.1 (the caller retries if someone takes it first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function live(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/minio/health/live`, { signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** A path-style S3 client for one server, signed with the given keys. */
export function clientFor(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
}

/** The arguments of `minio server` on loopback: its data, its port, its console's port, certificates under `base`. */
export function minioServerArgs(dataDir: string, base: string, port: number, consolePort: number): string[] {
  return ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--certs-dir', join(base, 'certs'), '--quiet'];
}

/** The environment of a test MinIO: its root credentials, no browser, no update check, nothing else from ours. */
export function minioServerEnv(base: string, accessKeyId: string, secretAccessKey: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: base,
    MINIO_ROOT_USER: accessKeyId,
    MINIO_ROOT_PASSWORD: secretAccessKey,
    MINIO_BROWSER: 'off',
    MINIO_UPDATE: 'off',
  };
}

/**
 * Starts `minio server` on two free loopback ports and waits until it answers, with our keys,
 * as itself: a port clash makes MinIO exit (then another port is tried), and a server that
 * answers health but rejects our keys is someone else's.
 */
export async function startMinio(name: string, options: { accessKeyId?: string; secretAccessKey?: string } = {}): Promise<MinioServer> {
  const { minio } = requireTools();
  const base = await tempDir(`minio-${name}-`);
  const dataDir = join(base, 'data');
  await mkdir(dataDir);
  await mkdir(join(base, 'certs'));
  const accessKeyId = options.accessKeyId ?? `${name}-admin`;
  const secretAccessKey = options.secretAccessKey ?? `${name}-${randomBytes(12).toString('hex')}`;
  const failures: string[] = [];

  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort();
    let consolePort = await freePort();
    while (consolePort === port) consolePort = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const server: TrackedProcess = startProcess(
      minio,
      minioServerArgs(dataDir, base, port, consolePort),
      { env: minioServerEnv(base, accessKeyId, secretAccessKey) },
    );
    let exitedEarly = false;
    void server.exited.then(() => (exitedEarly = true));
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    while (!exitedEarly && Date.now() < deadline && !(await live(endpoint))) await sleep(100);

    if (!exitedEarly && Date.now() < deadline) {
      const client = clientFor(endpoint, accessKeyId, secretAccessKey);
      try {
        await client.send(new ListBucketsCommand({}));
        if (!exitedEarly) {
          return {
            name,
            endpoint,
            accessKeyId,
            secretAccessKey,
            region: 'us-east-1',
            client,
            dataDir,
            pid: server.pid,
            output: server.output,
            stop: async () => {
              client.destroy();
              await server.stop();
            },
          };
        }
      } catch (error) {
        failures.push(`attempt ${attempt}: port ${port} answered but not with our keys (${String(error)})`);
      }
      client.destroy();
    } else {
      failures.push(`attempt ${attempt} on port ${port}: ${exitedEarly ? 'MinIO exited' : 'no answer in time'}: ${server.output().trim().slice(-500)}`);
    }
    await server.stop();
  }
  throw new Error(`MinIO "${name}" did not start:\n${failures.join('\n')}`);
}

export interface MinioPair {
  edge: MinioServer;
  cloud: MinioServer;
  stop(): Promise<void>;
}

/** The two servers of every two-hop test: "edge" (the source) and "cloud" (the destination). */
export async function startPair(): Promise<MinioPair> {
  const [edge, cloud] = await Promise.allSettled([startMinio('edge'), startMinio('cloud')]);
  if (edge.status === 'rejected' || cloud.status === 'rejected') {
    if (edge.status === 'fulfilled') await edge.value.stop();
    if (cloud.status === 'fulfilled') await cloud.value.stop();
    throw edge.status === 'rejected' ? edge.reason : (cloud as PromiseRejectedResult).reason;
  }
  return {
    edge: edge.value,
    cloud: cloud.value,
    stop: async () => {
      await Promise.all([edge.value.stop(), cloud.value.stop()]);
    },
  };
}

/** A HopConfig that reaches `bucket` on this server with its own static keys. */
export function hopFor(server: MinioServer, bucket: string, overrides: Partial<HopConfig> = {}): HopConfig {
  return {
    bucket,
    prefix: '',
    region: server.region,
    endpoint: server.endpoint,
    addressing: 'path',
    tls: { verify: true },
    listApi: 'v2',
    credentials: { kind: 'static', accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, inline: false },
    ...overrides,
  };
}

/**
 * The edge/cloud pair for one test file: started before its tests, stopped (with every other
 * tracked process and temp folder) after them. The object is filled in by the beforeAll hook.
 */
export function useMinioPair(): MinioPair {
  const pair = {} as MinioPair;
  beforeAll(async () => {
    Object.assign(pair, await startPair());
  });
  afterAll(async () => {
    await pair.stop?.();
    await stopAllProcesses();
    await removeTempDirs();
  });
  return pair;
}
