import type { LogLevel, RunEvent } from '../model/index.ts';

/** How `watch` and `apply` write their log: lines for a person (the default), or one JSON object per line. */
export type LogFormat = 'human' | 'json';

/** The log formats, as `--log-format` takes them. */
export const LOG_FORMATS: readonly LogFormat[] = ['human', 'json'];

/** How much an event matters: what a journald priority or a Loki level filter selects on. */
export function levelOf(event: RunEvent): LogLevel {
  switch (event.event) {
    case 'cycle_error':
      return event.retryable ? 'warn' : 'error';
    case 'failure':
    case 'stall':
    case 'listing_warning':
    case 'hop_down':
    case 'backoff':
    case 'lock_wait':
      return 'warn';
    case 'cycle_end':
      return event.result === 'failures' || event.result === 'hops_down' ? 'warn' : 'info';
    default:
      return 'info';
  }
}

/**
 * One event as one line of JSON: `ts` (ISO 8601, UTC), `level` and `event` first, then the
 * event's fields. Keys and messages are JSON strings, so a key with a newline stays on its line.
 */
export function renderLogLine(event: RunEvent, ts: string): string {
  return `${JSON.stringify({ ts, level: levelOf(event), ...event })}\n`;
}
