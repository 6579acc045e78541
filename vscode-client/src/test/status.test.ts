import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
    formatClientState,
    formatCost,
    formatCount,
    formatStatus,
    parseStatus,
    RESTRICTED_TEXT,
    statusLines,
    summarizeFileAnalysis,
    summarizeWorkspaceAnalysis,
} from "../status";

/**
 * `dspy-lsp.status` as the server answers it (`LmReport` in server/lsp/results.py, its `stats`
 * from `LmTier.status`): every field, as lsprotocol's converter puts it on the wire.
 */
function serverStatus(state: string, stats: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): unknown {
    return {
        state,
        model: state === "none" ? null : "openai/gpt-4o-mini",
        detail: state === "none" ? "no LM configured (set lm.model)" : state === "ready" ? "ready" : "circuit open after 3 failures: timeout",
        stats: {
            calls: 0, failures: 0, cache_hits: 0, cache_misses: 0, prompt_tokens: 0, completion_tokens: 0,
            cost_usd: 0, dropped_claims: 0, unparsable_replies: 0, truncated_replies: 0, too_long_to_repair: 0,
            last_error: "", cache_hit_rate: 0, versions: {}, artifact_problems: [],
            ...stats,
        },
        pending_jobs: 0,
        refused_jobs: 0,
        waiting_jobs: 0,
        cache: { hits: 0, misses: 0, entries: 0, path: "/home/me/.cache/dspy-lsp/lm-cache.sqlite3", degraded_reason: null },
        off_reason: null,
        ...extra,
    };
}

function format(raw: unknown, restricted = false): ReturnType<typeof formatStatus> {
    const status = parseStatus(raw);
    assert.ok(status);
    return formatStatus(status, { restricted });
}

describe("the language status", () => {
    it("shows the LM state, tokens, cost and the active program versions of a working LM", () => {
        const view = format(
            serverStatus(
                "ready",
                {
                    calls: 14, prompt_tokens: 9_000, completion_tokens: 3_400, cost_usd: 0.0312, cache_hits: 3, cache_misses: 14,
                    cache_hit_rate: 0.176, versions: { analyze: "analyze@3fa2c0e1d2b4", plan: "plan@9b1e07c4d2aa" },
                },
                { pending_jobs: 2 },
            ),
        );
        assert.equal(view.text, "$(check) LM ready · 12.4k tok · $0.03");
        assert.equal(view.detail, "openai/gpt-4o-mini · analyze@3fa2c0e1d2b4, plan@9b1e07c4d2aa · 2 queued");
        assert.equal(view.severity, "information");
        assert.equal(view.busy, false);
    });

    it("shows tokens alone while the endpoint reports no cost (a local model)", () => {
        assert.equal(format(serverStatus("ready", { prompt_tokens: 900, completion_tokens: 100 })).text, "$(check) LM ready · 1k tok");
    });

    it("shows nothing about usage before the first call", () => {
        const view = format(serverStatus("ready"));
        assert.equal(view.text, "$(check) LM ready");
        assert.equal(view.detail, "openai/gpt-4o-mini");
    });

    it("says rules only, and how to get an LM, when none is configured", () => {
        const view = format(serverStatus("none"));
        assert.equal(view.text, "$(circle-slash) Rules only");
        assert.equal(view.detail, "no LM configured (set dspy-lsp.lm.model)");
        assert.equal(view.severity, "information");
    });

    it("warns while the circuit is open, with the server's reason", () => {
        const view = format(serverStatus("circuit_open", { failures: 3, prompt_tokens: 2_000 }));
        assert.equal(view.text, "$(warning) LM circuit open · 2k tok");
        assert.equal(view.severity, "warning");
        assert.match(view.detail, /circuit open after 3 failures: timeout/);
    });

    it("warns when the server refused a program artifact", () => {
        const view = format(serverStatus("ready", { artifact_problems: ["analyze@3fa2: refused: bad state; using analyze@0000"] }));
        assert.equal(view.severity, "warning");
        assert.match(view.detail, /1 program artifact refused/);
    });

    it("says why the LM tier is off in Restricted Mode, and how to turn it on", () => {
        const view = format(serverStatus("none", {}, { off_reason: "the editor window is in Restricted Mode (an untrusted workspace)" }), true);
        assert.equal(view.text, "$(shield) Rules only (Restricted Mode)");
        assert.match(view.detail, /trust this workspace/);
        assert.equal(RESTRICTED_TEXT, "dspy-lsp: LM tier off in Restricted Mode — trust this workspace to enable it");
    });

    it("gives the server's reason the LM is off when the window does not know it", () => {
        const view = format(serverStatus("none", {}, { off_reason: "the editor window is in Restricted Mode (an untrusted workspace)" }));
        assert.equal(view.detail, "the editor window is in Restricted Mode (an untrusted workspace)");
    });

    it("does not hide a running LM behind the Restricted Mode text", () => {
        assert.equal(format(serverStatus("ready"), true).text, "$(check) LM ready");
    });

    it("shows an unknown state as an error rather than hiding it", () => {
        const view = format(serverStatus("error"));
        assert.equal(view.text, "$(error) LM error");
        assert.equal(view.severity, "error");
    });

    it("lists every field for Show Status", () => {
        const status = parseStatus(serverStatus("ready", { calls: 3, failures: 1, prompt_tokens: 9_000, completion_tokens: 3_400, cache_hits: 3, cache_misses: 1, cache_hit_rate: 0.75, versions: { analyze: "analyze@3fa2c0e1d2b4" } }));
        assert.ok(status);
        assert.deepEqual(statusLines(status), [
            "LM: openai/gpt-4o-mini",
            "State: ready",
            "Calls: 3 (1 failed)",
            "Tokens: 9k prompt, 3.4k completion",
            "Cost: $0",
            "Cache: 3 hits, 1 misses (75%)",
            "Queued documents: 0",
            "Programs: analyze@3fa2c0e1d2b4",
        ]);
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
    it("describes starting (busy), restarting, stopped and unavailable", () => {
        const starting = formatClientState({ kind: "starting" });
        assert.equal(starting.text, "$(sync~spin) Starting");
        assert.equal(starting.busy, true);
        assert.match(formatClientState({ kind: "starting", detail: "installing the bundled dspy-lsp" }).detail, /installing/);
        const restarting = formatClientState({ kind: "restarting", inMs: 2000, attempt: 2, of: 5 });
        assert.equal(restarting.text, "$(sync~spin) Restarting (2/5)");
        assert.match(restarting.detail, /restarting in 2 s/);
        const stopped = formatClientState({ kind: "stopped", reason: "exit code 1" });
        assert.equal(stopped.severity, "error");
        assert.equal(stopped.detail, "exit code 1");
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
