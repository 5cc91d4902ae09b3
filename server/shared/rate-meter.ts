/**
 * Events per second over the last full second and the current one (the larger of the two), counted in
 * one-second buckets on the monotonic clock: cheap enough to call on every request.
 */
export class RateMeter {
  private second = 0;
  private current = 0;
  private previous = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  hit(): void {
    this.roll();
    this.current++;
  }

  perSecond(): number {
    this.roll();
    return Math.max(this.current, this.previous);
  }

  private roll() {
    const second = Math.floor(this.now() / 1000);
    if (second === this.second) return;
    this.previous = second === this.second + 1 ? this.current : 0;
    this.current = 0;
    this.second = second;
  }
}
