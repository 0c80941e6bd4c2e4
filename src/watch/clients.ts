/**
 * watch's S3 clients, made once for many cycles instead of once a cycle.
 */
import { createClients, type Clients } from '../engine.ts';
import type { Config } from '../model/index.ts';

/**
 * The S3 clients of both hops, kept across cycles: each client builds its middleware, endpoint
 * rules, credential chain and HTTP agents anew, and made once a cycle they were a steady stream
 * of allocations that raised watch's memory. Each cycle still closes their sockets at its end
 * (runApply), so between cycles watch holds none of a device's connections. They are made again
 * after a cycle that failed or found a hop down: what fixes that (a CA bundle saved again after a
 * device's IP changed, rotated keys in a profile, a proxy back up) is read when a client is made.
 */
export class KeptClients {
  readonly #make: (config: Config) => Clients;
  #clients: Clients | undefined;

  /** `make`: how a pair of clients is made (the engine's createClients; tests count the calls). */
  constructor(make: (config: Config) => Clients = createClients) {
    this.#make = make;
  }

  /** The clients for the next cycle: the kept ones, or new ones after a renew. */
  get(config: Config): Clients {
    this.#clients ??= this.#make(config);
    return this.#clients;
  }

  /** Forgets the clients, closing their sockets: the next cycle makes new ones. */
  renew(): void {
    const clients = this.#clients;
    this.#clients = undefined;
    clients?.source.destroy();
    clients?.destination.destroy();
  }
}
