/**
 * What the viewer's connection allows: P2P at all (`wifiOnly`) and uploading to peers (off on
 * metered connections unless `uploadOnCellular`). Pure: the caller reads `navigator.connection`.
 *
 * A connection is metered when the Network Information API says `type: "cellular"` or
 * `saveData: true` (the viewer asked the browser to save data), as PeerTube decides. With
 * `wifiOnly`, P2P runs only on `type` "wifi" or "ethernet", or, on desktop browsers (which do
 * not expose `type`), when the type is missing or "unknown"; a mobile browser with no type or
 * "unknown", and every other type ("cellular", "bluetooth", "wimax", "other", "none"), keep
 * P2P off.
 */

/** The fields of `navigator.connection` read here. */
export type ConnectionInfo = { type?: string; saveData?: boolean };

export type NetworkPolicy = { p2p: boolean; upload: boolean; reason?: string };

export type NetworkOptions = { wifiOnly: boolean; uploadOnCellular: boolean };

export function isMetered(c: ConnectionInfo | undefined): boolean {
  return c?.type === "cellular" || c?.saveData === true;
}

export function networkPolicy(c: ConnectionInfo | undefined, mobile: boolean, o: NetworkOptions): NetworkPolicy {
  if (o.wifiOnly) {
    const type = c?.type;
    const ok = type === "wifi" || type === "ethernet" || ((type === undefined || type === "unknown") && !mobile);
    if (!ok) return { p2p: false, upload: false, reason: `wifiOnly: connection type ${type ?? "unknown"}${mobile ? " on a mobile device" : ""}` };
  }
  if (isMetered(c) && !o.uploadOnCellular) {
    return { p2p: true, upload: false, reason: c?.type === "cellular" ? "cellular connection: download only" : "saveData: download only" };
  }
  return { p2p: true, upload: true };
}

/** `navigator.connection` where the browser has it. */
export function currentConnection(): (ConnectionInfo & EventTarget) | undefined {
  const n = typeof navigator !== "undefined" ? (navigator as Navigator & { connection?: ConnectionInfo & EventTarget }) : undefined;
  return n?.connection;
}
