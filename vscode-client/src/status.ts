/**
 * What the language status item says. Pure: it turns the result of the server's
 * `dspy-lsp.status` command (`LmReport`, server/lsp/results.py) or the client's own state into
 * a text, a detail line and a severity.
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
    /** The active program per kind (`analyze` -> `analyze@3fa2c0e1d2b4`), once the LM tier loaded them. */
    readonly versions: Readonly<Record<string, string>>;
    /** Program artifacts the server refused (it serves another version of that kind instead). */
    readonly artifactProblems: readonly string[];
    /** Why the LM tier is off whatever the settings say (Restricted Mode), or `null`. */
    readonly offReason: string | null;
}

export type Severity = "information" | "warning" | "error";

export interface StatusView {
    /** Short: the item's text, with a codicon. */
    readonly text: string;
    /** One line under it: the model, the program versions, the queue, or what went wrong. */
    readonly detail: string;
    readonly severity: Severity;
    /** Shown as busy (the server is starting or installing). */
    readonly busy: boolean;
}

export type ClientState =
    | { readonly kind: "starting"; readonly detail?: string }
    | { readonly kind: "restarting"; readonly inMs: number; readonly attempt: number; readonly of: number }
    | { readonly kind: "stopped"; readonly reason: string }
    | { readonly kind: "unavailable"; readonly reason: string };

/** Reads the JSON the server returned; `undefined` when it is not a status object. */
export function parseStatus(raw: unknown): LmStatus | undefined {
    if (!isRecord(raw) || typeof raw.state !== "string") {
        return undefined;
    }
    const stats = isRecord(raw.stats) ? raw.stats : {};
    const versions = isRecord(stats.versions) ? stats.versions : {};
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
        versions: Object.fromEntries(Object.entries(versions).filter((e): e is [string, string] => typeof e[1] === "string")),
        artifactProblems: Array.isArray(stats.artifact_problems)
            ? stats.artifact_problems.filter((p): p is string => typeof p === "string")
            : [],
        offReason: typeof raw.off_reason === "string" ? raw.off_reason : null,
    };
}

/** What the window says in Restricted Mode, where the server has no LM tier. */
export const RESTRICTED_TEXT = "dspy-lsp: LM tier off in Restricted Mode — trust this workspace to enable it";

export interface FormatOptions {
    /** The window is in Restricted Mode (the client sent `restrictedMode: true`). */
    readonly restricted?: boolean;
}

export function formatStatus(status: LmStatus, options: FormatOptions = {}): StatusView {
    if (options.restricted && status.state === "none") {
        return {
            text: "$(shield) Rules only (Restricted Mode)",
            detail: "the LM tier is off until you trust this workspace",
            severity: "information",
            busy: false,
        };
    }
    const usage = formatUsage(status.stats);
    const withUsage = (text: string): string => (usage ? `${text} · ${usage}` : text);
    const refused = status.artifactProblems.length > 0;
    switch (status.state) {
        case "ready":
            return { text: withUsage("$(check) LM ready"), detail: detailLine(status), severity: refused ? "warning" : "information", busy: false };
        case "none":
            return { text: "$(circle-slash) Rules only", detail: detailLine(status), severity: "information", busy: false };
        case "circuit_open":
            return { text: withUsage("$(warning) LM circuit open"), detail: detailLine(status), severity: "warning", busy: false };
        default:
            return { text: `$(error) LM ${status.state}`, detail: detailLine(status), severity: "error", busy: false };
    }
}

/** The model (or why there is none), the active program versions, the queue and any trouble. */
function detailLine(status: LmStatus): string {
    const parts: string[] = [];
    if (status.state === "none") {
        parts.push(status.offReason ?? "no LM configured (set dspy-lsp.lm.model)");
    } else {
        parts.push(status.model ?? "LM");
    }
    const versions = Object.values(status.versions);
    if (versions.length > 0) {
        parts.push(versions.join(", "));
    }
    if (status.pendingJobs > 0) {
        parts.push(`${status.pendingJobs} queued`);
    }
    if (status.state === "circuit_open" && status.detail) {
        parts.push(status.detail);
    }
    if (status.artifactProblems.length > 0) {
        parts.push(`${plural(status.artifactProblems.length, "program artifact")} refused`);
    }
    return parts.join(" · ");
}

export function formatClientState(state: ClientState): StatusView {
    switch (state.kind) {
        case "starting":
            return { text: "$(sync~spin) Starting", detail: state.detail ?? "starting the dspy-lsp server", severity: "information", busy: true };
        case "restarting":
            return {
                text: `$(sync~spin) Restarting (${state.attempt}/${state.of})`,
                detail: `the server stopped; restarting in ${formatSeconds(state.inMs)}`,
                severity: "warning",
                busy: true,
            };
        case "stopped":
            return { text: "$(error) Stopped", detail: state.reason, severity: "error", busy: false };
        case "unavailable":
            return { text: "$(question) Status unavailable", detail: state.reason, severity: "warning", busy: false };
    }
}

/** Tokens, and the cost once the model reports one; empty before the first call. */
export function formatUsage(stats: LmStats): string {
    const tokens = stats.promptTokens + stats.completionTokens;
    const parts = tokens > 0 ? [`${formatCount(tokens)} tok`] : [];
    if (stats.costUsd > 0) {
        parts.push(formatCost(stats.costUsd));
    }
    return parts.join(" · ");
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

/** Every field a person asks about, one line each (Show Status prints them). */
export function statusLines(status: LmStatus): string[] {
    const s = status.stats;
    const lines = [
        `LM: ${status.model ?? "none configured (set dspy-lsp.lm.model or lm.model in pyproject.toml)"}`,
        `State: ${status.state}${status.detail && status.detail !== status.state ? ` — ${status.detail}` : ""}`,
    ];
    if (status.offReason) {
        lines.push(`Off: ${status.offReason}`);
    }
    if (status.state !== "none") {
        lines.push(
            `Calls: ${s.calls} (${s.failures} failed)`,
            `Tokens: ${formatCount(s.promptTokens)} prompt, ${formatCount(s.completionTokens)} completion`,
            `Cost: ${formatCost(s.costUsd)}`,
            `Cache: ${s.cacheHits} hits, ${s.cacheMisses} misses (${Math.round(s.cacheHitRate * 100)}%)`,
            `Queued documents: ${status.pendingJobs}`,
        );
    }
    const versions = Object.values(status.versions);
    if (versions.length > 0) {
        lines.push(`Programs: ${versions.join(", ")}`);
    }
    lines.push(...status.artifactProblems.map((p) => `Refused artifact: ${p}`));
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
