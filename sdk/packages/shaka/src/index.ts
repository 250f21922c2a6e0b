export { ShakaP2PEngine, type ShakaP2PConfig } from "./engine.js";
export { streamsOfVariants, dashSegments, runtimeKey, rangeFromHeader, SEGMENT_ID_RESOLUTION_S } from "./streams.js";
export { P2PEngine, type P2PConfig, type Stats, type EngineEvents, type EngineException } from "@swarmcast/core";
import { ShakaP2PEngine } from "./engine.js";
export default ShakaP2PEngine;
