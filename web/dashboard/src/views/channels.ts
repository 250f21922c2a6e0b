import { api, type Channel, type Decision, type ListedChannels } from '../api';
import { act, clear, h, morph, shortChannel, toast } from '../dom';
import { qoeView } from './qoe';
import { describeProblems, formatAgo, formatBytes, formatPercent, p2pShare } from '../format';

export function decisionItem(d: Decision, now: number): HTMLElement {
  const where = d.super_peer_label ? ` on ${d.super_peer_label}${d.pid ? ` (worker ${d.pid})` : ''}` : '';
  return h('li', { class: `decision ${d.ok ? '' : 'failed'}`, 'data-testid': 'decision' },
    h('span', { class: `tag ${d.action}` }, d.action.replace('_', ' ')),
    h('div', { class: 'decision-body' },
      h('div', {}, d.channel ? h('strong', { title: d.channel }, shortChannel(d.channel)) : null, where, h('span', { class: 'muted small' }, ` · ${d.by} · ${formatAgo(d.ts, now)}`)),
      h('div', { class: 'reason' }, d.reason),
      d.error ? h('div', { class: 'error-text' }, d.error) : null,
    ),
  );
}

/** A channel's problems, highlighted when there are any. */
function problems(q: Channel['quality'] | undefined): HTMLElement {
  if (!q) return h('span', { class: 'muted' }, '—');
  const text = describeProblems(q);
  return text ? h('span', { class: 'error-text', 'data-testid': 'problems' }, text) : h('span', { class: 'muted' }, 'none');
}

export function channelsView(root: HTMLElement, openTraffic: (channel: string) => void): { refresh: () => Promise<void> } {
  const table = h('div');
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Channels by viewers'), h('p', { class: 'muted' }, 'From the tracker. "Why" is the last seeding decision about the channel.'), table));
  const qoe = qoeView(root);
  const list = listedView(root, () => refresh());
  async function refresh(): Promise<void> {
    await Promise.all([refreshRanking(), qoe.refresh(), list.refresh()]);
  }
  async function refreshRanking(): Promise<void> {
    const data = await api<{ channels: Channel[]; errors: string[]; polled_at: number }>('GET', '/channels');
    const now = Math.floor(Date.now() / 1000);
    const errors = data.errors.length ? h('div', { class: 'banner error' }, data.errors.join('; ')) : null;
    if (!data.channels.length) return morph(table, errors, h('p', { class: 'empty' }, 'The tracker lists no channel yet.'));
    const rows = data.channels.map((c, i) => {
      const link = h('a', { href: '#traffic', title: c.channel, 'data-channel': c.channel }, shortChannel(c.channel));
      return h('tr', { 'data-testid': 'channel', 'data-key': `channel-${c.channel}` },
        h('td', { class: 'num muted rank' }, i + 1),
        h('td', { 'data-label': 'Channel', class: 'wide' }, h('div', { class: 'channel' }, link), c.seedable ? null : h('div', { class: 'muted small' }, 'channel id unknown: not seedable')),
        h('td', { 'data-label': 'Viewers', class: 'num strong' }, c.viewers),
        h('td', { 'data-label': 'P2P share', class: 'num' }, formatPercent(p2pShare(c.http_bytes, c.p2p_bytes))),
        h('td', { 'data-label': 'Delivered', class: 'num' }, formatBytes(c.http_bytes + c.p2p_bytes)),
        h('td', { 'data-label': 'Problems', class: 'wide' }, problems(c.quality)),
        h('td', { 'data-label': 'Seeded on', class: 'wide' }, c.seeded_on.length ? c.seeded_on.map((s) => h('span', { class: 'chip' }, `${s.label || '#' + s.super_peer_id} · ${s.peers} peers`)) : h('span', { class: 'muted' }, '—')),
        h('td', { 'data-label': 'Why', class: 'why' }, c.last_decision ? [h('span', { class: `tag ${c.last_decision.action}` }, c.last_decision.action), ' ', c.last_decision.reason, h('span', { class: 'muted small' }, ` (${formatAgo(c.last_decision.ts, now)})`)] : h('span', { class: 'muted' }, '—')),
      );
    });
    morph(table, errors, h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ...['#', 'Channel', 'Viewers', 'P2P share', 'Delivered', 'Problems', 'Seeded on', 'Why'].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...rows),
    )));
  }
  table.addEventListener('click', (e) => {
    const link = (e.target as Element).closest<HTMLElement>('a[data-channel]');
    if (!link) return;
    e.preventDefault();
    openTraffic(link.dataset.channel ?? '');
  });
  return { refresh };
}

