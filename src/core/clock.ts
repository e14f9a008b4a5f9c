/**
 * Time, injected. Services never read the wall clock directly: event time drives monitoring and
 * schedules, and tests run a simulated quarter in seconds with a {@link ManualClock}.
 */

/** A source of the current time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** A clock that moves only when told to; for tests and simulations. */
export class ManualClock implements Clock {
  #now: number;

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`clock can only move forward, got ${ms}`);
    this.#now += ms;
  }

  /** Sets the clock to `ms`; it may not go back. */
  set(ms: number): void {
    if (ms < this.#now) throw new RangeError(`clock can only move forward: ${ms} < ${this.#now}`);
    this.#now = ms;
  }
}
