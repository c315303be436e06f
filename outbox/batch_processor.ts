/** The seed's BatchProcessor: buffer items, flush at a size or on a timer, one flush at a time. */

/** Options of a BatchProcessor. */
export interface BatchProcessorOptions<T> {
  /** Flush when this many items are buffered (seed default 100). */
  readonly maxSize: number;
  /** Flush buffered items at least this often, in milliseconds (seed default 5 000). */
  readonly flushEveryMs: number;
  /** Writes one batch; the processor does not drop a batch whose write throws, it rethrows to the caller. */
  readonly write: (items: readonly T[]) => Promise<void>;
  /** Reports a failed timer flush (the items are kept in order for the next flush). */
  readonly onTimerError?: (error: unknown) => void;
}

/**
 * Collects items and writes them in batches. A flush takes the buffer by swapping it for an empty one,
 * so adding never waits on a write in progress unless the buffer is full (back-pressure).
 */
export class BatchProcessor<T> {
  readonly #options: BatchProcessorOptions<T>;
  #buffer: T[] = [];
  #writing: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;
  #kicking = false;

  constructor(options: BatchProcessorOptions<T>) {
    if (options.maxSize < 1) throw new RangeError("maxSize must be at least 1");
    this.#options = options;
  }

  /** Items waiting for the next flush. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Starts the flush timer. */
  start(): void {
    this.#timer ??= setInterval(() => {
      if (this.#buffer.length === 0) return;
      this.flush().catch((error) => this.#options.onTimerError?.(error));
    }, this.#options.flushEveryMs);
  }

  /** Adds an item; when the buffer reaches maxSize, waits for that flush (back-pressure). */
  async add(item: T): Promise<void> {
    this.#buffer.push(item);
    if (this.#buffer.length >= this.#options.maxSize) await this.flush();
  }

  /** Writes what is buffered now, after any flush already running. */
  flush(): Promise<void> {
    const next = this.#writing.catch(() => {}).then(async () => {
      if (this.#buffer.length === 0) return;
      const items = this.#buffer;
      this.#buffer = [];
      try {
        await this.#options.write(items);
      } catch (error) {
        // Keep order: the failed items go back in front of anything added meanwhile.
        this.#buffer = items.concat(this.#buffer);
        throw error;
      }
    });
    this.#writing = next;
    return next;
  }

  /**
   * Group commit: starts writing now unless a write is running; while one runs, new items gather and the next
   * write takes them all. Low latency when idle, large batches under load. Does not wait for the write.
   */
  kick(): void {
    if (this.#kicking) return;
    this.#kicking = true;
    const loop = async () => {
      try {
        while (this.#buffer.length > 0) await this.flush();
      } catch (error) {
        this.#options.onTimerError?.(error);
      } finally {
        this.#kicking = false;
      }
    };
    loop();
  }

  /** Stops the timer and flushes what is left. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** Stops the timer and drops what is buffered (used when the owner can no longer commit it). */
  discard(): T[] {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const dropped = this.#buffer;
    this.#buffer = [];
    return dropped;
  }
}
