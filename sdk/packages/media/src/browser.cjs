// The browser bundle's entry: `window.P2PEngineMedia` is the engine class itself.
module.exports = require("./engine.ts").P2PEngineMedia;
