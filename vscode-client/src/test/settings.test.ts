import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
    camelToSnake,
    CLIENT_SETTINGS,
    sameSettings,
    SERVER_KEYS,
    SERVER_SETTINGS,
    toServerSettings,
    wrapSection,
} from "../settings";

describe("toServerSettings", () => {
    it("sends nothing when the user set nothing, so pyproject.toml keeps its say", () => {
        assert.deepEqual(toServerSettings({}), { settings: {}, problems: [] });
    });

    it("translates camelCase keys to the server's snake_case, nesting lm", () => {
        const { settings, problems } = toServerSettings({
            select: ["DL1"],
            ignore: ["DL115"],
            exclude: ["build/*"],
            debounceMs: 0,
            maxFileChars: 1000,
            "lm.model": "openai/gpt-4o-mini",
            "lm.apiBase": "http://127.0.0.1:8099/v1",
            "lm.apiKeyEnv": "MY_KEY",
            "lm.temperature": 0.2,
            "lm.maxTokens": 500,
            "lm.timeoutS": 12.5,
            "lm.maxConcurrency": 2,
            "lm.requestsPerMinute": 30,
            "lm.maxAttempts": 4,
            "lm.breakerFailures": 5,
            "lm.breakerResetS": 10,
            "lm.runOn": ["save", "command"],
            "lm.planAttempts": 2,
            "lm.cachePath": "/tmp/cache.sqlite3",
            "lm.programsDir": "/tmp/programs",
            "lm.maxQueue": 8,
        });
        assert.deepEqual(problems, []);
        assert.deepEqual(settings, {
            select: ["DL1"],
            ignore: ["DL115"],
            exclude: ["build/*"],
            debounce_ms: 0,
            max_file_chars: 1000,
            lm: {
                model: "openai/gpt-4o-mini",
                api_base: "http://127.0.0.1:8099/v1",
                api_key_env: "MY_KEY",
                temperature: 0.2,
                max_tokens: 500,
                timeout_s: 12.5,
                max_concurrency: 2,
                requests_per_minute: 30,
                max_attempts: 4,
                breaker_failures: 5,
                breaker_reset_s: 10,
                run_on: ["save", "command"],
                plan_attempts: 2,
                cache_path: "/tmp/cache.sqlite3",
                programs_dir: "/tmp/programs",
                max_queue: 8,
            },
        });
    });

    it("keeps falsy but explicit values (0, empty lists)", () => {
        const { settings } = toServerSettings({ debounceMs: 0, ignore: [], "lm.runOn": [], "lm.temperature": 0 });
        assert.deepEqual(settings, { debounce_ms: 0, ignore: [], lm: { run_on: [], temperature: 0 } });
    });

    it("treats null and empty strings as unset", () => {
        const { settings, problems } = toServerSettings({ "lm.model": null, "lm.apiBase": "  ", "lm.apiKeyEnv": undefined });
        assert.deepEqual(settings, {});
        assert.deepEqual(problems, []);
    });

    it("drops values of the wrong type and says which", () => {
        const { settings, problems } = toServerSettings({
            debounceMs: 1.5,
            maxFileChars: "big",
            select: "DL1",
            "lm.temperature": Number.NaN,
            "lm.model": 3,
        });
        assert.deepEqual(settings, {});
        assert.equal(problems.length, 5);
        assert.match(problems[0] ?? "", /^dspy-lsp\.select: expected a list of strings/);
        assert.ok(problems.some((p) => p.startsWith("dspy-lsp.debounceMs: expected an integer")));
        assert.ok(problems.some((p) => p.startsWith("dspy-lsp.lm.model: expected a string")));
    });

    it("keeps the strings of a mixed list and trims them", () => {
        const { settings, problems } = toServerSettings({ ignore: [" DL101 ", 7, "", "DL2"] });
        assert.deepEqual(settings, { ignore: ["DL101", "DL2"] });
        assert.deepEqual(problems, ["dspy-lsp.ignore: ignoring 7, not a string"]);
    });

    it("keeps known LM triggers only, once each", () => {
        const { settings, problems } = toServerSettings({ "lm.runOn": ["open", "keystroke", "open"] });
        assert.deepEqual(settings, { lm: { run_on: ["open"] } });
        assert.equal(problems.length, 1);
        assert.match(problems[0] ?? "", /unknown value "keystroke" \(use open, save or command\)/);
    });

    it("validates overrides entry by entry", () => {
        const { settings, problems } = toServerSettings({
            overrides: [
                { path: "tests/*", ignore: ["DL106"] },
                { select: ["DL1"] },
                "tests/*",
                { path: "docs/*", select: ["DL2", 1], extra: true },
            ],
        });
        assert.deepEqual(settings, {
            overrides: [
                { path: "tests/*", ignore: ["DL106"] },
                { path: "docs/*", select: ["DL2"] },
            ],
        });
        assert.equal(problems.length, 4);
        assert.ok(problems.every((p) => p.startsWith("dspy-lsp.overrides: [")));
    });

    it("sends feedback capture either way once the user set it", () => {
        assert.deepEqual(toServerSettings({ "feedback.enabled": false }).settings, { feedback: { enabled: false } });
        assert.deepEqual(toServerSettings({ "feedback.enabled": true }).settings, { feedback: { enabled: true } });
        assert.equal(toServerSettings({ "feedback.enabled": "yes" }).problems.length, 1);
        assert.deepEqual(toServerSettings({ "learn.minNewLabels": 5 }).settings, { learn: { min_new_labels: 5 } });
    });

    it("sends every learning setting, choices checked against the model's", () => {
        const { settings, problems } = toServerSettings({
            "learn.window": 30,
            "learn.optimizer": "gepa",
            "learn.budget": 4,
            "learn.maxRequests": 200,
            "learn.maxTokens": 50000,
        });
        assert.deepEqual(problems, []);
        assert.deepEqual(settings, {
            learn: { window: 30, optimizer: "gepa", budget: 4, max_requests: 200, max_tokens: 50000 },
        });
        const wrong = toServerSettings({ "learn.optimizer": "random" });
        assert.deepEqual(wrong.settings, {});
        assert.deepEqual(wrong.problems, ['dspy-lsp.learn.optimizer: expected bootstrap, mipro or gepa, got "random"']);
    });

    it("never sends client-only settings", () => {
        const explicit: Record<string, unknown> = {};
        for (const key of CLIENT_SETTINGS) {
            explicit[key] = "x";
        }
        assert.deepEqual(toServerSettings(explicit), { settings: {}, problems: [] });
    });
});

