// What the player was handed. `recordPlayed(hls)` wraps an Hls instance's fragment loader so
// that every media fragment hls.js receives is recorded (URL, sequence number, byte length,
// SHA-256) before hls.js parses it, and every hls.js error is recorded with its fragment.
// Tests drain `window.__played` and compare each digest with the origin's file: a browser test
// then checks what was played, not only how many bytes moved. `recordPlayedShaka(player)` does
// the same for Shaka Player with a response filter on its networking engine (media segments
// only: Shaka passes the segment reference to filters) and records every Shaka error.
(function () {
  const played = (window.__played = { records: [], errors: [], pending: 0 });
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

  function record(context, data, sourceOf) {
    const frag = context.frag;
    if (!frag || frag.sn === 'initSegment' || context.part) return;
    push(data, {
      url: context.url,
      sn: frag.sn,
      level: frag.level,
      range: context.rangeEnd > context.rangeStart ? [context.rangeStart, context.rangeEnd - 1] : null,
      source: sourceOf ? sourceOf(frag) : null,
    });
  }

  function push(data, fields) {
    // A copy taken now: the player may hand the buffer on right after this call.
    const copy = new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength).slice();
    const entry = { ...fields, bytes: copy.length, sha256: null, at: Math.round(performance.now()) };
    played.records.push(entry);
    played.pending++;
    crypto.subtle.digest('SHA-256', copy).then((d) => {
      entry.sha256 = hex(d);
      played.pending--;
    });
  }

  // `sourceOf(frag)`, when given, names where the fragment came from (http, p2p, ...).
  window.recordPlayed = function (hls, { sourceOf } = {}) {
    const Inner = hls.config.fLoader;
    hls.config.fLoader = class RecordingLoader extends Inner {
      load(context, config, callbacks) {
        super.load(context, config, {
          ...callbacks,
          onSuccess(response, stats, ctx, details) {
            record(ctx, response.data, sourceOf);
            callbacks.onSuccess(response, stats, ctx, details);
          },
        });
      }
    };
    hls.on(window.Hls.Events.ERROR, (_e, d) => {
      played.errors.push({
        type: d.type,
        details: d.details,
        fatal: !!d.fatal,
        reason: d.reason ?? d.error?.message ?? null,
        sn: d.frag?.sn ?? null,
        url: d.frag?.url ?? null,
      });
    });
  };

  // Shaka Player: media segments as the networking engine hands them to the player.
  window.recordPlayedShaka = function (player, { sourceOf } = {}) {
    const net = player.getNetworkingEngine();
    net.registerResponseFilter((type, response, context) => {
      const ref = context?.segment;
      if (type !== window.shaka.net.NetworkingEngine.RequestType.SEGMENT || !ref || typeof ref.getStartTime !== 'function') return;
      const m = /^bytes=(\d+)-(\d+)$/.exec(response.originalRequest?.headers?.Range ?? '');
      push(response.data, {
        url: response.uri,
        sn: Math.trunc(ref.getStartTime() / 0.5),
        level: context.stream?.id ?? null,
        range: m ? [Number(m[1]), Number(m[2])] : null,
        source: sourceOf ? sourceOf(response.uri) : null,
      });
    });
    player.addEventListener('error', (e) => {
      const d = e.detail ?? {};
      played.errors.push({ type: 'shakaError', details: `${d.category}/${d.code}`, fatal: d.severity === 2, reason: d.message ?? null, sn: null, url: null });
    });
  };
})();
