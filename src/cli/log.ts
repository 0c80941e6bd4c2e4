import { userError } from '../errors.ts';
import type { RunEvent } from '../model/index.ts';
import { LOG_FORMATS, renderLogLine, type LogFormat } from '../view/log.ts';

/** `--log-format`'s value, or a usage error naming the choices. */
export function parseLogFormat(value: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw userError('E_USAGE', `--log-format ${JSON.stringify(value)}: not a log format`, { hint: `write one of ${LOG_FORMATS.join(', ')}` });
}

/** Where a run's log goes, in its format: the human lines and the events, each printed in one of the two formats only. */
export interface RunLog {
  /** A human line of the watch loop ("cycle 3: in sync ..."); in JSON the events say it. */
  loopLine(line: string): void;
  /** Something said in either format: `line` for a person, `event` in JSON. */
  say(line: string, event: RunEvent): void;
  /** An event; printed only in JSON, where it is the whole log. */
  event(event: RunEvent): void;
}

/** The log of `watch` or `apply` on `out`, stamped with `now`. */
export function runLog(out: NodeJS.WritableStream, format: LogFormat, now: () => Date): RunLog {
  const human = (line: string) => out.write(`[${now().toISOString()}] ${line}\n`);
  const json = (event: RunEvent) => out.write(renderLogLine(event, now().toISOString()));
  if (format === 'json') return { loopLine: () => {}, say: (_line, event) => json(event), event: json };
  return { loopLine: human, say: human, event: () => {} };
}
