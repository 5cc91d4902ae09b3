/**
 * A housekeeping run on a timer (the daily retention purge, the hourly report rollup): first after a delay (not
 * in the start-up rush), then every interval; a run never overlaps the one before, a failed run is reported and
 * the next interval tries again, and stop() waits for a run in progress.
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly task: () => Promise<unknown>,
    private readonly onFailure: (err: unknown) => void,
  ) {}

  start(options: { firstDelayMs: number; intervalMs: number }): void {
    if (this.timer) return;
    const run = () => {
      this.running ??= this.task()
        .catch(this.onFailure)
        .finally(() => {
          this.running = undefined;
        });
    };
    this.timer = setTimeout(() => {
      run();
      this.timer = setInterval(run, options.intervalMs);
      this.timer.unref();
    }, options.firstDelayMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
