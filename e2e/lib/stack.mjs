// The origin, tracker and browser that the tests of one file share.
import { after, before } from 'node:test';
import { startOrigin, startTracker } from './servers.mjs';
import { launchBrowser } from './browser.mjs';

/**
 * Starts an origin (`origin`: its options), a tracker and a browser context before the file's
 * tests and stops them after. The returned object's fields are set once the `before` hook ran
 * (read them inside tests and hooks, not at import); a test may replace `tracker` with a new one,
 * which is the one stopped.
 */
export function sharedStack({ origin = {} } = {}) {
  const stack = { origin: undefined, tracker: undefined, ctx: undefined };
  before(async () => {
    stack.origin = await startOrigin(origin);
    stack.tracker = await startTracker();
    stack.ctx = await launchBrowser();
  });
  after(async () => {
    await stack.ctx?.close();
    await stack.tracker?.stop();
    await stack.origin?.stop();
  });
  return stack;
}
