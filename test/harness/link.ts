/**
 * A slow link between a client and a loopback server: a TCP forwarder whose connections all
 * share one byte budget per direction, like a real uplink does. (Toxiproxy's bandwidth toxic
 * limits each connection on its own, so 64 workers would get 64 links.)
 */
import { createConnection, createServer, type Socket } from 'node:net';

export interface Link {
  /** http://127.0.0.1:PORT that forwards to the upstream endpoint. */
  endpoint: string;
  close(): Promise<void>;
}

/** A shared token bucket: `take` waits until `bytes` may pass at `bytesPerSecond`. */
class Budget {
  #nextFreeMs = 0;
  readonly #bytesPerMs: number;

  constructor(bytesPerSecond: number) {
    this.#bytesPerMs = bytesPerSecond / 1000;
  }

  /** Milliseconds to wait before `bytes` may pass; books them. */
  book(bytes: number): number {
    const now = performance.now();
    const start = Math.max(now, this.#nextFreeMs);
    this.#nextFreeMs = start + bytes / this.#bytesPerMs;
    return Math.max(0, this.#nextFreeMs - now);
  }
}

function throttle(from: Socket, to: Socket, budget: Budget | undefined): void {
  if (!budget) {
    from.pipe(to);
    return;
  }
  from.on('data', (chunk: Buffer) => {
    const wait = budget.book(chunk.length);
    if (wait < 1) {
      if (!to.write(chunk)) from.pause();
      return;
    }
    from.pause();
    setTimeout(() => {
      const drained = to.write(chunk);
      if (drained) from.resume();
    }, wait);
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

/**
 * Starts a link to `upstreamEndpoint` (loopback only). `downBytesPerSecond` limits
 * server -> client (downloads), `upBytesPerSecond` client -> server (uploads).
 */
export async function startLink(upstreamEndpoint: string, rates: { downBytesPerSecond?: number; upBytesPerSecond?: number }): Promise<Link> {
  const upstream = new URL(upstreamEndpoint);
  if (upstream.hostname !== '127.0.0.1') throw new Error(`a link forwards to loopback only, not ${upstream.hostname}`);
  const down = rates.downBytesPerSecond ? new Budget(rates.downBytesPerSecond) : undefined;
  const up = rates.upBytesPerSecond ? new Budget(rates.upBytesPerSecond) : undefined;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const server = createConnection({ host: '127.0.0.1', port: Number(upstream.port) });
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        server.destroy();
      });
    }
    throttle(client, server, up);
    throttle(server, client, down);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('link did not start');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
