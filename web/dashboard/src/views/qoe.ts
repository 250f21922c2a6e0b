import { api, type QoeGroupView, type QoeSnapshot } from '../api';
import { clear, h, shortChannel } from '../dom';
import { qoeFigure } from '../format';

/** The control-group comparison: per channel, the P2P and HTTP-only groups side by side, each
 * figure with the number of viewers it rests on. */
export function qoeView(root: HTMLElement): { refresh: () => Promise<void> } {
  const body = h('div');
  root.append(h('section', { class: 'card' }, h('h2', {}, 'P2P against the control group'),
    h('p', { class: 'muted' }, 'Viewers in the control group (the SDK\'s controlGroupRatio) play over HTTP only. Startup is the mean over viewers whose playback started; rebuffer ratio is stalled time over watching time; bitrate is weighted by time played.'),
    body));

  function cells(g: QoeGroupView): HTMLElement[] {
    return [
      h('td', { 'data-label': 'Viewers', class: 'num strong', 'data-testid': 'qoe-viewers' }, `${g.viewers} now · ${g.sessions} in all`),
      h('td', { 'data-label': 'Startup', class: 'num', 'data-testid': 'qoe-startup' }, qoeFigure(g.startup_ms, 'ms', g.started)),
      h('td', { 'data-label': 'Rebuffer ratio', class: 'num', 'data-testid': 'qoe-rebuffer' }, qoeFigure(g.rebuffer_ratio, 'ratio', g.played)),
      h('td', { 'data-label': 'Bitrate', class: 'num', 'data-testid': 'qoe-bitrate' }, qoeFigure(g.bitrate_kbps, 'kbps', g.played)),
      h('td', { 'data-label': 'P2P share', class: 'num', 'data-testid': 'qoe-share' }, qoeFigure(g.p2p_share, 'ratio', g.downloaded)),
    ];
  }

  async function refresh(): Promise<void> {
    const data = await api<QoeSnapshot>('GET', '/qoe');
    clear(body);
    if (data.errors.length) body.append(h('div', { class: 'banner error' }, data.errors.join('; ')));
    if (!data.channels.length) {
      body.append(h('p', { class: 'empty' }, 'No viewer has reported playback quality yet.'));
      return;
    }
    const rows = data.channels.flatMap((c) => (['p2p', 'control'] as const).map((group, i) => {
      const tags = c.tags.filter((t) => t.group === group && t.tag).map((t) => h('span', { class: 'chip', title: `${t.viewers} now · ${t.sessions} in all` }, `${t.tag}: ${t.sessions}`));
      return h('tr', { 'data-testid': 'qoe-group', 'data-group': group, 'data-channel': c.channel },
        i === 0 ? h('td', { 'data-label': 'Channel', class: 'wide', rowspan: 2 }, h('div', { class: 'channel', title: c.channel }, shortChannel(c.channel))) : null,
        h('td', { 'data-label': 'Group' }, h('span', { class: `tag ${group}` }, group === 'p2p' ? 'P2P' : 'control (HTTP only)'), tags.length ? h('div', {}, ...tags) : null),
        ...cells(c[group]),
      );
    }));
    body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ...['Channel', 'Group', 'Viewers', 'Startup', 'Rebuffer ratio', 'Bitrate', 'P2P share'].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...rows),
    )));
  }
  return { refresh };
}
