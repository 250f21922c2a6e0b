/**
 * The page's side of the ServiceWorker: registers the worker script when the page has none,
 * says hello to the worker in control (over a MessageChannel) and answers its piece requests
 * with the engine's pieces. `ready()` says under which scope proxied URLs work now, or that
 * they don't (no worker in control yet, or one that does not answer: plain HTTP then).
 */
import type { Logger } from "@swarmcast/core";
import { HELLO, HELLO_AGAIN, type Hello, type PageMessage, type WorkerMessage } from "./link.js";

export type WorkerLinkOptions = {
  swFile: string;
  swScope: string;
  hello: Omit<Hello, "type">;
  log: Logger;
  /** A piece for the worker; the bytes handed back are transferred (the caller keeps none). */
  piece(url: string, index: number, signal: AbortSignal): Promise<Uint8Array>;
  /** The worker script could not be registered. */
  failed(message: string): void;
  /** The worker's first request for a file found it (its length and type, and piece `index` unless -1). */
  opened(m: Extract<WorkerMessage, { t: "opened" }>): void;
  /** The worker's first request for a file found that it can't be proxied: the element went to its own URL. */
  fileFailed(m: Extract<WorkerMessage, { t: "failed" }>): void;
};

/** How long the worker in control gets to answer hello before we play without it. */
const WELCOME_TIMEOUT_MS = 3000;

export class WorkerLink {
  private port?: MessagePort;
  private welcome?: Promise<string | undefined>;
  private registered?: Promise<void>;
  private readonly open = new Map<number, AbortController>();
  private closed = false;
  private readonly sw: ServiceWorkerContainer | undefined = typeof navigator !== "undefined" ? navigator.serviceWorker : undefined;
  private readonly onControllerChange = () => {
    this.welcome = undefined; // a new worker: say hello again, now, before a file is asked for
    void this.ready();
  };

  /**
   * The worker lost our port (it was restarted) or has not had our hello yet: say it again, to
   * the worker that asked. While a new worker takes over, the page's `controller` may still be
   * the one it replaces, which would take the hello instead.
   */
  private readonly onWorkerMessage = (e: MessageEvent) => {
    const m = e.data as { type?: string; engine?: string } | null;
    if (m?.type !== HELLO_AGAIN || m.engine !== this.o.hello.engine || this.closed) return;
    const asker = e.source;
    if (typeof ServiceWorker !== "undefined" && asker instanceof ServiceWorker) {
      this.welcome = this.hello(asker);
      return;
    }
    this.welcome = undefined;
    void this.ready();
  };

  constructor(private readonly o: WorkerLinkOptions) {
    this.sw?.addEventListener("controllerchange", this.onControllerChange);
    this.sw?.addEventListener("message", this.onWorkerMessage);
    this.sw?.startMessages();
  }

  /** Registers the worker script unless a worker already serves this page's scope. */
  register(): Promise<void> {
    this.registered ??= (async () => {
      const sw = this.sw;
      if (!sw || sw.controller) return;
      const script = new URL(this.o.swFile, location.href).href;
      const existing = await sw.getRegistration(new URL(this.o.swScope, location.href).href);
      const active = existing?.active ?? existing?.waiting ?? existing?.installing;
      // A site's own worker (which may importScripts ours) is never replaced.
      if (active && active.scriptURL !== script) return;
      try {
        await sw.register(script, { scope: this.o.swScope });
      } catch (err) {
        this.o.failed(`ServiceWorker ${script} could not be registered: ${String(err)}`);
      }
    })();
    return this.registered;
  }

  /**
   * The scope proxied URLs live under at once, without waiting for the worker's answer: when
   * the worker in control runs our own script at a scope that covers this page, our hello is
   * on its way and the worker waits for it before it answers a proxied URL. Undefined when the
   * worker is a site's own (which may or may not import ours): then {@link ready} tells.
   */
  ownScope(): string | undefined {
    const controller = this.sw?.controller;
    if (!controller || this.closed || typeof location === "undefined") return undefined;
    const script = new URL(this.o.swFile, location.href).href;
    const scope = new URL(this.o.swScope, location.href).href;
    if (controller.scriptURL !== script || !location.href.startsWith(scope)) return undefined;
    this.welcome ??= this.hello(controller);
    return scope;
  }

  /** The scope proxied URLs live under, once the worker in control answered; else undefined. */
  async ready(): Promise<string | undefined> {
    await this.register();
    const sw = this.sw;
    if (!sw?.controller || this.closed) return undefined;
    this.welcome ??= this.hello(sw.controller);
    return this.welcome;
  }

  /** Says hello to the worker in control; resolves with its scope once it answered. */
  private hello(controller: ServiceWorker): Promise<string | undefined> {
    this.port?.close();
    const channel = new MessageChannel();
    const port = (this.port = channel.port1);
    return new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.o.log.warn("the ServiceWorker in control did not answer: is sw.js imported in it? Files play from their own URLs.");
        resolve(undefined);
      }, WELCOME_TIMEOUT_MS);
      port.onmessage = (e: MessageEvent<WorkerMessage>) => {
        const m = e.data;
        if (m?.t === "welcome") {
          clearTimeout(timer);
          // Workers of earlier versions did not say their scope.
          resolve(typeof m.scope === "string" ? m.scope : this.sw?.getRegistration().then((r) => r?.scope));
        } else if (m?.t === "piece") void this.answer(port, m.id, m.url, m.index);
        else if (m?.t === "cancel") this.open.get(m.id)?.abort();
        else if (m?.t === "opened") this.o.opened(m);
        else if (m?.t === "failed") this.o.fileFailed(m);
      };
      port.start();
      const hello: Hello = { type: HELLO, ...this.o.hello };
      controller.postMessage(hello, [channel.port2]);
    });
  }

  private async answer(port: MessagePort, id: number, url: string, index: number): Promise<void> {
    const ctl = new AbortController();
    this.open.set(id, ctl);
    let reply: PageMessage;
    try {
      const data = await this.o.piece(url, index, ctl.signal);
      reply = { t: "data", id, data: data.buffer as ArrayBuffer };
    } catch (err) {
      reply = { t: "error", id, message: String(err) };
    } finally {
      this.open.delete(id);
    }
    if (ctl.signal.aborted || this.closed) return;
    port.postMessage(reply, reply.t === "data" ? [reply.data] : []);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sw?.removeEventListener("controllerchange", this.onControllerChange);
    this.sw?.removeEventListener("message", this.onWorkerMessage);
    for (const c of this.open.values()) c.abort();
    this.port?.postMessage({ t: "bye" } satisfies PageMessage);
    this.port?.close();
  }
}
