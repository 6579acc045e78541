/**
 * What the status bar item says. Pure: it turns the result of the server's `dspy-lsp.status`
 * command (or the client's own state) into text, tooltip and a severity.
 */

export interface LmStats {
    readonly calls: number;
    readonly failures: number;
    readonly cacheHits: number;
    readonly cacheMisses: number;
    readonly promptTokens: number;
    readonly completionTokens: number;
    readonly costUsd: number;
    readonly cacheHitRate: number;
}

export interface LmStatus {
    readonly state: string;
    readonly model: string | null;
    readonly detail: string;
    readonly stats: LmStats;
    readonly pendingJobs: number;
}

export type Severity = "ok" | "warning" | "error" | "inactive";

export interface StatusView {
    readonly text: string;
    readonly tooltip: string;
    readonly severity: Severity;
}

export type ClientState =
    | { readonly kind: "starting" }
    | { readonly kind: "restarting"; readonly inMs: number; readonly attempt: number; readonly of: number }
    | { readonly kind: "stopped"; readonly reason: string }
    | { readonly kind: "unavailable"; readonly reason: string };

/** Reads the JSON the server returned; `undefined` when it is not a status object. */
export function parseStatus(raw: unknown): LmStatus | undefined {
    if (!isRecord(raw) || typeof raw.state !== "string") {
        return undefined;
    }
    const stats = isRecord(raw.stats) ? raw.stats : {};
    return {
        state: raw.state,
        model: typeof raw.model === "string" ? raw.model : null,
        detail: typeof raw.detail === "string" ? raw.detail : "",
        pendingJobs: num(raw.pending_jobs),
        stats: {
            calls: num(stats.calls),
            failures: num(stats.failures),
            cacheHits: num(stats.cache_hits),
            cacheMisses: num(stats.cache_misses),
            promptTokens: num(stats.prompt_tokens),
            completionTokens: num(stats.completion_tokens),
            costUsd: num(stats.cost_usd),
            cacheHitRate: num(stats.cache_hit_rate),
        },
    };
}

/** The status bar text of a window in Restricted Mode, where the server has no LM tier. */
export const RESTRICTED_TEXT = "dspy-lsp: LM tier off in Restricted Mode — trust this workspace to enable it";

export const RESTRICTED_TOOLTIP = [
    "LM tier: off, because this workspace is not trusted (Restricted Mode)",
    "The rules run; learning is off, and the workspace's LM, path and interpreter settings are ignored",
    "Trust the workspace to enable the LM tier (the server then restarts)",
    "Click to manage workspace trust.",
].join("\n");

export interface FormatOptions {
    /** The window is in Restricted Mode (the client sent `restrictedMode: true`). */
    readonly restricted?: boolean;
}

export function formatStatus(status: LmStatus, options: FormatOptions = {}): StatusView {
    if (options.restricted && status.state === "none") {
        return { text: `$(shield) ${RESTRICTED_TEXT}`, tooltip: RESTRICTED_TOOLTIP, severity: "inactive" };
    }
    const usage = formatUsage(status.stats);
    const queued = status.pendingJobs > 0 ? ` · ${status.pendingJobs} queued` : "";
    const tooltip = tooltipLines(status).join("\n");
    switch (status.state) {
        case "ready":
            return {
                text: `$(check) dspy-lsp: LM ready${usage ? ` · ${usage}` : ""}${queued}`,
                tooltip,
                severity: "ok",
            };
        case "none":
            return { text: "$(circle-slash) dspy-lsp: rules only", tooltip, severity: "inactive" };
        case "circuit_open":
            return {
                text: `$(warning) dspy-lsp: LM circuit open${usage ? ` · ${usage}` : ""}`,
                tooltip,
                severity: "warning",
            };
        default:
            return { text: `$(error) dspy-lsp: LM ${status.state}`, tooltip, severity: "error" };
    }
}

