/**
 * What the server under test logged (its stdout: pino JSON lines), as a bench sees it: counts by kind and the
 * last lines, so that a failing step can show why (issue 16: the cause of the 500s was visible nowhere).
 */
export class ServerLog {
  /** Lines at level error or above (every 500 is one: "unhandled error" with its request id). */
  errors = 0;
  warnings = 0;
  /** 503 answers of an overloaded server ("server busy"). */
  busy = 0;
  /** Server processes the primary saw die (and started again): errors the chaos bench causes on purpose. */
  deaths = 0;
  /** How each death ended: the signal or exit code (SIGKILL: the chaos bench's own kills), or 'start failed'. */
  readonly deathCauses: string[] = [];
  /** Requests answered 500 ("unhandled error"). */
  unhandled = 0;
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly keep = 200) {}

  write(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) this.add(line);
  }

  private add(line: string): void {
    let entry: { level?: number; msg?: string; signal?: string | null; code?: number | null; duringStart?: boolean } | undefined;
    try {
      entry = JSON.parse(line);
    } catch {}
    // Only log lines: the banner of demo logins is printed on the same stdout.
    if (typeof entry?.level !== 'number') return;
    if (entry.level >= 50) this.errors++;
    else if (entry.level >= 40) this.warnings++;
    if (entry.msg === 'server busy') this.busy++;
    if (entry.msg === 'server process died; starting another') {
      this.deaths++;
      this.deathCauses.push(entry.duringStart ? 'start failed' : (entry.signal ?? `exit code ${entry.code}`));
    }
    if (entry.msg === 'unhandled error') this.unhandled++;
    this.lines.push(line);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
  }

  summary(): string {
    return `server log: ${this.errors} errors, ${this.busy} busy answers (503), ${this.warnings} warnings in all`;
  }

  /** The last lines, one short line each (level, message, request id, path, error type and message). */
  tail(count = 20): string {
    return this.lines
      .slice(-count)
      .map((line) => {
        const e = JSON.parse(line);
        const level = ({ 60: 'FATAL', 50: 'ERROR', 40: 'WARN', 30: 'INFO', 20: 'DEBUG' } as Record<number, string>)[e.level] ?? e.level;
        const error = e.error ?? e.err;
        const err = error ? ` ${error.type}: ${String(error.message).slice(0, 200)}` : '';
        const where = [e.requestId && `request ${e.requestId}`, e.path, e.reason].filter(Boolean).join(' ');
        return `    ${new Date(e.time).toISOString().slice(11, 23)} ${level} ${e.msg}${where ? ` (${where})` : ''}${err}`;
      })
      .join('\n');
  }
}
