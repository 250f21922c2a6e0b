// Loads P2P Media Loader 2.3.1's own command serializer from node_modules (not an export of the
// package, so we resolve the file next to its entry point).
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { existsSync, readFileSync } from "node:fs";

function findPackage(name: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed`);
  }
}
const pkgDir = findPackage("p2p-media-loader-core");
const pkgJson = join(pkgDir, "package.json");
const libDir = join(pkgDir, "lib");

export const pmlVersion: string = JSON.parse(readFileSync(pkgJson, "utf8")).version;

type PmlCommands = {
  serializePeerCommand(cmd: unknown, maxChunkSize: number): Uint8Array[];
  deserializeCommand(bytes: Uint8Array): Record<string, unknown>;
  isCommandChunk(bytes: Uint8Array): boolean;
  BinaryCommandChunksJoiner: new (onComplete: (b: Uint8Array) => void) => { addCommandChunk(c: Uint8Array): void };
};
type PmlStream = { generateStreamShortId(p: Record<string, unknown>): string; getStreamSwarmId(base: string, s: { type: string; index: string }): string };
type PmlPeer = { getStreamHash(s: string): string };

export async function pmlCommands(): Promise<PmlCommands> {
  return (await import(pathToFileURL(join(libDir, "p2p/commands/index.js")).href)) as PmlCommands;
}
export async function pmlStream(): Promise<PmlStream> {
  return (await import(pathToFileURL(join(libDir, "utils/stream.js")).href)) as PmlStream;
}
export async function pmlPeer(): Promise<PmlPeer> {
  return (await import(pathToFileURL(join(libDir, "utils/peer.js")).href)) as PmlPeer;
}
