/**
 * "Show Dashboard": one `dspy-lsp dashboard --port 0` process per window, started with the
 * server's Python, its URL read from the first line it prints, killed with the window. No
 * vscode import: the process is spawned through an injectable function so tests use a fake.
 */
import { spawn } from "node:child_process";
import { PYTHON_FLAGS } from "./interpreter";

/** `python -P -m dspy_lsp dashboard --port 0`: any free port on 127.0.0.1. */
export function dashboardArgs(): string[] {
    return [...PYTHON_FLAGS, "-m", "dspy_lsp", "dashboard", "--port", "0"];
}

const URL_LINE = /^dspy-lsp dashboard: (http:\/\/127\.0\.0\.1:\d{1,5}\/)$/;

/** The URL in the line the dashboard prints first, or `undefined` for any other line. */
export function parseDashboardLine(line: string): string | undefined {
    return URL_LINE.exec(line.trim())?.[1];
}

/** What the manager needs of a child process (a subset of node's `ChildProcess`). */
export interface DashboardChild {
    readonly stdout: NodeJS.ReadableStream | null;
    readonly stderr: NodeJS.ReadableStream | null;
    readonly exitCode: number | null;
    readonly signalCode: NodeJS.Signals | null;
    kill(): boolean;
    on(event: "exit", listener: (code: number | null) => void): this;
    on(event: "error", listener: (error: Error) => void): this;
}

export type SpawnDashboard = (python: string, args: readonly string[], cwd: string) => DashboardChild;

const spawnProcess: SpawnDashboard = (python, args, cwd) =>
    spawn(python, [...args], { cwd, env: process.env, stdio: ["ignore", "pipe", "pipe"], windowsHide: true });

export class DashboardError extends Error {}

/** How long the dashboard may take to print its URL (importing the web stack takes a while). */
export const START_TIMEOUT_MS = 30_000;

interface Running {
    readonly python: string;
    readonly child: DashboardChild;
    readonly url: Promise<string>;
}

export class DashboardProcess {
    private running: Running | undefined;

    constructor(
        private readonly options: {
            readonly spawn?: SpawnDashboard;
            /** Receives what the process writes to stderr (its log). */
            readonly onOutput?: (chunk: string) => void;
            readonly timeoutMs?: number;
        } = {},
    ) {}

    /**
     * The dashboard's URL: from the running process when it was started with `python` and is
     * still alive, else from a new one (a process of another Python is stopped first). Rejects
     * with a `DashboardError` when the process exits, prints something else first, or is silent
     * for `timeoutMs`.
     */
    url(python: string, cwd: string): Promise<string> {
        const running = this.running;
        if (running !== undefined && running.python === python && alive(running.child)) {
            return running.url;
        }
        this.dispose();
        const child = (this.options.spawn ?? spawnProcess)(python, dashboardArgs(), cwd);
        const url = firstLine(child, this.options.timeoutMs ?? START_TIMEOUT_MS, this.options.onOutput);
        const started: Running = { python, child, url };
        this.running = started;
        url.catch(() => {
            if (this.running === started) {
                this.dispose();
            }
        });
        return url;
    }

    /** Whether a dashboard process is running. */
    get started(): boolean {
        return this.running !== undefined && alive(this.running.child);
    }

    dispose(): void {
        const running = this.running;
        this.running = undefined;
        if (running !== undefined && alive(running.child)) {
            running.child.kill();
        }
    }
}

function alive(child: DashboardChild): boolean {
    return child.exitCode === null && child.signalCode === null;
}

function firstLine(child: DashboardChild, timeoutMs: number, onOutput?: (chunk: string) => void): Promise<string> {
    return new Promise<string>((resolve, reject) => {
        let stdout = "";
        let stderr = "";
        let settled = false;
        const settle = (outcome: () => void): void => {
            if (!settled) {
                settled = true;
                clearTimeout(timer);
                outcome();
            }
        };
        const fail = (why: string): void => {
            const tail = stderr.trim().split("\n").slice(-3).join(" ");
            settle(() => reject(new DashboardError(tail ? `${why}: ${tail}` : why)));
        };
        const timer = setTimeout(() => {
            fail(`the dashboard printed no URL within ${Math.round(timeoutMs / 1000)} s`);
            child.kill();
        }, timeoutMs);
        child.stdout?.setEncoding("utf8");
        child.stdout?.on("data", (chunk: string) => {
            if (settled) {
                return; // read on, so that a full pipe never blocks the process
            }
            stdout += chunk;
            const end = stdout.indexOf("\n");
            if (end < 0) {
                return;
            }
            const line = stdout.slice(0, end);
            const url = parseDashboardLine(line);
            if (url !== undefined) {
                settle(() => resolve(url));
            } else {
                fail(`the dashboard printed ${JSON.stringify(line.slice(0, 200))} instead of its URL`);
                child.kill();
            }
        });
        child.stderr?.setEncoding("utf8");
        child.stderr?.on("data", (chunk: string) => {
            stderr = (stderr + chunk).slice(-4_000);
            onOutput?.(chunk);
        });
        child.on("error", (error) => fail(`cannot start the dashboard: ${error.message}`));
        child.on("exit", (code) => fail(`the dashboard exited (code ${String(code)}) before printing its URL`));
    });
}
