/**
 * Collects items and hands them over in batches: as soon as `maxItems` are waiting, or
 * `maxDelayMs` after the first of a batch arrived. Apply uses it to read the destination back
 * once per batch of uploads rather than once per object.
 */
export class Batcher<T> {
  readonly #flush: (items: T[]) => Promise<void>;
  readonly #maxItems: number;
  readonly #maxDelayMs: number;
  #items: T[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #running: Promise<void>[] = [];

  /** `flush` must handle its own failures: a rejection here would be an internal error. */
  constructor(flush: (items: T[]) => Promise<void>, options: { maxItems: number; maxDelayMs: number }) {
    this.#flush = flush;
    this.#maxItems = options.maxItems;
    this.#maxDelayMs = options.maxDelayMs;
  }

  add(item: T): void {
    this.#items.push(item);
    if (this.#items.length >= this.#maxItems) this.#flushNow();
    else this.#timer ??= setTimeout(() => this.#flushNow(), this.#maxDelayMs);
  }

  /** Hands over what is waiting and resolves when every batch handed over so far is done. */
  async drain(): Promise<void> {
    this.#flushNow();
    await Promise.all(this.#running);
  }

  #flushNow(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#items.length === 0) return;
    const batch = this.#items;
    this.#items = [];
    this.#running.push(this.#flush(batch));
  }
}

/** Runs `work` over `items` with at most `limit` at once. */
export async function forEachLimited<T>(items: Iterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  // One iterator shared by the lanes: an array or a stream of millions read once, never copied.
  const iterator = items[Symbol.iterator]();
  const lane = async () => {
    for (let next = iterator.next(); next.done !== true; next = iterator.next()) await work(next.value);
  };
  await Promise.all(Array.from({ length: Array.isArray(items) ? Math.min(limit, items.length) : limit }, lane));
}
