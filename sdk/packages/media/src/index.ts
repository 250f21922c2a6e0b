export { P2PEngineMedia, type MediaP2PConfig } from "./engine.js";
export { parseRange, resolveRange, planResponse, contentRangeLength, type RangeRequest, type RangeAnswer, type ResponsePlan } from "./range.js";
export { DEFAULT_PIECE_LENGTH, pieceCount, pieceRange, slicesOf, pieceSegments, fileShortId, type PieceSlice } from "./pieces.js";
export { P2PEngine, type Stats, type EngineEvents, type EngineException } from "@swarmcast/core";
import { P2PEngineMedia } from "./engine.js";
export default P2PEngineMedia;
