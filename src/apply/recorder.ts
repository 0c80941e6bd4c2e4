import type { LedgerEvent } from '../model/index.ts';

/** The one thing the recorder needs from the ledger store. */
export interface EventSink {
  append(events: LedgerEvent[]): Promise<void>;
}

/**
 * Group commit for ledger events: every `record` resolves once its event is on disk, and
 * events that arrive while a write is in flight share the next write's fsync. So an object
 * is recorded as soon as it is verified without paying one fsync per object.
 */
export class Recorder {
  readonly #sink: EventSink;
  #queue: { event: LedgerEvent; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #writing: Promise<void> | undefined;

  constructor(sink: EventSink) {
    this.#sink = sink;
  }

  record(event: LedgerEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#writing || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    // Start the next batch before waking this one's callers, so that events they record
    // in reaction join the batch after it rather than racing it.
    const settle = (error?: unknown) => {
      this.#writing = undefined;
      this.#kick();
      for (const entry of batch) {
        if (error === undefined) entry.resolve();
        else entry.reject(error);
      }
    };
    this.#writing = this.#sink.append(batch.map((entry) => entry.event)).then(() => settle(), (error: unknown) => settle(error ?? new Error('ledger write failed')));
  }

  /** Resolves when everything recorded so far is on disk. */
  async flush(): Promise<void> {
    while (this.#writing || this.#queue.length > 0) {
      this.#kick();
      await this.#writing;
    }
  }
}
