export type LogLevel = "debug" | "info" | "warn" | "error" | "none" | boolean;

const ORDER = { debug: 0, info: 1, warn: 2, error: 3, none: 4 } as const;

export class Logger {
  private readonly min: number;
  constructor(level: LogLevel, private readonly prefix = "[swarmcast]") {
    const l = level === true ? "debug" : level === false ? "none" : level;
    this.min = ORDER[l] ?? ORDER.error;
  }
  debug(...a: unknown[]): void {
    if (this.min <= 0) console.debug(this.prefix, ...a);
  }
  info(...a: unknown[]): void {
    if (this.min <= 1) console.info(this.prefix, ...a);
  }
  warn(...a: unknown[]): void {
    if (this.min <= 2) console.warn(this.prefix, ...a);
  }
  error(...a: unknown[]): void {
    if (this.min <= 3) console.error(this.prefix, ...a);
  }
}
