// The few Node globals the simulator's core uses (no @types/node in this repository).
declare function setImmediate(fn: () => void): unknown;
declare module "node:v8" {
  export const promiseHooks: { createHook(hooks: { init?: () => void; settled?: () => void }): () => void };
}
