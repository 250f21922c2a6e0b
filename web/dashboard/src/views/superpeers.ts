import { api, type Seeding, type SuperPeer, type Worker } from '../api';
import { act, h, morph, shortChannel, toast } from '../dom';
import { formatAgo, formatDuration, stoppedMessage } from '../format';

function statusBadge(sp: SuperPeer): HTMLElement {
  const text = sp.status === 'running' ? 'Running' : sp.status === 'stopped' ? 'Stopped' : 'Checking…';
  return h('span', { class: `badge ${sp.status}`, 'data-testid': 'status' }, text);
}

/** What a button of this view does; clicks are handled on the list, with the latest data. */
type Action = 'check' | 'edit' | 'remove' | 'restart-all' | 'stop-all' | 'worker-restart' | 'worker-stop';

function button(key: string, action: Action, label: string, kind = '', title?: string): HTMLButtonElement {
  return h('button', { class: `btn small${kind ? ` ${kind}` : ''}`, 'data-key': `${key}-${action}`, 'data-action': action, title }, label);
}

function workerRow(sp: SuperPeer, w: Worker): HTMLElement {
  const key = `sp-${sp.id}-worker-${w.pid}`;
  return h('tr', { 'data-testid': 'worker', 'data-pid': w.pid, 'data-key': key },
    h('td', { 'data-label': 'Channel', class: 'wide' }, h('div', { class: 'channel', title: w.channel }, shortChannel(w.channel)), w.label ? h('div', { class: 'muted small' }, `${w.label}${w.live ? ' · live' : ''}`) : null),
    h('td', { 'data-label': 'PID', class: 'num' }, w.pid),
    h('td', { 'data-label': 'Peers', class: 'num strong', 'data-testid': 'peers' }, w.peers),
    h('td', { 'data-label': 'Uploaded', class: 'num' }, formatKB(w.uploaded_kb)),
    h('td', { 'data-label': 'From origin', class: 'num' }, formatKB(w.origin_kb)),
    h('td', { 'data-label': 'CPU', class: 'num' }, `${w.cpu_percent.toFixed(1)}%`),
    h('td', { 'data-label': 'Memory', class: 'num' }, `${Math.round(w.rss_mb)} MB`),
    h('td', { 'data-label': 'Uptime', class: 'num' }, formatDuration(w.uptime_secs), w.restarts ? h('div', { class: 'muted small' }, `${w.restarts} restart${w.restarts === 1 ? '' : 's'}`) : null),
    h('td', { class: 'actions' },
      button(key, 'worker-restart', 'Restart', '', 'Restart this worker'),
      button(key, 'worker-stop', 'Stop', 'danger', 'Kill this worker'),
    ),
  );
}

function formatKB(kb: number): string {
  if (kb >= 1e6) return `${(kb / 1e6).toFixed(1)} GB`;
  if (kb >= 1e3) return `${(kb / 1e3).toFixed(1)} MB`;
  return `${kb} KB`;
}

function editForm(sp: SuperPeer | null, onDone: () => void): HTMLFormElement {
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'http://10.0.0.5:8081', value: sp?.url ?? '' });
  const bw = h('input', { name: 'bandwidth', type: 'number', min: 0, step: 1, placeholder: '1000', value: sp ? sp.bandwidth_mbps : '' });
  const token = h('input', { name: 'token', type: 'password', autocomplete: 'off', placeholder: sp?.access_token_set ? 'unchanged' : 'X-ACCESS-TOKEN' });
  const label = h('input', { name: 'label', placeholder: 'eu-west-1', value: sp?.label ?? '' });
  const submit = h('button', { class: 'btn primary', type: 'submit' }, sp ? 'Save' : 'Add super peer');
  const form = h('form', { class: 'grid-form' },
    h('label', {}, 'URL', url),
    h('label', {}, 'Bandwidth (Mbps)', bw),
    h('label', {}, 'Access token', token),
    h('label', {}, 'Label', label),
    h('div', { class: 'form-actions' }, submit),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body: Record<string, unknown> = { url: url.value.trim(), bandwidth_mbps: Number(bw.value || 0), label: label.value.trim() };
    if (!sp || token.value) body.access_token = token.value;
    void act(submit, async () => {
      const saved = await api<SuperPeer>(sp ? 'PUT' : 'POST', sp ? `/super-peers/${sp.id}` : '/super-peers', body);
      toast(saved.status === 'running' ? `${saved.label || saved.url} is running` : `Saved, but ${saved.label || saved.url} is not reachable: ${saved.error ?? ''}`, saved.status === 'running' ? 'ok' : 'error');
      if (!sp) form.reset();
      onDone();
    });
  });
  return form;
}

