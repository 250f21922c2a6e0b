// Helpers shared by the P2PEngineMedia browser tests (media-*.test.mjs) and bench/media.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openPage, waitForState } from '../lib/browser.mjs';
import { PlayedChecker } from '../lib/played.mjs';
import { mediaDir, swarmcastBin } from '../lib/servers.mjs';

export { sleep, state } from './sdk-support.mjs';

/**
 * A fresh folder of progressive test files, one subfolder each so that the origin counts each
 * file's bytes apart, with the `segments-sha256.json` that `swarmcast hash` writes for them:
 * every piece a peer sends is checked against it. `folders` maps a subfolder to
 * `{ file, pieceLength }`. Returns `{ dir, remove() }`; mount `dir` on the origin.
 */
export async function pieceFolders(folders) {
  const media = await mediaDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-media-e2e-'));
  for (const [name, { file, pieceLength }] of Object.entries(folders)) {
    fs.mkdirSync(path.join(dir, name));
    const to = path.join(dir, name, file);
    try {
      fs.linkSync(path.join(media, file), to);
    } catch {
      fs.copyFileSync(path.join(media, file), to);
    }
    execFileSync(swarmcastBin(), ['hash', '--piece-length', String(pieceLength), path.join(dir, name)], { stdio: 'ignore' });
  }
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Length and duration (s) of a file, by ffprobe, to compare with what the element decoded. */
export function probeFile(file) {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration,size', '-of', 'json', file], { encoding: 'utf8' });
  const f = JSON.parse(out).format;
  return { bytes: Number(f.size), duration: Number(f.duration) };
}

/** Opens e2e/pages/media.html playing `src` (a path on the origin, or a URL) with `params`. */
export async function openMedia(ctx, origin, src, params = {}) {
  const q = new URLSearchParams({ src, log: process.env.SWARMCAST_E2E_LOG ?? 'warn', ...params });
  return openPage(ctx, `${origin.url}/e2e/media.html?${q}`);
}

/** Waits until the page's element has played `seconds` of media (or failed). */
export function playedAtLeast(page, seconds, what = `${seconds} s played`) {
  return waitForState(page, (s) => s.currentTime >= seconds || s.errors.length > 0, { what, timeoutMs: 120_000 });
}

/**
 * Checks what the ServiceWorker answered each tab's media element with (every part of every
 * piece, with its SHA-256) against the origin's bytes at the same range. Returns the checker.
 */
export async function checkServed(pages) {
  const checker = new PlayedChecker();
  for (const [i, page] of pages.entries()) {
    const drained = await page.evaluate(() => {
      const p = window.__played;
      const out = { records: p.records.map((r) => ({ ...r, sn: `${r.range[0]}` })), errors: p.errors };
      p.records = [];
      p.errors = [];
      return out;
    });
    await checker.add(`tab ${i}`, drained);
  }
  return checker;
}

/** A short summary of a media page's state for assertion messages. */
export function mediaSummary(s) {
  return JSON.stringify({
    t: Number((s.currentTime ?? 0).toFixed(1)), frames: s.frames, proxied: s.proxied, peers: s.peers?.length, bytes: s.bytes && {
      http: s.bytes.httpDown, p2pDown: s.bytes.p2pDown, p2pUp: s.bytes.p2pUp, bad: s.bytes.badSegments, banned: s.bytes.banned,
    }, sources: s.sources, stalls: s.stalls, rebuffers: s.rebuffers, errors: s.errors.slice(-3), exceptions: s.exceptionMessages?.slice(-3),
    ...(s.rebufferLog?.length ? { rebufferLog: s.rebufferLog.slice(-3) } : {}),
  });
}

/**
 * A fresh folder `<dir>/<name>/<file>` holding an MP4 of at least `minBytes`: the test media's
 * `progressive.mp4` looped by ffmpeg (stream copy: I/O only, a few seconds for 1 GB) with its
 * index first, and the `swarmcast hash` digests of its pieces. Made per run and removed after,
 * not cached: it is large. Returns `{ dir, path, bytes, remove() }`.
 */
export async function largeFile(name, file, minBytes, pieceLength) {
  const source = path.join(await mediaDir(), 'progressive.mp4');
  const loops = Math.ceil(minBytes / fs.statSync(source).size);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-media-large-'));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.mkdirSync(path.join(dir, name));
    const to = path.join(dir, name, file);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', String(loops - 1), '-i', source, '-c', 'copy', '-movflags', '+faststart', to], { stdio: 'inherit' });
    const bytes = fs.statSync(to).size;
    if (bytes < minBytes) throw new Error(`ffmpeg made ${bytes} bytes of ${file}, not the ${minBytes} asked`);
    execFileSync(swarmcastBin(), ['hash', '--piece-length', String(pieceLength), path.join(dir, name)], { stdio: 'ignore' });
    return { dir, path: to, bytes, remove };
  } catch (e) {
    remove();
    throw e;
  }
}