describe("setting tables", () => {
    it("cover every server key of the settings model with its snake_case path", () => {
        const paths = SERVER_SETTINGS.map((s) => s.path.join("."));
        assert.deepEqual(paths, [
            "select", "ignore", "overrides", "exclude", "debounce_ms", "max_file_chars", "project",
            "lm.model", "lm.api_base", "lm.api_key_env", "lm.temperature", "lm.max_tokens", "lm.finder", "lm.min_confidence",
            "lm.timeout_s",
            "lm.max_concurrency", "lm.requests_per_minute", "lm.max_attempts", "lm.breaker_failures",
            "lm.breaker_reset_s", "lm.run_on", "lm.plan_attempts", "lm.cache_path", "lm.programs_dir", "lm.max_queue",
            "store.url", "store.user",
            "feedback.enabled", "feedback.path", "feedback.ignore_after_saves",
            "learn.auto", "learn.window", "learn.min_new_labels", "learn.optimizer", "learn.budget",
            "learn.max_requests", "learn.max_tokens",
            "tests.enabled", "tests.python", "tests.command", "tests.coverage", "tests.timeout_s", "tests.edits",
            "actions.dismiss",
        ]);
        assert.deepEqual(SERVER_KEYS, SERVER_SETTINGS.map((s) => s.key));
    });

    it("converts camelCase names", () => {
        assert.equal(camelToSnake("breakerResetS"), "breaker_reset_s");
        assert.equal(camelToSnake("model"), "model");
    });
});

describe("payload helpers", () => {
    it("wraps settings under the dspy-lsp key", () => {
        assert.deepEqual(wrapSection({ ignore: ["DL1"] }), { "dspy-lsp": { ignore: ["DL1"] } });
    });

    it("compares settings regardless of key order", () => {
        assert.ok(sameSettings({ a: 1, lm: { x: 1, y: 2 } }, { lm: { y: 2, x: 1 }, a: 1 }));
        assert.ok(!sameSettings({ ignore: ["A", "B"] }, { ignore: ["B", "A"] }));
        assert.ok(!sameSettings({}, { ignore: [] }));
    });
});
