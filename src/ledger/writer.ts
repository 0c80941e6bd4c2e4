/**
 * The ledger's writer, run in a worker thread: it owns the one connection that writes and folds
 * each batch of events into the database in one transaction. A commit with synchronous=FULL
 * waits for fsync; in a worker that wait does not stop apply's event loop, so events verified
 * meanwhile queue up and share the next commit (group commit), as they did when the journal's
 * fsync ran in libuv's thread pool.
 *
 * Messages in: { id, events, at } to record, { id, close: true } to finish.
 * Messages out: { id, serial } when committed, { id, error } when not (nothing committed).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { LedgerEvent } from '../model/ledger.ts';
import { connect } from './db.ts';
import { LedgerQueries } from './queries.ts';

export type WriterRequest = { id: number; events: LedgerEvent[]; at: string } | { id: number; close: true };
export type WriterReply = { id: number; serial: number } | { id: number; error: { message: string; errcode?: number } };

if (parentPort !== null && (workerData as { ledgerWriter?: string } | undefined)?.ledgerWriter !== undefined) {
  const port = parentPort;
  const file = (workerData as { ledgerWriter: string }).ledgerWriter;
  let queries: LedgerQueries | undefined;
  const db = (() => {
    try {
      return connect(file);
    } catch (error) {
      return error as Error;
    }
  })();
  port.on('message', (request: WriterRequest) => {
    if ('close' in request) {
      if (!(db instanceof Error)) db.close();
      port.postMessage({ id: request.id, serial: -1 } satisfies WriterReply);
      port.close();
      return;
    }
    try {
      if (db instanceof Error) throw db;
      queries ??= new LedgerQueries(db);
      port.postMessage({ id: request.id, serial: queries.applyEvents(request.events, request.at) } satisfies WriterReply);
    } catch (error) {
      const failure = error as Error & { errcode?: number };
      port.postMessage({ id: request.id, error: { message: failure.message, errcode: failure.errcode } } satisfies WriterReply);
    }
  });
}
