/**
 * The background loop of an outbox (SMS, WeChat): looks every `intervalMs`, at once when woken (after a commit
 * that wrote a message), and drains batch after batch while they come back full. One round runs at a time;
 * stop() waits for the round in progress, so a shutdown does not cut a send between the vendor and the outcome.
 */
export class OutboxPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private intervalMs = 2000;

  constructor(
    /** Sends what is due, at most `limit`; answers how many were sent and how many attempts failed. */
    private readonly deliverDue: (limit: number) => Promise<{ sent: number; failed: number }>,
    /** A round that threw (the database away, say): logged, and the next round tries again. */
    private readonly onRoundFailed: (err: unknown) => void,
    private readonly batch = 20,
  ) {}

  get started(): boolean {
    return !this.stopped;
  }

  start(intervalMs = 2000): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.intervalMs = intervalMs;
    this.schedule(0);
  }

  /** Looks now instead of at the next interval; nothing when stopped or while a round runs (it re-schedules itself). */
  wake(): void {
    if (!this.stopped && this.timer) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.intervalMs);
      });
    }, delay);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped) {
        const { sent, failed } = await this.deliverDue(this.batch);
        if (sent + failed < this.batch) break;
      }
    } catch (err) {
      this.onRoundFailed(err);
    }
  }
}

/** Exponential back-off of an outbox retry: base, 2x base, 4x base ... capped. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
}
