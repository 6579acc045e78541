/**
 * The translated settings against the real server: every key the extension sends must be
 * accepted (the server rejects the whole editor layer on one unknown key). Runs when
 * `$DSPY_LSP_PYTHON` (default python3) can import dspy_lsp.server, and is skipped otherwise.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import {
    ConfigurationRequest,
    createProtocolConnection,
    DidChangeConfigurationNotification,
    ExecuteCommandRequest,
    ExitNotification,
    InitializedNotification,
    InitializeRequest,
    type ProtocolConnection,
    ShutdownRequest,
    StreamMessageReader,
    StreamMessageWriter,
} from "vscode-languageserver-protocol/node";
import { classifyImportCheck, IMPORT_CHECK_ARGS, serverArgs } from "../interpreter";
import { runProcess } from "../process";
import { type ServerSettings, toServerSettings, wrapSection } from "../settings";
import { formatStatus, parseStatus } from "../status";

const python = process.env.DSPY_LSP_PYTHON ?? "python3";

interface DebugInfo {
    settings: { ignore: string[]; select: string[]; debounce_ms: number; lm: Record<string, unknown> };
    config_errors: string[];
}

describe("the real dspy-lsp server", () => {
    let skip: string | undefined;
    let child: ChildProcessWithoutNullStreams | undefined;
    let connection: ProtocolConnection | undefined;
    let pulled: ServerSettings = {};
    let stderr = "";
    const root = mkdtempSync(path.join(os.tmpdir(), "dspy-lsp-client-"));

    before(async () => {
        const check = classifyImportCheck(python, await runProcess(python, IMPORT_CHECK_ARGS, { timeoutMs: 60_000 }));
        if (check.kind !== "ok") {
            skip = `${check.message} (set DSPY_LSP_PYTHON to a python with dspy-lsp installed)`;
            return;
        }
        const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DSPY_LSP_")));
        child = spawn(python, serverArgs("warning"), { cwd: root, env });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
        connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
        connection.onRequest(ConfigurationRequest.type, (params) => params.items.map(() => pulled));
        connection.listen();
        await connection.sendRequest(InitializeRequest.type, {
            processId: process.pid,
            rootUri: pathToFileURL(root).href,
            workspaceFolders: null,
            capabilities: { workspace: { configuration: true } },
            initializationOptions: wrapSection(toServerSettings({ ignore: ["DL115"], "lm.maxQueue": 7 }).settings),
        });
        await connection.sendNotification(InitializedNotification.type, {});
    });

    after(async () => {
        if (connection !== undefined) {
            await connection.sendRequest(ShutdownRequest.type).catch(() => undefined);
            await connection.sendNotification(ExitNotification.type).catch(() => undefined);
            connection.dispose();
        }
        child?.kill();
        rmSync(root, { recursive: true, force: true });
    });

    async function command(name: string): Promise<unknown> {
        assert.ok(connection);
        return connection.sendRequest(ExecuteCommandRequest.type, { command: name, arguments: [] });
    }

    async function debugInfo(): Promise<DebugInfo> {
        return (await command("dspy-lsp.debugInfo")) as DebugInfo;
    }

    async function send(explicit: Record<string, unknown>): Promise<void> {
        assert.ok(connection);
        const translation = toServerSettings(explicit);
        assert.deepEqual(translation.problems, []);
        await connection.sendNotification(DidChangeConfigurationNotification.type, { settings: wrapSection(translation.settings) });
    }

    it("takes the settings from initializationOptions", async (t) => {
        if (skip) return t.skip(skip);
        const info = await debugInfo();
        assert.deepEqual(info.config_errors, [], stderr);
        assert.deepEqual(info.settings.ignore, ["DL115"]);
        assert.equal(info.settings.lm.max_queue, 7);
    });

    it("accepts every setting the extension can send, with no config error", async (t) => {
        if (skip) return t.skip(skip);
        await send({
            select: ["DL1"], ignore: ["DL101"], overrides: [{ path: "tests/*", ignore: ["DL106"] }], exclude: ["build/*"],
            debounceMs: 0, maxFileChars: 100_000,
            "lm.model": "openai/test-model", "lm.apiBase": "http://127.0.0.1:9/v1", "lm.apiKeyEnv": "NO_SUCH_KEY",
            "lm.temperature": 0, "lm.maxTokens": 100, "lm.timeoutS": 5, "lm.maxConcurrency": 2,
            "lm.requestsPerMinute": 10, "lm.maxAttempts": 2, "lm.breakerFailures": 2, "lm.breakerResetS": 5,
            "lm.runOn": ["command"], "lm.planAttempts": 1, "lm.cachePath": path.join(root, "cache.sqlite3"),
            "lm.programsDir": path.join(root, "programs"), "lm.maxQueue": 3,
        });
        const info = await debugInfo();
        assert.deepEqual(info.config_errors, []);
        assert.deepEqual(info.settings.select, ["DL1"]);
        assert.equal(info.settings.debounce_ms, 0);
        assert.equal(info.settings.lm.api_key_env, "NO_SUCH_KEY");
        assert.deepEqual(info.settings.lm.run_on, ["command"]);
        const status = parseStatus(await command("dspy-lsp.status"));
        assert.ok(status);
        assert.equal(formatStatus(status).text, "$(check) dspy-lsp: LM ready");
    });

    it("answers the configuration pull with the translated settings when a change carries none", async (t) => {
        if (skip) return t.skip(skip);
        pulled = toServerSettings({ ignore: ["DL2"] }).settings;
        await send({});
        let info = await debugInfo();
        for (let i = 0; i < 20 && info.settings.ignore[0] !== "DL2"; i++) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            info = await debugInfo();
        }
        assert.deepEqual(info.settings.ignore, ["DL2"]);
        assert.equal(info.settings.lm.model, null);
        const status = parseStatus(await command("dspy-lsp.status"));
        assert.ok(status);
        assert.equal(formatStatus(status).text, "$(circle-slash) dspy-lsp: rules only");
    });
});
