import { describe, expect, it } from 'vitest';
import { qoeFigure, describeProblems, windowStart, formatBytes, formatDuration, formatPercent, formatRate, p2pShare, stoppedMessage, toChartData, totals } from './format';

describe('formatting', () => {
  it('formats bytes, rates and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1234)).toBe('1.2 KB');
    expect(formatBytes(987_654_321)).toBe('988 MB');
    expect(formatRate(2_500_000)).toBe('2.5 Mbps');
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(3725)).toBe('1h 2m');
    expect(formatDuration(90_000)).toBe('1d 1h');
    expect(formatBytes(-1)).toBe('–');
  });

  it('computes the P2P share', () => {
    expect(p2pShare(0, 0)).toBeNull();
    expect(p2pShare(250, 750)).toBe(75);
    expect(formatPercent(p2pShare(999, 1))).toBe('0.1%');
    expect(formatPercent(null)).toBe('–');
  });
});

describe('describeProblems', () => {
  it('says nothing when nothing went wrong, and names the sources when something did', () => {
    const none = { errors_http: 0, errors_peer: 0, errors_superpeer: 0, bad_segments: 0, banned_peers: 0 };
    expect(describeProblems(none)).toBe('');
    expect(describeProblems({ ...none, errors_peer: 2, errors_superpeer: 1, bad_segments: 1, banned_peers: 1 })).toBe(
      '3 player errors (peers 2, super peers 1) · 1 bad segment from peers · 1 peer banned',
    );
  });
});

describe('toChartData', () => {
  const series = {
    channel: '',
    step_secs: 10,
    ts: [100, 120],
    viewers: [3, 5],
    http_bytes: [1_250_000, 0],
    p2p_bytes: [3_750_000, 2_500_000],
    upload_bytes: [0, 0],
    rebuffers: [0, 0],
  };

  it('turns bucket bytes into Mbps and leaves gaps for missing buckets', () => {
    const d = toChartData(series, 95, 125);
    expect(d.ts).toEqual([90, 100, 110, 120]);
    expect(d.viewers).toEqual([null, 3, null, 5]);
    expect(d.httpMbps[1]).toBeCloseTo(1);
    expect(d.p2pMbps[1]).toBeCloseTo(3);
    expect(d.share[1]).toBe(75);
    expect(d.share[3]).toBe(100);
  });

  it('sums totals', () => {
    expect(totals(series)).toEqual({ http: 1_250_000, p2p: 6_250_000, upload: 0, peakViewers: 5 });
  });
});

describe('windowStart', () => {
  const s = { channel: '', step_secs: 10, ts: [9_500], viewers: [1], http_bytes: [0], p2p_bytes: [0], upload_bytes: [0], rebuffers: [0] };
  it('starts at the first point of a young history, showing at least ten minutes', () => {
    expect(windowStart(s, 10_000, 3600)).toBe(9_400);
    expect(windowStart({ ...s, ts: [9_900] }, 10_000, 3600)).toBe(9_400);
    expect(windowStart({ ...s, ts: [1_000] }, 10_000, 3600)).toBe(6_400);
    expect(windowStart({ ...s, ts: [] }, 10_000, 3600)).toBe(9_400);
  });
});

describe('stopping a worker', () => {
  it('says when automatic seeding brings the channel back', () => {
    expect(stoppedMessage(42, 'live/a.m3u8', null)).toBe('Worker 42 stopped');
    expect(stoppedMessage(42, 'live/a.m3u8', { auto: false, interval_secs: 10 })).toBe('Worker 42 stopped');
    expect(stoppedMessage(42, 'live/a.m3u8', { auto: true, interval_secs: 9.5 })).toBe(
      'Worker 42 stopped: automatic seeding starts live/a.m3u8 again within 10 s while it is watched',
    );
  });
});

describe('QoE figures', () => {
  it('say what they rest on, and show a dash when nothing backs them', () => {
    expect(qoeFigure(850.4, 'ms', 3)).toBe('850 ms · 3 viewers');
    expect(qoeFigure(12_345, 'ms', 1)).toBe('12.3 s · 1 viewer');
    expect(qoeFigure(0.012, 'ratio', 2)).toBe('1.2% · 2 viewers');
    expect(qoeFigure(2000, 'kbps', 2)).toBe('2.0 Mbps · 2 viewers');
    expect(qoeFigure(null, 'ratio', 0)).toBe('– · 0 viewers');
  });
});
