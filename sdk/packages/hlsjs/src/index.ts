export { HlsJsP2PEngine, type HlsP2PConfig } from "./engine.js";
export { segmentsFromFragments, runtimeKey } from "./segments.js";
export { P2PEngine, type P2PConfig, type Stats, type EngineEvents, type EngineException } from "@swarmcast/core";
import { HlsJsP2PEngine } from "./engine.js";
export default HlsJsP2PEngine;
