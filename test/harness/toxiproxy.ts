/**
 * Toxiproxy between dualsync/s5cmd and MinIO, on loopback only: slow links for the benchmarks
 * and faults (reset_peer, timeout, latency, bandwidth, limit_data) for the reliability tests.
 */
import { afterAll, beforeAll } from 'vitest';
import { freePort, startPair, type MinioPair } from './minio.ts';
import { startProcess, stopAllProcesses, type TrackedProcess } from './processes.ts';
import { removeTempDirs } from './temp.ts';
import { requireToxiproxy } from './tools.ts';

export type ToxicType = 'latency' | 'bandwidth' | 'timeout' | 'reset_peer' | 'limit_data' | 'slow_close' | 'slicer';

export interface Toxic {
  name?: string;
  type: ToxicType;
  /** downstream: server -> client (downloads); upstream: client -> server (uploads). */
  stream?: 'upstream' | 'downstream';
  toxicity?: number;
  attributes: Record<string, number>;
}

export interface ToxiProxy {
  /** http://127.0.0.1:PORT that forwards to the upstream server. */
  endpoint: string;
  addToxic(toxic: Toxic): Promise<void>;
  removeToxic(name: string): Promise<void>;
  /** Drops every toxic. */
  reset(): Promise<void>;
}

export interface ToxiproxyServer {
  proxy(name: string, upstreamEndpoint: string): Promise<ToxiProxy>;
  stop(): Promise<void>;
}

/** Starts toxiproxy-server on a free loopback port. */
export async function startToxiproxy(): Promise<ToxiproxyServer> {
  const binary = requireToxiproxy();
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const process_: TrackedProcess = startProcess(binary, ['-host', '127.0.0.1', '-port', String(port)], { env: { PATH: process.env.PATH ?? '' } });
  for (let i = 0; ; i++) {
    const up = await fetch(`${api}/version`).then((r) => r.ok, () => false);
    if (up) break;
    if (i > 200) throw new Error(`toxiproxy-server did not start: ${process_.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${api}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? undefined : response.json();
  };
  return {
    async proxy(name, upstreamEndpoint) {
      const upstream = new URL(upstreamEndpoint).host;
      if (!upstream.startsWith('127.0.0.1:')) throw new Error(`toxiproxy upstream must be on loopback, got ${upstream}`);
      const listen = `127.0.0.1:${await freePort()}`;
      await call('POST', '/proxies', { name, listen, upstream, enabled: true });
      let counter = 0;
      return {
        endpoint: `http://${listen}`,
        addToxic: async (toxic) => {
          await call('POST', `/proxies/${name}/toxics`, { name: toxic.name ?? `${toxic.type}-${counter++}`, type: toxic.type, stream: toxic.stream ?? 'downstream', toxicity: toxic.toxicity ?? 1, attributes: toxic.attributes });
        },
        removeToxic: async (toxicName) => {
          await call('DELETE', `/proxies/${name}/toxics/${toxicName}`);
        },
        reset: async () => {
          const toxics = (await call('GET', `/proxies/${name}/toxics`)) as { name: string }[];
          for (const toxic of toxics) await call('DELETE', `/proxies/${name}/toxics/${toxic.name}`);
        },
      };
    },
    stop: () => process_.stop(),
  };
}

/**
 * A MinIO pair with a Toxiproxy proxy in front of each server (`edge`, `cloud`), for one test
 * file: started before its tests and stopped after them, as useMinioPair does. `summary`, the
 * file's report, is printed first.
 */
export function useProxiedPair(summary?: () => string[]): { pair: MinioPair; edge: ToxiProxy; cloud: ToxiProxy } {
  const pair = {} as MinioPair;
  const edge = {} as ToxiProxy;
  const cloud = {} as ToxiProxy;
  let toxiproxy: ToxiproxyServer | undefined;
  beforeAll(async () => {
    Object.assign(pair, await startPair());
    toxiproxy = await startToxiproxy();
    Object.assign(edge, await toxiproxy.proxy('edge', pair.edge.endpoint));
    Object.assign(cloud, await toxiproxy.proxy('cloud', pair.cloud.endpoint));
  });
  afterAll(async () => {
    if (summary !== undefined) console.log(summary().join('\n'));
    await toxiproxy?.stop();
    await pair.stop?.();
    await stopAllProcesses();
    await removeTempDirs();
  });
  return { pair, edge, cloud };
}
