/**
 * The worker's side of the page engines' ports: one {@link EngineLink} per engine that said
 * hello. A link asks its page for pieces and matches the answers to the requests; when the page
 * leaves (or its port fails) every open request fails, and the proxy goes to HTTP on its own.
 */
import type { Hello, PageMessage, WorkerMessage } from "../link.js";

type Pending = { resolve(d: Uint8Array): void; reject(e: Error): void };

export class EngineLink {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Files the page was told of (`opened` or `failed`) on this link. */
  private readonly told = new Set<string>();
  private closed = false;

  constructor(
    private readonly port: MessagePort,
    readonly hello: Hello,
    private readonly onClose: () => void,
  ) {
    port.onmessage = (e: MessageEvent<PageMessage>) => this.onMessage(e.data);
    port.onmessageerror = () => this.close();
    port.start();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  send(m: WorkerMessage, transfer: Transferable[] = []): void {
    if (!this.closed) this.port.postMessage(m, transfer);
  }

  /** Marks `url` as told to the page on this link; false when it already was. */
  markTold(url: string): boolean {
    if (this.told.has(url)) return false;
    this.told.add(url);
    return true;
  }

  /** Piece `index` of the file at `url`, from the page (memory, disk, peers or HTTP: its choice). */
  piece(url: string, index: number, signal: AbortSignal): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error("the page's engine left"));
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      signal.addEventListener("abort", () => {
        if (!this.pending.delete(id)) return;
        this.send({ t: "cancel", id });
        reject(new DOMException("aborted", "AbortError"));
      });
      this.send({ t: "piece", id, url, index });
    });
  }

  private onMessage(m: PageMessage): void {
    if (!m || typeof m !== "object") return;
    if (m.t === "bye") return this.close();
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.t === "data") p.resolve(new Uint8Array(m.data));
    else p.reject(new Error(m.message));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new Error("the page's engine left"));
    this.pending.clear();
    this.port.close();
    this.onClose();
  }
}
