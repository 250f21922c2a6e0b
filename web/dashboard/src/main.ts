import './style.css';
import { api, ApiError, saveToken, savedToken, setUnauthorizedHandler, type Seeding } from './api';
import { act, clear, h, toast } from './dom';
import { overviewView } from './views/overview';
import { superPeersView } from './views/superpeers';
import { channelsView, decisionsView } from './views/channels';
import { trafficView } from './views/traffic';

const app = document.getElementById('app') as HTMLElement;
const REFRESH_MS = 3000;

type Tab = 'overview' | 'super-peers' | 'channels' | 'traffic' | 'decisions';
const TABS: [Tab, string][] = [
  ['overview', 'Overview'],
  ['super-peers', 'Super peers'],
  ['channels', 'Channels'],
  ['traffic', 'Traffic'],
  ['decisions', 'Decisions'],
];

function logo(): HTMLElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('class', 'logo');
  svg.innerHTML = '<circle cx="16" cy="16" r="15" fill="#6366f1"/><path d="M10 12L22 12M10 12L16 22M22 12L16 22" stroke="#c7d2fe" stroke-width="1.5"/><circle cx="10" cy="12" r="3" fill="#fff"/><circle cx="22" cy="12" r="3" fill="#fff"/><circle cx="16" cy="22" r="3" fill="#fff"/>';
  return h('span', { class: 'brand' }, svg as unknown as HTMLElement, h('span', {}, 'Swarmcast', h('span', { class: 'brand-sub' }, ' console')));
}

function showLogin(message?: string): void {
  stopRefresh();
  clear(app);
  const token = h('input', { type: 'password', name: 'token', placeholder: 'Admin token', autocomplete: 'current-password', required: true, autofocus: true });
  const submit = h('button', { class: 'btn primary wide', type: 'submit' }, 'Sign in');
  const error = h('div', { class: 'error-text', role: 'alert' }, message ?? '');
  const form = h('form', { class: 'login card' }, logo(), h('p', { class: 'muted' }, 'Super peers, seeding and traffic of your P2P delivery.'), h('label', {}, 'Admin token', token), error, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void act(submit, async () => {
      try {
        await api('GET', '/session', undefined, token.value);
        saveToken(token.value);
        showApp();
      } catch (err) {
        error.textContent = err instanceof ApiError && err.status === 401 ? 'That token is not right.' : String(err instanceof Error ? err.message : err);
      }
    });
  });
  app.append(h('div', { class: 'login-wrap' }, form));
  token.focus();
}

let timer: number | undefined;
function stopRefresh(): void {
  window.clearInterval(timer);
  timer = undefined;
}

function showApp(): void {
  clear(app);
  let seeding: Seeding | null = null;
  const autoInput = h('input', { type: 'checkbox', role: 'switch', 'aria-label': 'Automatic seeding' });
  const autoText = h('span', {}, 'Auto seeding');
  const autoSwitch = h('label', { class: 'switch', title: 'Seed the hottest channels on the super peers automatically' }, autoInput, h('span', { class: 'slider' }), autoText);
  const planNow = h('button', { class: 'btn small ghost', title: 'Run a seeding round now' }, 'Plan now');
  const signOut = h('button', { class: 'btn small ghost' }, 'Sign out');
  const nav = h('nav', { class: 'tabs' });
  const main = h('main', { class: 'content' });
  app.append(h('header', { class: 'topbar' }, h('div', { class: 'topbar-row' }, logo(), h('div', { class: 'topbar-actions' }, autoSwitch, planNow, signOut)), nav), main);

  const views = new Map<Tab, { el: HTMLElement; refresh: () => Promise<void> }>();
  const mk = (tab: Tab) => h('div', { class: 'view', 'data-view': tab });
  const overviewEl = mk('overview');
  const spEl = mk('super-peers');
  const chEl = mk('channels');
  const trEl = mk('traffic');
  const deEl = mk('decisions');
  const traffic = trafficView(trEl);
  views.set('overview', { el: overviewEl, ...overviewView(overviewEl) });
  views.set('super-peers', { el: spEl, ...superPeersView(spEl, () => seeding) });
  views.set('channels', { el: chEl, ...channelsView(chEl, (c) => { traffic.select(c); location.hash = '#traffic'; }) });
  views.set('traffic', { el: trEl, refresh: traffic.refresh });
  views.set('decisions', { el: deEl, ...decisionsView(deEl) });

  async function refreshSeeding(): Promise<void> {
    seeding = await api<Seeding>('GET', '/seeding');
    autoInput.checked = seeding.auto;
    planNow.hidden = !seeding.auto;
    autoText.textContent = seeding.auto ? 'Auto seeding' : 'Manual seeding';
  }
  autoInput.addEventListener('change', () => {
    const on = autoInput.checked;
    void act(null, async () => {
      seeding = await api<Seeding>('PUT', '/seeding', { auto: on });
      await refreshSeeding();
      await refreshCurrent();
    }, on ? 'Automatic seeding is on' : 'Automatic seeding is off: seed channels by hand');
  });
  planNow.addEventListener('click', () => act(planNow, async () => {
    const r = await api<{ actions: { action: string }[] }>('POST', '/seeding/run');
    const changes = r.actions.filter((a) => a.action !== 'unplaced').length;
    toast(changes ? `${changes} change${changes === 1 ? '' : 's'} made` : 'Nothing to change');
    await refreshCurrent();
  }));
  signOut.addEventListener('click', () => { saveToken(null); showLogin(); });

  let current: Tab = 'overview';
  async function refreshCurrent(): Promise<void> {
    try {
      await views.get(current)?.refresh();
      main.classList.remove('stale');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        main.classList.add('stale');
        console.warn('refresh failed', e);
      }
    }
  }
  function route(): void {
    const tab = (location.hash.slice(1) || 'overview') as Tab;
    current = views.has(tab) ? tab : 'overview';
    clear(nav);
    for (const [t, label] of TABS) nav.append(h('a', { href: `#${t}`, class: t === current ? 'active' : '', 'aria-current': t === current ? 'page' : undefined }, label));
    clear(main);
    main.append(views.get(current)!.el);
    void refreshCurrent();
  }
  window.addEventListener('hashchange', route);
  void refreshSeeding().then(route, route);
  stopRefresh();
  timer = window.setInterval(() => {
    if (document.hidden) return;
    void refreshSeeding().catch(() => {});
    void refreshCurrent();
  }, REFRESH_MS);
}

setUnauthorizedHandler(() => {
  saveToken(null);
  showLogin('Your session ended: sign in again.');
});

async function start(): Promise<void> {
  const token = savedToken();
  if (token !== null) {
    try {
      await api('GET', '/session', undefined, token);
      showApp();
      return;
    } catch {
      /* fall through to the login form */
    }
  }
  // An open console (no admin token) needs no login.
  try {
    const health = await api<{ auth_required: boolean }>('GET', '/health', undefined, null);
    if (!health.auth_required) {
      saveToken('');
      showApp();
      return;
    }
  } catch {
    /* show the login form */
  }
  showLogin();
}

void start();
