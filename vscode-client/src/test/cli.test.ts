/** The terminal commands: what `programs list` and `optimize` are told, above all the editor's LM. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cliArgs, cliContext } from "../cli";

const CLI = ["-P", "-m", "dspy_lsp.server.cli"];

/** `dspy-lsp.debugInfo` as the server answers it: `settings` is its settings model as JSON. */
function debugInfo(lm: Record<string, unknown>, feedbackPath: string | null = null): unknown {
    return {
        version: "0.1.0",
        settings: {
            select: ["DL"],
            lm: { model: null, api_base: null, api_key_env: null, temperature: 0, programs_dir: null, ...lm },
            feedback: { enabled: true, path: feedbackPath },
            learn: { optimizer: "bootstrap", budget: 8 },
        },
    };
}

/** The value after `flag` in `args`, or `undefined`. */
function option(args: readonly string[], flag: string): string | undefined {
    const at = args.indexOf(flag);
    return at < 0 ? undefined : args[at + 1];
}

describe("optimize's command line", () => {
    it("passes the editor's LM settings as --lm, --api-base and --api-key-env", () => {
        const editor = { "lm.model": "openai/qwen2.5-coder", "lm.apiBase": "http://127.0.0.1:8099/v1", "lm.apiKeyEnv": "LOCAL_KEY" };
        const args = cliArgs("optimize", cliContext({ workspace: "/ws", editor, platform: "linux" }));
        assert.deepEqual(args.slice(0, 4), [...CLI, "optimize"]);
        assert.equal(option(args, "--workspace"), "/ws");
        assert.equal(option(args, "--lm"), "openai/qwen2.5-coder");
        assert.equal(option(args, "--api-base"), "http://127.0.0.1:8099/v1");
        assert.equal(option(args, "--api-key-env"), "LOCAL_KEY");
    });

    it("passes the editor's learning choices as the run's flags", () => {
        const editor = { "lm.model": "openai/gpt-4o-mini", "learn.optimizer": "gepa", "learn.budget": 3, "learn.maxRequests": 200, "learn.maxTokens": 50_000 };
        const args = cliArgs("optimize", cliContext({ editor, platform: "linux" }));
        assert.equal(option(args, "--optimizer"), "gepa");
        assert.equal(option(args, "--budget"), "3");
        assert.equal(option(args, "--max-requests"), "200");
        assert.equal(option(args, "--max-tokens"), "50000");
    });

    it("takes the LM the server resolved when the editor names none for the folder", () => {
        const info = debugInfo({ model: "ollama_chat/llama3.2", api_base: "http://127.0.0.1:11434", api_key_env: null });
        const context = cliContext({ workspace: "/ws", editor: {}, debugInfo: info, platform: "linux" });
        assert.deepEqual(context.lm, { model: "ollama_chat/llama3.2", apiBase: "http://127.0.0.1:11434" });
        const args = cliArgs("optimize", context);
        assert.equal(option(args, "--lm"), "ollama_chat/llama3.2");
        assert.equal(option(args, "--api-base"), "http://127.0.0.1:11434");
        assert.equal(args.includes("--api-key-env"), false);
    });

    it("keeps the editor's connection whole: its model never goes out with the server's endpoint", () => {
        const info = debugInfo({ model: "openai/server-model", api_base: "http://server/v1", api_key_env: "SERVER_KEY" });
        const context = cliContext({ editor: { "lm.model": "anthropic/claude-3-5-haiku" }, debugInfo: info, platform: "linux" });
        assert.deepEqual(context.lm, { model: "anthropic/claude-3-5-haiku" });
    });

    it("hands the server's resolved settings over whole with --settings-json", () => {
        const info = debugInfo({ model: "openai/gpt-4o-mini", temperature: 0.3 });
        const args = cliArgs("optimize", cliContext({ editor: {}, debugInfo: info, platform: "linux" }));
        const handed = JSON.parse(option(args, "--settings-json") ?? "null") as { lm: { temperature: number; model: string } };
        assert.equal(handed.lm.temperature, 0.3);
        assert.equal(handed.lm.model, "openai/gpt-4o-mini");
    });

    it("has no LM to pass when neither the editor nor the server has a model", () => {
        const context = cliContext({ editor: { "lm.apiBase": "http://x/v1", "lm.model": "  " }, debugInfo: debugInfo({}), platform: "linux" });
        assert.equal(context.lm, undefined);
        assert.equal(cliArgs("optimize", context).includes("--lm"), false);
    });

    it("passes the registry and feedback store, absolute paths only, the editor's before the server's", () => {
        const info = debugInfo({ programs_dir: "/srv/programs" }, "relative.sqlite3");
        assert.deepEqual(
            [cliContext({ editor: {}, debugInfo: info, platform: "linux" }).programsDir, cliContext({ editor: {}, debugInfo: info, platform: "linux" }).store],
            ["/srv/programs", undefined],
        );
        const editor = { "lm.programsDir": "/mine/programs", "feedback.path": "/mine/feedback.sqlite3" };
        const context = cliContext({ editor, debugInfo: info, platform: "linux" });
        assert.equal(context.programsDir, "/mine/programs");
        assert.equal(context.store, "/mine/feedback.sqlite3");
        assert.equal(cliContext({ editor: { "lm.programsDir": "programs" }, platform: "linux" }).programsDir, undefined);
    });
});

describe("programs list's command line", () => {
    it("runs through the CLI module with the registry only", () => {
        assert.deepEqual(cliArgs("programs-list"), [...CLI, "programs", "list"]);
        const context = cliContext({ workspace: "/ws", editor: { "lm.model": "m" }, debugInfo: debugInfo({ programs_dir: "/data/programs" }), platform: "linux" });
        assert.deepEqual(cliArgs("programs-list", context), [...CLI, "programs", "list", "--programs-dir", "/data/programs"]);
    });
});
