/**
 * The ledger's writer, run in a worker thread: it owns the one connection that writes and folds
 * each batch of events into the database in one transaction. A commit with synchronous=FULL
 * waits for fsync; in a worker that wait does not stop apply's event loop, so events verified
 * meanwhile queue up and share the next commit (group commit), as they did when the journal's
 * fsync ran in libuv's thread pool.
 *
 * After each commit it moves the high-water mark beside the ledger (integrity.ts) to the serial
 * just committed.
 *
 * Messages in: { id, events, at } to record, { id, probe: true } to prove the ledger writable (a
 * write transaction that changes nothing, committed, and the mark written), { id, reset, at } to
 * open the event log of a ledger that replaced another (`dualsync reset`), { id, close: true }
 * to finish.
 * Messages out: { id, serial } when committed (with `warning` when the mark could not follow),
 * { id, error } when not (nothing committed).
 */
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { LedgerEvent } from '../model/ledger.ts';
import { connect } from './db.ts';
import { HighWaterMark } from './integrity.ts';
import { LedgerQueries } from './queries.ts';

export type WriterRequest =
  | { id: number; events: LedgerEvent[]; at: string }
  | { id: number; probe: true }
  | { id: number; reset: { previousHead: string; backup?: string }; at: string }
  | { id: number; close: true };
export type WriterReply = { id: number; serial: number; warning?: string } | { id: number; error: { message: string; errcode?: number } };

if (parentPort !== null && (workerData as { ledgerWriter?: string } | undefined)?.ledgerWriter !== undefined) {
  const port = parentPort;
  const file = (workerData as { ledgerWriter: string }).ledgerWriter;
  let queries: LedgerQueries | undefined;
  const mark = new HighWaterMark(dirname(file));
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
      mark.close();
      port.postMessage({ id: request.id, serial: -1 } satisfies WriterReply);
      port.close();
      return;
    }
    try {
      if (db instanceof Error) throw db;
      queries ??= new LedgerQueries(db, file);
      const serial =
        'probe' in request ? queries.proveWritable()
        : 'reset' in request ? queries.recordReset(request.reset.previousHead, request.reset.backup, request.at)
        : queries.applyEvents(request.events, request.at);
      try {
        mark.record(serial);
      } catch (error) {
        // A probe proves the state directory writable, the mark included; after a commit of
        // events the events stand, and only the check of a later open is weaker.
        if ('probe' in request) throw error;
        port.postMessage({ id: request.id, serial, warning: `cannot update the ledger's high-water mark: ${(error as Error).message}` } satisfies WriterReply);
        return;
      }
      port.postMessage({ id: request.id, serial } satisfies WriterReply);
    } catch (error) {
      const failure = error as Error & { errcode?: number };
      port.postMessage({ id: request.id, error: { message: failure.message, errcode: failure.errcode } } satisfies WriterReply);
    }
  });
}