export function formatClientState(state: ClientState): StatusView {
    switch (state.kind) {
        case "starting":
            return { text: "$(sync~spin) dspy-lsp: starting", tooltip: "Starting the dspy-lsp server", severity: "inactive" };
        case "restarting":
            return {
                text: `$(sync~spin) dspy-lsp: restarting (${state.attempt}/${state.of})`,
                tooltip: `The server stopped; restarting in ${formatSeconds(state.inMs)}. Click for details.`,
                severity: "warning",
            };
        case "stopped":
            return { text: "$(error) dspy-lsp: stopped", tooltip: `${state.reason}\nClick to restart.`, severity: "error" };
        case "unavailable":
            return { text: "$(question) dspy-lsp: status unavailable", tooltip: state.reason, severity: "warning" };
    }
}

/** Cost when the model reports one, otherwise tokens; empty before the first call. */
export function formatUsage(stats: LmStats): string {
    if (stats.costUsd > 0) {
        return formatCost(stats.costUsd);
    }
    const tokens = stats.promptTokens + stats.completionTokens;
    return tokens > 0 ? `${formatCount(tokens)} tok` : "";
}

export function formatCount(n: number): string {
    if (n < 1_000) {
        return String(Math.round(n));
    }
    if (n < 999_500) {
        return `${trim(n / 1_000)}k`;
    }
    return `${trim(n / 1_000_000)}M`;
}

export function formatCost(usd: number): string {
    if (usd <= 0) {
        return "$0";
    }
    if (usd < 0.01) {
        return `$${usd.toPrecision(2)}`;
    }
    return `$${usd.toFixed(2)}`;
}

function tooltipLines(status: LmStatus): string[] {
    const s = status.stats;
    const lines = [
        `LM: ${status.model ?? "none configured (set dspy-lsp.lm.model or lm.model in pyproject.toml)"}`,
        `State: ${status.state}${status.detail && status.detail !== status.state ? ` — ${status.detail}` : ""}`,
    ];
    if (status.state !== "none") {
        lines.push(
            `Calls: ${s.calls} (${s.failures} failed)`,
            `Tokens: ${formatCount(s.promptTokens)} prompt, ${formatCount(s.completionTokens)} completion`,
            `Cost: ${formatCost(s.costUsd)}`,
            `Cache: ${s.cacheHits} hits, ${s.cacheMisses} misses (${Math.round(s.cacheHitRate * 100)}%)`,
            `Queued documents: ${status.pendingJobs}`,
        );
    }
    lines.push("Click for details.");
    return lines;
}

function trim(value: number): string {
    return value >= 100 ? String(Math.round(value)) : value.toFixed(1).replace(/\.0$/, "");
}

function formatSeconds(ms: number): string {
    return `${Math.round(ms / 100) / 10} s`;
}

function num(value: unknown): number {
    return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One line for the result of `dspy-lsp.analyzeFile`. */
export function summarizeFileAnalysis(raw: unknown, fileName: string): string {
    if (!isRecord(raw)) {
        return `dspy-lsp analysed ${fileName}.`;
    }
    const findings = num(raw.findings);
    const fromLm = num(raw.lm_findings);
    const lm = typeof raw.lm === "string" ? raw.lm : "unknown";
    const lmPart = lm === "none" ? "no LM configured" : `${fromLm} from the LM (LM ${lm.replace("_", " ")})`;
    return `dspy-lsp: ${plural(findings, "finding")} in ${fileName}, ${lmPart}.`;
}

/** One line for the result of `dspy-lsp.analyzeWorkspace`. */
export function summarizeWorkspaceAnalysis(raw: unknown): string {
    if (!isRecord(raw)) {
        return "dspy-lsp analysed the workspace.";
    }
    const parts = [
        `${plural(num(raw.files), "file")} analysed`,
        `${plural(num(raw.findings), "finding")} (${num(raw.lm_findings)} from the LM)`,
    ];
    if (num(raw.skipped) > 0) {
        parts.push(`${num(raw.skipped)} skipped`);
    }
    if (num(raw.lm_failures) > 0) {
        parts.push(`LM unavailable for ${plural(num(raw.lm_failures), "file")}`);
    }
    const prefix = raw.cancelled === true ? "dspy-lsp (cancelled): " : "dspy-lsp: ";
    return `${prefix}${parts.join(", ")}.`;
}

function plural(n: number, noun: string): string {
    return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
