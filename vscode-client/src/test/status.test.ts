import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
    formatClientState,
    formatCost,
    formatCount,
    formatStatus,
    parseStatus,
    RESTRICTED_TEXT,
    summarizeFileAnalysis,
    summarizeWorkspaceAnalysis,
} from "../status";

/** The shape `dspy-lsp.status` returns (server/lsp.py lm_status). */
function serverStatus(state: string, stats: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): unknown {
    return {
        state,
        model: state === "none" ? null : "openai/gpt-4o-mini",
        detail: state === "none" ? "no LM configured (set lm.model)" : state === "ready" ? "ready" : "circuit open after 3 failures: timeout",
        stats: {
            calls: 0, failures: 0, cache_hits: 0, cache_misses: 0, prompt_tokens: 0, completion_tokens: 0,
            cost_usd: 0, dropped_claims: 0, last_error: "", cache_hit_rate: 0, versions: {}, artifact_problems: [],
            ...stats,
        },
        pending_jobs: 0,
        refused_jobs: 0,
        cache: { entries: 0 },
        ...extra,
    };
}

function format(raw: unknown): ReturnType<typeof formatStatus> {
    const status = parseStatus(raw);
    assert.ok(status);
    return formatStatus(status);
}

describe("formatStatus", () => {
    it("shows rules only when no LM is configured", () => {
        const view = format(serverStatus("none"));
        assert.equal(view.text, "$(circle-slash) dspy-lsp: rules only");
        assert.equal(view.severity, "inactive");
        assert.match(view.tooltip, /none configured/);
        assert.doesNotMatch(view.tooltip, /Calls:/);
    });

    it("shows a ready LM with its tokens before any cost is known", () => {
        const view = format(serverStatus("ready", { calls: 3, prompt_tokens: 9_000, completion_tokens: 3_400 }));
        assert.equal(view.text, "$(check) dspy-lsp: LM ready · 12.4k tok");
        assert.equal(view.severity, "ok");
        assert.match(view.tooltip, /LM: openai\/gpt-4o-mini/);
        assert.match(view.tooltip, /Tokens: 9k prompt, 3.4k completion/);
    });

    it("prefers the cost when the model reports one, and shows queued work", () => {
        const view = format(serverStatus("ready", { prompt_tokens: 10, cost_usd: 0.1234, cache_hits: 3, cache_misses: 1, cache_hit_rate: 0.75 }, { pending_jobs: 2 }));
        assert.equal(view.text, "$(check) dspy-lsp: LM ready · $0.12 · 2 queued");
        assert.match(view.tooltip, /Cache: 3 hits, 1 misses \(75%\)/);
    });

    it("shows nothing about usage before the first call", () => {
        assert.equal(format(serverStatus("ready")).text, "$(check) dspy-lsp: LM ready");
    });

    it("warns when the circuit is open", () => {
        const view = format(serverStatus("circuit_open", { failures: 3 }));
        assert.equal(view.text, "$(warning) dspy-lsp: LM circuit open");
        assert.equal(view.severity, "warning");
        assert.match(view.tooltip, /State: circuit_open — circuit open after 3 failures/);
    });

    it("says why the LM tier is off in Restricted Mode, and how to turn it on", () => {
        const status = parseStatus(serverStatus("none"));
        assert.ok(status);
        const view = formatStatus(status, { restricted: true });
        assert.equal(RESTRICTED_TEXT, "dspy-lsp: LM tier off in Restricted Mode — trust this workspace to enable it");
        assert.equal(view.text, `$(shield) ${RESTRICTED_TEXT}`);
        assert.equal(view.severity, "inactive");
        assert.match(view.tooltip, /not trusted/);
        assert.match(view.tooltip, /Trust the workspace/);
    });

    it("does not hide a running LM behind the Restricted Mode text", () => {
        const status = parseStatus(serverStatus("ready"));
        assert.ok(status);
        assert.equal(formatStatus(status, { restricted: true }).text, "$(check) dspy-lsp: LM ready");
    });

    it("shows an unknown state as an error rather than hiding it", () => {
        const view = format(serverStatus("error"));
        assert.equal(view.text, "$(error) dspy-lsp: LM error");
        assert.equal(view.severity, "error");
    });
});

describe("parseStatus", () => {
    it("rejects answers that are not a status", () => {
        assert.equal(parseStatus(undefined), undefined);
        assert.equal(parseStatus([]), undefined);
        assert.equal(parseStatus({ model: "x" }), undefined);
    });

    it("tolerates missing or odd fields", () => {
        const status = parseStatus({ state: "ready", stats: { calls: "many", prompt_tokens: 5 } });
        assert.ok(status);
        assert.equal(status.stats.calls, 0);
        assert.equal(status.stats.promptTokens, 5);
        assert.equal(status.model, null);
        assert.equal(status.pendingJobs, 0);
    });
});

describe("number formatting", () => {
    it("abbreviates counts", () => {
        assert.deepEqual([0, 999, 1_000, 12_345, 250_000, 999_999, 1_500_000].map(formatCount), [
            "0", "999", "1k", "12.3k", "250k", "1M", "1.5M",
        ]);
    });

    it("formats costs", () => {
        assert.deepEqual([0, 0.00042, 0.0099, 0.01, 1.5, 12.345].map(formatCost), [
            "$0", "$0.00042", "$0.0099", "$0.01", "$1.50", "$12.35",
        ]);
    });
});

describe("formatClientState", () => {
    it("describes starting, restarting, stopped and unavailable", () => {
        assert.equal(formatClientState({ kind: "starting" }).text, "$(sync~spin) dspy-lsp: starting");
        const restarting = formatClientState({ kind: "restarting", inMs: 2000, attempt: 2, of: 5 });
        assert.equal(restarting.text, "$(sync~spin) dspy-lsp: restarting (2/5)");
        assert.match(restarting.tooltip, /restarting in 2 s/);
        const stopped = formatClientState({ kind: "stopped", reason: "exit code 1" });
        assert.equal(stopped.severity, "error");
        assert.match(stopped.tooltip, /exit code 1\nClick to restart/);
        assert.equal(formatClientState({ kind: "unavailable", reason: "timeout" }).severity, "warning");
    });
});

describe("command summaries", () => {
    it("summarises analyzeFile", () => {
        assert.equal(
            summarizeFileAnalysis({ uri: "file:///a.py", status: "ok", findings: 3, lm_findings: 1, rules: [], lm: "circuit_open" }, "a.py"),
            "dspy-lsp: 3 findings in a.py, 1 from the LM (LM circuit open).",
        );
        assert.equal(summarizeFileAnalysis({ findings: 1, lm_findings: 0, lm: "none" }, "a.py"), "dspy-lsp: 1 finding in a.py, no LM configured.");
        assert.equal(summarizeFileAnalysis(null, "a.py"), "dspy-lsp analysed a.py.");
    });

    it("summarises analyzeWorkspace", () => {
        assert.equal(
            summarizeWorkspaceAnalysis({ files: 12, findings: 30, lm_findings: 4, lm_failures: 2, skipped: 1, total_files: 13, cancelled: false }),
            "dspy-lsp: 12 files analysed, 30 findings (4 from the LM), 1 skipped, LM unavailable for 2 files.",
        );
        assert.equal(
            summarizeWorkspaceAnalysis({ files: 1, findings: 0, lm_findings: 0, cancelled: true }),
            "dspy-lsp (cancelled): 1 file analysed, 0 findings (0 from the LM).",
        );
    });
});
