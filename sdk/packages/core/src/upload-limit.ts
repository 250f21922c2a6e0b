/**
 * The cap on what we serve to peers (`maxUploadKbps`): a token bucket shared by every peer
 * session of the engine. Tokens are bytes, refilled at the cap's rate up to `capacity`; a chunk
 * is sent while the bucket holds any token and takes its size, so the bucket goes at most one
 * chunk into debt. Over any span of T seconds at most `capacity + rate·T + one chunk` bytes leave.
 *
 * Pure but for the clock, which is injected (tests drive it by hand).
 */

export type Clock = () => number;

export class TokenBucket {
  private tokens: number;
  private at: number;

  /** `rate` in bytes per second, `capacity` in bytes, `now` in milliseconds. */
  constructor(
    readonly rate: number,
    readonly capacity: number,
    private readonly now: Clock = () => Date.now(),
  ) {
    if (!(rate > 0) || !(capacity > 0)) throw new RangeError("a token bucket needs a positive rate and capacity");
    this.tokens = capacity;
    this.at = now();
  }

  private refill(): void {
    const t = this.now();
    if (t > this.at) this.tokens = Math.min(this.capacity, this.tokens + ((t - this.at) / 1000) * this.rate);
    this.at = Math.max(this.at, t);
  }

  /** Tokens now (negative: in debt). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Milliseconds until the bucket holds a token again (0: it does now). */
  waitMs(): number {
    this.refill();
    return this.tokens > 0 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  /** Spends `n` bytes (sent): may leave the bucket in debt. */
  take(n: number): void {
    this.refill();
    this.tokens -= n;
  }
}

/**
 * What peer sessions ask before serving: the bucket, and how many uploads are under way. A new
 * request is refused (answered "absent", so the requester goes elsewhere at once) while the
 * bucket is empty and another upload already waits on it: a queue behind a spent cap would only
 * make the requester wait until its scheduler gives up on us.
 */
export class UploadLimiter {
  private readonly bucket: TokenBucket;
  private active = 0;

  constructor(kbps: number, now?: Clock) {
    const rate = (kbps * 1000) / 8;
    // One second of the cap, but never less than a data message, so a chunk can always start.
    this.bucket = new TokenBucket(rate, Math.max(rate, 64 * 1024), now);
  }

  get capacity(): number {
    return this.bucket.capacity;
  }

  get rate(): number {
    return this.bucket.rate;
  }

  /** Whether a new request should be refused now. */
  saturated(): boolean {
    return this.active > 0 && this.bucket.waitMs() > 0;
  }

  waitMs(): number {
    return this.bucket.waitMs();
  }

  take(n: number): void {
    this.bucket.take(n);
  }

  /** An upload starts / ends (completed, cancelled, replaced or closed). */
  begin(): void {
    this.active++;
  }

  end(): void {
    this.active = Math.max(0, this.active - 1);
  }
}
