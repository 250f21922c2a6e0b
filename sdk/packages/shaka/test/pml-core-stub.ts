// Stands in for p2p-media-loader-core where p2p-media-loader-shaka's stream numbering imports
// it: that code uses only its logger.
export const debug = () => () => {};
