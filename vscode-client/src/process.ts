/** Running a short-lived process (the import check, pip) and collecting its outcome. No vscode import. */
import { spawn } from "node:child_process";
import type { ProcessOutcome } from "./interpreter";

export interface RunOptions {
    readonly cwd?: string;
    readonly timeoutMs?: number;
    /** Receives stdout and stderr as they arrive. */
    readonly onOutput?: (chunk: string) => void;
}

export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessOutcome> {
    return new Promise((resolve) => {
        let stderr = "";
        let timedOut = false;
        let settled = false;
        const finish = (outcome: ProcessOutcome): void => {
            if (!settled) {
                settled = true;
                clearTimeout(timer);
                resolve(outcome);
            }
        };
        const child = spawn(command, [...args], {
            cwd: options.cwd,
            stdio: ["ignore", "pipe", "pipe"],
            windowsHide: true,
        });
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill();
        }, options.timeoutMs ?? 60_000);
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => options.onOutput?.(chunk));
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
            stderr += chunk;
            if (stderr.length > 64_000) {
                stderr = stderr.slice(-32_000);
            }
            options.onOutput?.(chunk);
        });
        child.on("error", (error: NodeJS.ErrnoException) => {
            finish({ spawnError: error.code ?? error.message, exitCode: null, stderr });
        });
        child.on("close", (code) => {
            finish({ exitCode: code, stderr, timedOut });
        });
    });
}
