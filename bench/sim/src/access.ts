/**
 * The viewers' access-link distribution on its own, for the browser bench's `--net realistic`
 * mode (bench/swarm), which shapes real network namespaces with the same draws the simulator
 * makes. Built to dist/access.js beside the CLI.
 */
export { drawAccess, MBPS, type Access, type Population } from "./model.js";
export { Rng } from "./rng.js";
