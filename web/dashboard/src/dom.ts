// A tiny element builder: text always goes in as text, never as HTML.

import morphdom from 'morphdom';

export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined | null>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v as EventListener);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

/**
 * Makes `target`'s children `children` (built afresh by a view's refresh) while keeping the
 * elements already there, so a button stays the same node across refreshes and a click that
 * straddles one is not lost. Elements are matched by their `data-key`; a keyed element marked
 * `data-keep` (a form being filled in) is left as it is; a button busy with its action (`act`)
 * stays disabled. Buttons kept this way carry no listener of their own: views handle clicks on
 * their container (`data-action`), reading the data of the latest refresh.
 */
export function morph(target: Element, ...children: (Child | Child[])[]): void {
  const next = h('div', {}, ...children);
  morphdom(target, next, {
    childrenOnly: true,
    getNodeKey: (node) => (node instanceof Element ? node.getAttribute('data-key') ?? undefined : undefined),
    onBeforeElUpdated: (from, to) => {
      if (from.hasAttribute('data-keep') && from.getAttribute('data-key') === to.getAttribute('data-key')) return false;
      if (from.hasAttribute('data-busy')) {
        to.setAttribute('data-busy', '');
        to.setAttribute('disabled', '');
      }
      return true;
    },
  });
}

let toastTimer: number | undefined;
export function toast(message: string, kind: 'ok' | 'error' = 'ok'): void {
  let el = document.getElementById('toast');
  if (!el) {
    el = h('div', { id: 'toast', role: 'status' });
    document.body.append(el);
  }
  el.textContent = message;
  el.className = `toast show ${kind}`;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => el?.classList.remove('show'), 3500);
}

/** Runs an action from a button: disables it meanwhile, reports failure in a toast. */
export async function act(button: HTMLButtonElement | null, f: () => Promise<unknown>, done?: string): Promise<void> {
  button?.setAttribute('data-busy', '');
  if (button) button.disabled = true;
  try {
    await f();
    if (done) toast(done);
  } catch (e) {
    toast(e instanceof Error ? e.message : String(e), 'error');
  } finally {
    button?.removeAttribute('data-busy');
    if (button) button.disabled = false;
  }
}

/** Short display form of a channel id (manifest URLs are long). */
export function shortChannel(channel: string): string {
  try {
    const u = new URL(channel);
    return u.pathname.length > 1 ? `${u.host}${u.pathname}` : u.host;
  } catch {
    return channel;
  }
}
