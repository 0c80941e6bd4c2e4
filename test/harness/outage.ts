/**
 * A MinIO server that a test can stop and start again, as an endpoint that goes down (a WAN
 * that drops, a device switched off) and comes back: the same port, data and keys each time,
 * so the config of a running `watch` reaches it again once it is up.
 */
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clientFor, freePort, minioServerArgs, minioServerEnv, type MinioServer } from './minio.ts';
import { startProcess, type TrackedProcess } from './processes.ts';
import { tempDir } from './temp.ts';
import { requireTools } from './tools.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface StoppableMinio {
  /** The server as the rest of the harness sees it; `endpoint` stays the same across restarts. */
  server: MinioServer;
  /** Stops the server (SIGTERM, then SIGKILL): connections to its port are refused. */
  down(): Promise<void>;
  /** Starts it again on the same port with the same data, and waits until it answers. */
  up(): Promise<void>;
}

/** Starts a MinIO server that can be stopped and started again. */
export async function startStoppableMinio(name: string): Promise<StoppableMinio> {
  const { minio } = requireTools();
  const base = await tempDir(`minio-${name}-`);
  const dataDir = join(base, 'data');
  await mkdir(dataDir);
  await mkdir(join(base, 'certs'));
  const accessKeyId = `${name}-admin`;
  const secretAccessKey = `${name}-${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = clientFor(endpoint, accessKeyId, secretAccessKey);
  let process_: TrackedProcess | undefined;

  const launch = async (): Promise<void> => {
    const failures: string[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const consolePort = await freePort();
      const started = startProcess(
        minio,
        minioServerArgs(dataDir, base, port, consolePort),
        { env: minioServerEnv(base, accessKeyId, secretAccessKey) },
      );
      let exited = false;
      void started.exited.then(() => (exited = true));
      const deadline = Date.now() + 60_000;
      while (!exited && Date.now() < deadline) {
        try {
          await client.send(new ListBucketsCommand({}));
          process_ = started;
          server.pid = started.pid;
          return;
        } catch {
          await sleep(100);
        }
      }
      failures.push(`attempt ${attempt}: ${exited ? 'MinIO exited' : 'no answer in time'}: ${started.output().trim().slice(-300)}`);
      await started.stop();
      await sleep(500); // the port may still be held by the stopped server
    }
    throw new Error(`MinIO "${name}" did not start on port ${port}:\n${failures.join('\n')}`);
  };

  const server: MinioServer = {
    name,
    endpoint,
    accessKeyId,
    secretAccessKey,
    region: 'us-east-1',
    client,
    dataDir,
    pid: 0,
    output: () => process_?.output() ?? '',
    stop: async () => {
      client.destroy();
      await process_?.stop();
      process_ = undefined;
    },
  };
  await launch();
  return {
    server,
    down: async () => {
      await process_?.stop();
      process_ = undefined;
    },
    up: launch,
  };
}
