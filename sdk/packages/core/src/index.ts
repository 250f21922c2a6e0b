export * from "./protocol/index.js";
export * from "./swarm-id.js";
