/**
 * When to restart a server that stopped on its own: exponential backoff, at most
 * `maxRestarts` times in a row. A server that stayed up for `stableAfterMs` starts a new
 * streak. Pure (time is passed in), so it is unit-tested without timers.
 */

export interface RestartPolicyOptions {
    readonly maxRestarts: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
    readonly factor: number;
    /** Uptime after which a crash no longer counts as part of the previous streak. */
    readonly stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
    maxRestarts: 5,
    initialDelayMs: 1_000,
    maxDelayMs: 30_000,
    factor: 2,
    stableAfterMs: 60_000,
};

export type RestartDecision =
    | { readonly restart: true; readonly delayMs: number; readonly attempt: number; readonly of: number }
    | { readonly restart: false; readonly attempts: number };

/** The delay before restart number `attempt` (1-based). */
export function backoffDelay(attempt: number, options: RestartPolicyOptions): number {
    const delay = options.initialDelayMs * Math.pow(options.factor, Math.max(0, attempt - 1));
    return Math.min(options.maxDelayMs, Math.round(delay));
}

export class RestartPolicy {
    private restarts = 0;
    private runningSince: number | undefined;

    constructor(readonly options: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {}

    /** Restarts made in the current streak. */
    get attempts(): number {
        return this.restarts;
    }

    /** The server answered `initialize` at `now`. */
    started(now: number): void {
        this.runningSince = now;
    }

    /** The server stopped without being asked to, at `now` (during start or later). */
    crashed(now: number): RestartDecision {
        if (this.runningSince !== undefined && now - this.runningSince >= this.options.stableAfterMs) {
            this.restarts = 0;
        }
        this.runningSince = undefined;
        if (this.restarts >= this.options.maxRestarts) {
            return { restart: false, attempts: this.restarts };
        }
        this.restarts += 1;
        return {
            restart: true,
            delayMs: backoffDelay(this.restarts, this.options),
            attempt: this.restarts,
            of: this.options.maxRestarts,
        };
    }

    /** The user restarted or changed the setup: a new streak. */
    reset(): void {
        this.restarts = 0;
        this.runningSince = undefined;
    }
}

/** Keeps the last `maxLines` lines of a stream (the server's stderr) for crash messages. */
export class TailBuffer {
    private lines: string[] = [];
    private partial = "";

    constructor(private readonly maxLines = 20) {}

    push(chunk: string): void {
        const parts = (this.partial + chunk).split(/\r?\n/);
        this.partial = parts.pop() ?? "";
        this.lines.push(...parts.filter((line) => line.trim() !== ""));
        if (this.lines.length > this.maxLines) {
            this.lines = this.lines.slice(-this.maxLines);
        }
    }

    text(): string {
        const all = this.partial.trim() === "" ? this.lines : [...this.lines, this.partial];
        return all.slice(-this.maxLines).join("\n");
    }

    lastLine(): string | undefined {
        if (this.partial.trim() !== "") {
            return this.partial.trim();
        }
        return this.lines[this.lines.length - 1]?.trim();
    }
}

export interface ExitInfo {
    readonly code: number | null;
    readonly signal: string | null;
}

/** One sentence on how the server went away, for notifications. */
export function describeExit(
    phase: "start" | "running",
    exit: ExitInfo | undefined,
    lastStderrLine: string | undefined,
): string {
    const when = phase === "start" ? "exited while starting" : "stopped unexpectedly";
    let how = "";
    if (exit?.code !== null && exit?.code !== undefined) {
        how = ` (exit code ${exit.code})`;
    } else if (exit?.signal) {
        how = ` (signal ${exit.signal})`;
    }
    const tail = lastStderrLine ? `: ${truncate(lastStderrLine, 200)}` : "";
    return `The dspy-lsp server ${when}${how}${tail}`;
}

function truncate(text: string, max: number): string {
    return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
