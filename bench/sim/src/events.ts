/**
 * The discrete-event clock: a heap of timed callbacks under virtual time. It implements the
 * SDK's Clock, so the swarm's own timers run on it. Between events the loop yields to the JS
 * event loop (setImmediate) so every promise continuation of the SDK code runs at the virtual
 * time of the event that caused it.
 */
import { promiseHooks } from "node:v8";
import type { Clock, TimerHandle } from "../../../sdk/packages/core/src/clock.js";

/**
 * Promises created or settled so far. Their continuations run as microtasks, which run only
 * when the loop yields; when no promise was touched since the last yield none is pending,
 * and the loop goes on without paying for a turn of Node's event loop.
 */
let promiseWork = 0;
promiseHooks.createHook({
  init: () => void promiseWork++,
  settled: () => void promiseWork++,
});

type Ev = { t: number; seq: number; fn: () => void; cancelled: boolean };

export class EventLoop implements Clock {
  private heap: Ev[] = [];
  private seq = 0;
  private t = 0;
  events = 0;
  private promiseWorkSeen = -1;

  now(): number {
    return this.t;
  }

  at(t: number, fn: () => void): Ev {
    const e: Ev = { t: Math.max(t, this.t), seq: this.seq++, fn, cancelled: false };
    this.push(e);
    return e;
  }

  after(ms: number, fn: () => void): Ev {
    return this.at(this.t + Math.max(0, ms), fn);
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.after(ms, fn);
  }

  clearTimeout(h: TimerHandle): void {
    if (h && typeof h === "object" && "cancelled" in h) (h as Ev).cancelled = true;
  }

  /** Runs events until `until` (ms) or until none is left. */
  async run(until: number): Promise<void> {
    const h = this.heap;
    while (h.length && (h[0] as Ev).t <= until) {
      const t = (h[0] as Ev).t;
      // Every event due at this instant, then the promise continuations they caused.
      while (h.length && (h[0] as Ev).t === t) {
        const e = this.pop();
        if (e.cancelled) continue;
        this.t = e.t;
        this.events++;
        e.fn();
      }
      if (promiseWork !== this.promiseWorkSeen) {
        await new Promise<void>((r) => setImmediate(r));
        this.promiseWorkSeen = promiseWork;
      }
    }
    this.t = Math.max(this.t, until);
  }

  private less(a: Ev, b: Ev): boolean {
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
  }

  private push(e: Ev): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(e, h[p] as Ev)) break;
      h[i] = h[p] as Ev;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Ev {
    const h = this.heap;
    const top = h[0] as Ev;
    const last = h.pop() as Ev;
    if (h.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && this.less(h[r] as Ev, h[l] as Ev) ? r : l;
        if (!this.less(h[c] as Ev, last)) break;
        h[i] = h[c] as Ev;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
