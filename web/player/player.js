// What the demo's players share: the query (?src= picks what to play, ?tracker= the tracker,
// by default this host's port 8000, as `swarmcast demo` runs it), the form, the position, and
// the engine's events and stats drawn into the page's list.
const demo = (() => {
  const $ = (id) => document.getElementById(id);
  const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;

  /** Reads the query (`defaultSrc` when it names nothing) into the form; returns what to play, where, and the video. */
  function setup(defaultSrc) {
    const params = new URLSearchParams(location.search);
    const src = params.get('src') ?? defaultSrc;
    const tracker = params.get('tracker') ?? `ws://${location.hostname}:8000`;
    $('src').value = src;
    $('trackerField').value = tracker;
    $('tracker').textContent = `${tracker} (connecting)`;
    const video = $('video');
    setInterval(() => { $('pos').textContent = `${video.currentTime.toFixed(1)} s`; }, 500);
    return { src, tracker, video };
  }

  /** Shows an engine's tracker connection, peer id, peers, bytes and exceptions. */
  function show(engine, tracker) {
    window.__engine = engine;
    engine.on('serverConnected', (up) => { $('tracker').textContent = `${tracker} (${up ? 'connected' : 'disconnected'})`; });
    engine.on('peerId', (id) => { $('peerid').textContent = id; });
    engine.on('peers', (ids) => { $('peers').textContent = String(ids.length); });
    engine.on('stats', (s) => {
      const total = s.totalHTTPDownloaded + s.totalP2PDownloaded;
      const share = total ? Math.round((100 * s.totalP2PDownloaded) / total) : 0;
      $('down').textContent = `${mb(total)} (P2P ${share} %, HTTP ${mb(s.totalHTTPDownloaded)})`;
      $('up').textContent = mb(s.totalP2PUploaded);
    });
    engine.on('exception', (e) => { $('err').textContent = `${e.code}: ${e.message}`; });
  }

  return { $, setup, show };
})();
