// Viewers' access links for the bench's `--net` mode: one profile per viewer, in opening order.
// `realistic` draws from the swarm simulator's own distribution (bench/sim/src/model.ts,
// `drawAccess`, built to bench/sim/dist/access.js), so the bench and the simulator share one
// definition of "a viewer's network".
import { drawAccess, Rng } from '../../sim/dist/access.js';

const LAN = { kind: 'lan', delayMs: 1, loss: 0, upKbps: 100_000, downKbps: 100_000 };

/**
 * `n` profiles {kind, delayMs (one way), loss (per direction), upKbps, downKbps} for `name`
 * (`lan` or `realistic`), drawn in order from `seed`: viewer i gets the same profile in every
 * run. `uploadCapKbps` overrides every viewer's upload cap.
 */
export function viewerProfiles(name, n, { seed = 1, uploadCapKbps } = {}) {
  let profiles;
  if (name === 'lan') profiles = Array.from({ length: n }, () => ({ ...LAN }));
  else if (name === 'realistic') {
    const rng = new Rng(seed);
    profiles = Array.from({ length: n }, () => {
      const a = drawAccess({ kind: 'internet' }, rng);
      // The model's rates are bytes per second.
      return { kind: 'realistic', delayMs: a.accessMs, loss: a.loss, upKbps: (a.upBps * 8) / 1000, downKbps: (a.downBps * 8) / 1000 };
    });
  } else throw new Error(`--net is lan or realistic, not ${name}`);
  if (uploadCapKbps != null) for (const p of profiles) p.upKbps = uploadCapKbps;
  return profiles;
}

/** One line per viewer, for the log. */
export function describeProfile(p, i) {
  const mbit = (kbps) => (kbps / 1000).toFixed(kbps < 10_000 ? 2 : 0);
  return `viewer ${i + 1}: ${p.delayMs.toFixed(1)} ms one way, loss ${(p.loss * 100).toFixed(3)} %, up ${mbit(p.upKbps)} Mbit/s, down ${mbit(p.downKbps)} Mbit/s`;
}
