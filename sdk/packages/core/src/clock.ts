/**
 * Time as the swarm sees it: the wall clock and timers. Injectable so the same code runs in a
 * discrete-event simulator under virtual time; the real one is the default everywhere.
 */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds, monotonic enough to measure transfers (Date.now() by default). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
