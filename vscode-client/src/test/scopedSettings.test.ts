/**
 * Settings read per resource in a multi-root workspace: a stand-in for
 * `getConfiguration("dspy-lsp", uri)` that layers user, workspace and folder values as VS Code
 * does for the folder holding `uri`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clientSettings, type ConfigurationView, explicitSettings, explicitValue, type Inspection } from "../scopedSettings";
import { answerConfiguration, toServerSettings } from "../settings";

type Values = Record<string, unknown>;

/** A multi-root workspace: user and workspace values, and each folder's own. */
class Workspace {
    constructor(
        private readonly user: Values,
        private readonly workspace: Values,
        private readonly folders: Record<string, Values>,
        private readonly defaults: Values = { "server.logLevel": "warning", "status.pollSeconds": 10, "restart.maxAttempts": 5, importStrategy: "fromEnvironment" },
    ) {}

    /** `getConfiguration("dspy-lsp", uri)`: the folder values of the folder holding `uri`, if any. */
    configuration(uri?: string): ConfigurationView {
        const folder = Object.keys(this.folders).find((f) => uri !== undefined && (uri === f || uri.startsWith(`${f}/`)));
        return {
            inspect: (key: string): Inspection => ({
                defaultValue: this.defaults[key],
                globalValue: this.user[key],
                workspaceValue: this.workspace[key],
                workspaceFolderValue: folder === undefined ? undefined : this.folders[folder]?.[key],
            }),
        };
    }
}

const workspace = new Workspace(
    { "lm.model": "openai/gpt-4o-mini", interpreter: "/usr/bin/python3" },
    { ignore: ["DL115"], "lm.apiKeyEnv": "TEAM_KEY" },
    {
        "file:///ws/service": { "lm.model": "ollama_chat/llama3.2", "lm.apiBase": "http://127.0.0.1:11434", interpreter: "/ws/service/.venv/bin/python", "status.pollSeconds": 0 },
        "file:///ws/docs": { ignore: [] },
    },
);

describe("settings read for a resource", () => {
    it("take a document's folder value over the workspace's and the user's", () => {
        const service = explicitSettings(workspace.configuration("file:///ws/service/app/main.py"), true);
        assert.equal(service["lm.model"], "ollama_chat/llama3.2");
        assert.equal(service["lm.apiBase"], "http://127.0.0.1:11434");
        assert.equal(service["lm.apiKeyEnv"], "TEAM_KEY");
        assert.deepEqual(service.ignore, ["DL115"]);
    });

    it("give each folder of the workspace its own values", () => {
        const docs = explicitSettings(workspace.configuration("file:///ws/docs/conf.py"), true);
        assert.equal(docs["lm.model"], "openai/gpt-4o-mini");
        assert.equal(docs["lm.apiBase"], undefined);
        assert.deepEqual(docs.ignore, []);
        assert.deepEqual(toServerSettings(docs).settings, { ignore: [], lm: { model: "openai/gpt-4o-mini", api_key_env: "TEAM_KEY" } });
    });

    it("without a resource are the workspace's and the user's", () => {
        const window = explicitSettings(workspace.configuration(), true);
        assert.equal(window["lm.model"], "openai/gpt-4o-mini");
        assert.deepEqual(window.ignore, ["DL115"]);
    });

    it("read the client's own settings for the folder, defaults where nothing is set", () => {
        assert.deepEqual(clientSettings(workspace.configuration("file:///ws/service"), true), {
            interpreter: "/ws/service/.venv/bin/python",
            importStrategy: "fromEnvironment",
            logLevel: "warning",
            pollSeconds: 0,
            maxRestarts: 5,
        });
        assert.equal(clientSettings(workspace.configuration("file:///ws/docs"), true).interpreter, "/usr/bin/python3");
    });

    it("in an untrusted window read restricted settings from the user's values only, whatever the folder says", () => {
        const view = workspace.configuration("file:///ws/service/app/main.py");
        assert.equal(explicitValue(view, "lm.model", false), "openai/gpt-4o-mini");
        assert.equal(explicitValue(view, "lm.apiBase", false), undefined);
        assert.equal(explicitValue(view, "lm.apiKeyEnv", false), undefined);
        assert.deepEqual(explicitValue(view, "ignore", false), ["DL115"], "unrestricted settings keep their layers");
        assert.equal(clientSettings(view, false).interpreter, "/usr/bin/python3");
    });

    it("answer the server's configuration pull per item scope, translated", () => {
        const settingsFor = (scopeUri: string | undefined): Record<string, unknown> =>
            toServerSettings(explicitSettings(workspace.configuration(scopeUri), true)).settings;
        const answer = answerConfiguration(
            [{ section: "dspy-lsp", scopeUri: "file:///ws/service" }, { section: "dspy-lsp" }, { section: "python" }],
            [{ raw: 1 }, { raw: 2 }, { python: "as VS Code answered" }],
            settingsFor,
        );
        assert.deepEqual(answer, [
            { ignore: ["DL115"], lm: { model: "ollama_chat/llama3.2", api_base: "http://127.0.0.1:11434", api_key_env: "TEAM_KEY" } },
            { ignore: ["DL115"], lm: { model: "openai/gpt-4o-mini", api_key_env: "TEAM_KEY" } },
            { python: "as VS Code answered" },
        ]);
    });
});