/** The channel list: channel URLs (or indexes of them) whose swarms the console names, so
 * channels watched only by clients that report no stats are ranked and seeded too. */
function listedView(root: HTMLElement, onChange: () => void): { refresh: () => Promise<void> } {
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://cdn.example.com/live/news/index.m3u8' });
  const kind = h('select', { name: 'kind' }, h('option', { value: 'channel' }, 'channel manifest'), h('option', { value: 'index' }, 'index of channel URLs'));
  const submit = h('button', { class: 'btn primary', type: 'submit' }, 'List');
  const form = h('form', { class: 'grid-form', 'data-testid': 'list-channel' }, h('label', {}, 'URL', url), h('label', {}, 'Kind', kind), h('div', { class: 'form-actions' }, submit));
  const body = h('div');
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Channel list'),
    h('p', { class: 'muted' }, 'Channels known by URL: their swarms are found by the ids P2P Media Loader derives from the manifest, so viewers that report no stats count too. An index is a text or M3U file of channel URLs, one per line.'),
    form, body));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void act(submit, async () => {
      const listed = await api<ListedChannels>('POST', '/listed-channels', { url: url.value.trim(), kind: (kind as HTMLSelectElement).value });
      const failed = listed.channels.filter((c) => c.error);
      toast(failed.length ? `Listed; ${failed.length} not matched: ${failed[0].error}` : 'Listed', failed.length ? 'error' : 'ok');
      form.reset();
      onChange();
    });
  });
  async function refresh(): Promise<void> {
    const listed = await api<ListedChannels>('GET', '/listed-channels');
    if (!listed.sources.length) return morph(body, h('p', { class: 'empty' }, 'Nothing listed: channels are known from the SDK\'s stats reports only.'));
    const sources = listed.sources.map((s) => {
      const remove = h('button', { class: 'btn small danger', 'data-key': `listed-${s.id}-remove`, 'data-remove': s.id }, 'Remove');
      return h('tr', { 'data-testid': 'listed', 'data-key': `listed-${s.id}` }, h('td', { 'data-label': 'URL', class: 'wide' }, h('div', { class: 'channel', title: s.url }, shortChannel(s.url))), h('td', { 'data-label': 'Kind' }, s.kind), h('td', { class: 'actions' }, remove));
    });
    const channels = listed.channels.map((c) => h('tr', { 'data-testid': 'listed-channel' },
      h('td', { 'data-label': 'Channel', class: 'wide' }, h('div', { class: 'channel', title: c.url }, shortChannel(c.channel || c.url))),
      h('td', { 'data-label': 'Swarms', class: 'num' }, c.info_hashes.length),
      h('td', { 'data-label': 'Status', class: 'wide' }, c.error ? h('span', { class: 'error-text' }, c.error) : h('span', { class: 'muted' }, 'matched')),
    ));
    morph(body,
      h('div', { class: 'table-wrap' }, h('table', { class: 'table' }, h('thead', {}, h('tr', {}, ...['Listed', 'Kind', ''].map((t) => h('th', {}, t)))), h('tbody', {}, ...sources))),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table' }, h('thead', {}, h('tr', {}, ...['Channel', 'Swarms', 'Status'].map((t) => h('th', {}, t)))), h('tbody', {}, ...channels))),
    );
  }
  body.addEventListener('click', (e) => {
    const remove = (e.target as Element).closest<HTMLButtonElement>('button[data-remove]');
    if (!remove || remove.disabled) return;
    void act(remove, () => api('DELETE', `/listed-channels/${remove.dataset.remove}`).then(onChange), 'Removed from the list');
  });
  return { refresh };
}

export function decisionsView(root: HTMLElement): { refresh: () => Promise<void> } {
  const filter = h('input', { type: 'search', placeholder: 'Filter by channel id (exact)' });
  const list = h('ul', { class: 'decisions' });
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Decision log'), h('p', { class: 'muted' }, 'Every seed and stop, automatic or by hand, with its reason.'), filter, list));
  filter.addEventListener('change', () => void refresh());
  async function refresh(): Promise<void> {
    const q = filter.value.trim() ? `?channel=${encodeURIComponent(filter.value.trim())}&limit=200` : '?limit=200';
    const items = await api<Decision[]>('GET', `/decisions${q}`);
    const now = Math.floor(Date.now() / 1000);
    clear(list);
    if (!items.length) list.append(h('li', { class: 'empty' }, 'Nothing decided yet.'));
    for (const d of items) list.append(decisionItem(d, now));
  }
  return { refresh };
}
