export * from "./serialization.js";
export * from "./commands.js";
export * from "./framing.js";

import { encodeCommandBody, type PeerCommand } from "./commands.js";
import { DEFAULT_MAX_MESSAGE_SIZE, frameCommand } from "./framing.js";

/** Encodes a command into the data-channel messages to send, in order. */
export function encodeCommand(cmd: PeerCommand, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE): Uint8Array[] {
  return frameCommand(encodeCommandBody(cmd), maxMessageSize);
}
