import { invalidParameterError } from './validate';

/** Message severities, most severe first, as in TensorRT's ILogger. */
export type Severity = 'internalError' | 'error' | 'warning' | 'info' | 'verbose';

const rank: Record<Severity, number> = {
  internalError: 0,
  error: 1,
  warning: 2,
  info: 3,
  verbose: 4,
};

/** Receives every message kiln's packages log; implement it to route logs elsewhere. */
export interface Logger {
  log(severity: Severity, message: string): void;
}

/** True when a message of `severity` passes a logger whose threshold is `threshold`. */
export function severityPasses(severity: Severity, threshold: Severity): boolean {
  return rank[severity] <= rank[threshold];
}

/** Writes messages at or above `threshold` to stderr with a `[kiln]` prefix. */
export class ConsoleLogger implements Logger {
  constructor(public threshold: Severity = 'warning') {}

  log(severity: Severity, message: string): void {
    if (!severityPasses(severity, this.threshold)) return;
    process.stderr.write(`[kiln] ${severity.toUpperCase()}: ${message}\n`);
  }
}

let current: Logger = new ConsoleLogger(
  (process.env.KILN_LOG_LEVEL as Severity | undefined) && process.env.KILN_LOG_LEVEL! in rank
    ? (process.env.KILN_LOG_LEVEL as Severity)
    : 'warning',
);

/** The logger every package uses (a ConsoleLogger at 'warning', or KILN_LOG_LEVEL, by default). */
export function getLogger(): Logger {
  return current;
}

/** Replaces the process-wide logger; returns the previous one. */
export function setLogger(logger: Logger): Logger {
  if (logger === null || typeof logger !== 'object' || typeof logger.log !== 'function') {
    throw invalidParameterError('logger', 'an object with a log(severity, message) method', logger);
  }
  const previous = current;
  current = logger;
  return previous;
}
