// What the player was handed. `recordPlayed(hls)` wraps an Hls instance's fragment loader so
// that every media fragment hls.js receives is recorded (URL, sequence number, byte length,
// SHA-256) before hls.js parses it, and every hls.js error is recorded with its fragment.
// Tests drain `window.__played` and compare each digest with the origin's file: a browser test
// then checks what was played, not only how many bytes moved.
(function () {
  const played = (window.__played = { records: [], errors: [], pending: 0 });
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

  function record(context, data, sourceOf) {
    const frag = context.frag;
    if (!frag || frag.sn === 'initSegment' || context.part) return;
    // A copy taken now: hls.js may hand the buffer to its worker right after this call.
    const copy = new Uint8Array(data).slice();
    const entry = {
      url: context.url,
      sn: frag.sn,
      level: frag.level,
      bytes: copy.length,
      range: context.rangeEnd > context.rangeStart ? [context.rangeStart, context.rangeEnd - 1] : null,
      source: sourceOf ? sourceOf(frag) : null,
      sha256: null,
      at: Math.round(performance.now()),
    };
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
})();
