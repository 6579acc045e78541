/**
 * Where the extension's Python processes run, and running a short-lived one (the import check,
 * pip) to collect its outcome. No vscode import.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import type { ProcessOutcome } from "./interpreter";

/** Path functions of `platform` (default: this machine's), so Windows paths are tested anywhere. */
export function pathApi(platform: string = process.platform): path.PlatformPath {
    return platform === "win32" ? path.win32 : path.posix;
}

/**
 * Whether `child` is `parent` or below it, compared lexically after normalisation (no file
 * system access); without case on Windows and macOS, whose file systems usually ignore it.
 */
export function isInside(child: string, parent: string, platform: string = process.platform): boolean {
    const paths = pathApi(platform);
    const fold = platform === "win32" || platform === "darwin" ? (p: string) => p.toLowerCase() : (p: string) => p;
    const relative = paths.relative(fold(paths.resolve(parent)), fold(paths.resolve(child)));
    return relative === "" || (!relative.startsWith("..") && !paths.isAbsolute(relative));
}

export interface WorkingDirectoryOptions {
    readonly platform?: string;
    /** Whether a candidate exists as a directory; by default every candidate is taken to. */
    readonly isDirectory?: (candidate: string) => boolean;
}

/**
 * The working directory of every Python process the extension starts: the first candidate (the
 * extension's global storage, then the system's temporary directory) that is an absolute
 * directory outside every workspace folder. Nothing of the workspace is then on `sys.path` or
 * under a relative path, whatever the interpreter does with its current directory. If every
 * candidate lies in a workspace folder (someone opened their home or /tmp), the file-system root
 * of the last one.
 */
export function safeWorkingDirectory(
    candidates: readonly (string | undefined)[],
    workspaceFolders: readonly string[],
    options: WorkingDirectoryOptions = {},
): string {
    const paths = pathApi(options.platform);
    const usable = candidates.filter((c): c is string => c !== undefined && c !== "" && paths.isAbsolute(c));
    for (const candidate of usable) {
        const inWorkspace = workspaceFolders.some((folder) => isInside(candidate, folder, options.platform));
        if (!inWorkspace && (options.isDirectory?.(candidate) ?? true)) {
            return paths.normalize(candidate);
        }
    }
    const last = usable[usable.length - 1];
    return last === undefined ? paths.parse(paths.resolve(".")).root : paths.parse(last).root;
}

export interface RunOptions {
    /** Always given: see `safeWorkingDirectory`. */
    readonly cwd: string;
    readonly timeoutMs?: number;
    /** Receives stdout and stderr as they arrive. */
    readonly onOutput?: (chunk: string) => void;
}

export function runProcess(command: string, args: readonly string[], options: RunOptions): Promise<ProcessOutcome> {
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
