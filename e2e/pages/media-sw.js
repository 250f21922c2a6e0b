// The test site's ServiceWorker: Swarmcast's sw.js imported into the site's own worker, as a
// site that already has one does. It also reports every part of a piece it answered a media
// element with (file URL, first byte, length, SHA-256, whether the page or its own HTTP gave it)
// to the page that asked, for the played-bytes check (e2e/lib/played.mjs).
importScripts('/node_modules/@swarmcast/media/dist/sw.js');

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

MediaProxy.hooks.onServed = async ({ clientId, url, start, data, via }) => {
  const sha256 = hex(await crypto.subtle.digest('SHA-256', data));
  const client = clientId ? await self.clients.get(clientId) : undefined;
  client?.postMessage({ served: { url, range: [start, start + data.length - 1], bytes: data.length, sha256, via } });
};