export function superPeersView(root: HTMLElement, seeding: () => Seeding | null): { refresh: () => Promise<void> } {
  const isAuto = (): boolean => seeding()?.auto ?? true;
  const list = h('div', { class: 'sp-list' });
  const addCard = h('section', { class: 'card' }, h('h2', {}, 'Register a super peer'), h('p', { class: 'muted' }, 'The console checks it with POST /ping, sending the bandwidth.'));
  root.append(addCard, list);
  const editing = new Set<number>();
  let latest: SuperPeer[] = [];

  async function refresh(): Promise<void> {
    latest = await api<SuperPeer[]>('GET', '/super-peers');
    const now = Math.floor(Date.now() / 1000);
    morph(list, latest.length ? latest.map((sp) => card(sp, now)) : h('div', { class: 'card empty' }, 'No super peer registered yet.'));
  }

  function card(sp: SuperPeer, now: number): HTMLElement {
    const key = `sp-${sp.id}`;
    const peersTotal = sp.workers.reduce((n, w) => n + w.peers, 0);
    return h('section', { class: 'card sp', 'data-testid': 'super-peer', 'data-id': sp.id, 'data-key': key },
      h('header', { class: 'sp-head' },
        h('div', {}, h('h3', {}, sp.label || sp.url, ' ', statusBadge(sp)), h('div', { class: 'muted small mono' }, sp.url)),
        h('div', { class: 'btn-row' },
          button(key, 'check', 'Check'),
          button(key, 'edit', editing.has(sp.id) ? 'Close' : 'Edit'),
          sp.workers.length ? [button(key, 'restart-all', 'Restart all'), button(key, 'stop-all', 'Stop all', 'danger')] : null,
          button(key, 'remove', 'Remove', 'danger'),
        ),
      ),
      h('div', { class: 'facts' },
        fact('Bandwidth', sp.bandwidth_mbps ? `${sp.bandwidth_mbps} Mbps` : '—'),
        fact('Workers', `${sp.workers.length}${sp.workers_limit !== null ? ` of ${sp.workers_limit}` : ''}`),
        fact('Peers served', String(peersTotal)),
        fact('Checked', formatAgo(sp.checked_at, now)),
      ),
      sp.error ? h('div', { class: 'banner error', 'data-testid': 'error' }, sp.error) : null,
      sp.stats_error ? h('div', { class: 'banner warn' }, `Stats unavailable: ${sp.stats_error}`) : null,
      editing.has(sp.id) ? keep(`${key}-edit-form`, editForm(sp, () => { editing.delete(sp.id); void refresh(); })) : null,
      sp.workers.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
          h('thead', {}, h('tr', {}, ...['Channel', 'PID', 'Peers', 'Uploaded', 'From origin', 'CPU', 'Memory', 'Uptime', ''].map((t) => h('th', {}, t)))),
          h('tbody', {}, ...sp.workers.map((w) => workerRow(sp, w))),
        ))
        : sp.status === 'running' ? h('p', { class: 'empty' }, 'No worker running.') : null,
      !isAuto() && sp.status === 'running' ? keep(`${key}-seed-form`, manualSeedForm(sp, refresh)) : null,
    );
  }

  list.addEventListener('click', (e) => {
    const target = (e.target as Element).closest<HTMLButtonElement>('button[data-action]');
    const id = Number(target?.closest<HTMLElement>('[data-testid="super-peer"]')?.dataset.id);
    const sp = latest.find((p) => p.id === id);
    if (!target || target.disabled || !sp) return;
    const pid = Number(target.closest<HTMLElement>('tr[data-pid]')?.dataset.pid);
    const name = sp.label || sp.url;
    const w = sp.workers.find((w) => w.pid === pid);
    switch (target.dataset.action as Action) {
      case 'check':
        return void act(target, () => api('POST', `/super-peers/${sp.id}/check`).then(refresh));
      case 'edit':
        if (editing.has(sp.id)) editing.delete(sp.id);
        else editing.add(sp.id);
        return void refresh();
      case 'remove':
        if (confirm(`Remove ${name} from the registry? Its workers keep running.`)) void act(target, () => api('DELETE', `/super-peers/${sp.id}`).then(refresh), 'Removed');
        return;
      case 'restart-all':
        return void act(target, () => api('POST', `/super-peers/${sp.id}/restart_all`).then(refresh), 'All workers restarted');
      case 'stop-all':
        if (confirm(`Stop every worker of ${name}?`)) void act(target, () => api('POST', `/super-peers/${sp.id}/stop_all`).then(refresh), 'All workers stopped');
        return;
      case 'worker-restart':
        if (w) void act(target, () => api('POST', `/super-peers/${sp.id}/workers/${w.pid}/restart`).then(refresh), `Worker ${w.pid} restarted`);
        return;
      case 'worker-stop':
        if (w && confirm(`Stop worker ${w.pid} (${shortChannel(w.channel)})?`)) void act(target, () => api('POST', `/super-peers/${sp.id}/workers/${w.pid}/stop`).then(refresh), stoppedMessage(w.pid, shortChannel(w.channel), seeding()));
        return;
    }
  });
  addCard.append(editForm(null, () => void refresh()));
  return { refresh };
}

/** A form kept as the user left it across refreshes (see `morph`). */
function keep(key: string, form: HTMLElement): HTMLElement {
  form.setAttribute('data-key', key);
  form.setAttribute('data-keep', '');
  return form;
}

function manualSeedForm(sp: SuperPeer, refresh: () => Promise<void>): HTMLElement {
  const channel = h('input', { type: 'url', required: true, placeholder: 'https://cdn.example.com/live/stream.m3u8' });
  // Live or VOD: by default the console reads the manifest (no EXT-X-ENDLIST means live).
  const kind = h('select', { name: 'kind', 'aria-label': 'Live or VOD' },
    h('option', { value: '' }, 'detect'),
    h('option', { value: 'live' }, 'live'),
    h('option', { value: 'vod' }, 'VOD'),
  );
  const submit = h('button', { class: 'btn primary small', type: 'submit' }, 'Seed');
  const form = h('form', { class: 'seed-form' }, h('input', { type: 'hidden' }), h('label', { class: 'grow' }, 'Seed a channel by hand', channel), h('label', { class: 'check' }, 'type', kind), submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body: Record<string, unknown> = { channel: channel.value.trim() };
    if (kind.value) body.live = kind.value === 'live';
    void act(submit, () => api('POST', `/super-peers/${sp.id}/seed`, body).then(() => { form.reset(); return refresh(); }), 'Seeding');
  });
  return form;
}

function fact(label: string, value: string): HTMLElement {
  return h('div', { class: 'fact' }, h('div', { class: 'fact-label' }, label), h('div', { class: 'fact-value' }, value));
}
