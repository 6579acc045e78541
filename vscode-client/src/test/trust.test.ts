/** Workspace trust: which settings are restricted, and what initializationOptions say about trust. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
    buildInitializationOptions,
    CLIENT_SETTINGS,
    isRestrictedSetting,
    RESTART_SETTINGS,
    RESTRICTED_SETTINGS,
    SECTION,
    SERVER_CATEGORY,
    SERVER_KEYS,
    toServerSettings,
} from "../settings";

interface Property {
    readonly restricted?: boolean;
    readonly scope?: string;
    readonly type?: unknown;
    readonly default?: unknown;
    readonly markdownDescription?: string;
}

interface PackageJson {
    readonly capabilities: {
        readonly untrustedWorkspaces: { readonly supported: unknown; readonly description?: string; readonly restrictedConfigurations?: string[] };
    };
    readonly contributes: { readonly configuration: readonly { readonly title: string; readonly properties: Record<string, Property> }[] };
}

const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as PackageJson;
const properties: Record<string, Property> = Object.fromEntries(
    manifest.contributes.configuration.flatMap((c) => Object.entries(c.properties)),
);
const keys = Object.keys(properties).map((k) => k.slice(SECTION.length + 1));

describe("package.json and workspace trust", () => {
    it("declares limited support for untrusted workspaces, with a description", () => {
        const capability = manifest.capabilities.untrustedWorkspaces;
        assert.equal(capability.supported, "limited");
        assert.match(capability.description ?? "", /Restricted Mode/);
    });

    it("marks every lm.* setting but lm.runOn, lm.minConfidence and lm.finder, every learn.*, tests.* and store.*, feedback.path, the interpreter and importStrategy restricted", () => {
        const expected = keys.filter(
            (k) =>
                (k.startsWith("lm.") && !["lm.runOn", "lm.minConfidence", "lm.finder"].includes(k)) ||
                k.startsWith("learn.") ||
                k.startsWith("tests.") ||
                k.startsWith("store.") ||
                k === "feedback.path" ||
                k === "interpreter" ||
                k === "importStrategy" ||
                k === "trustProjectSettings",
        );
        assert.ok(expected.includes("lm.model") && expected.includes("lm.apiKeyEnv") && expected.includes("learn.auto"));
        assert.ok(expected.includes("tests.command") && expected.includes("tests.python"));
        assert.ok(expected.includes("store.url") && expected.includes("store.user") && !expected.includes("project"));
        for (const key of keys) {
            assert.equal(properties[`${SECTION}.${key}`]?.restricted === true, expected.includes(key), `${SECTION}.${key}`);
        }
    });

    it("leaves rule selection, timing, lm.runOn, lm.minConfidence, lm.finder and the client's own display settings unrestricted", () => {
        for (const key of ["select", "ignore", "overrides", "exclude", "debounceMs", "maxFileChars", "lm.runOn", "lm.minConfidence", "lm.finder",
            "feedback.enabled", "feedback.ignoreAfterSaves", "server.logLevel", "trace.server", "status.pollSeconds", "restart.maxAttempts"]) {
            assert.equal(properties[`${SECTION}.${key}`]?.restricted, undefined, key);
        }
    });

    it("agrees with the extension's own list and the capability's restrictedConfigurations", () => {
        const marked = keys.filter((k) => properties[`${SECTION}.${k}`]?.restricted === true);
        assert.deepEqual([...RESTRICTED_SETTINGS].sort(), [...marked].sort());
        assert.deepEqual(
            [...(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations ?? [])].sort(),
            marked.map((k) => `${SECTION}.${k}`).sort(),
        );
        assert.ok(keys.every((k) => isRestrictedSetting(k) === marked.includes(k)));
    });

    it("has a setting for every key the extension reads, and no other", () => {
        assert.deepEqual([...keys].sort(), [...SERVER_KEYS, ...CLIENT_SETTINGS].sort());
    });

    it("keeps the extension's own settings apart from the category generated from the server's model", () => {
        const [own, generated, ...more] = manifest.contributes.configuration;
        const names = (category?: { properties: Record<string, Property> }): string[] =>
            Object.keys(category?.properties ?? {}).map((k) => k.slice(SECTION.length + 1));
        assert.deepEqual(more, []);
        assert.equal(generated?.title, SERVER_CATEGORY);
        assert.deepEqual(names(own).sort(), [...CLIENT_SETTINGS].sort());
        assert.deepEqual(names(generated), [...SERVER_KEYS]);
    });

    it("declares trustProjectSettings as a user-only, restricted boolean that is off by default", () => {
        const setting = properties[`${SECTION}.trustProjectSettings`];
        assert.ok(setting);
        assert.equal(setting.type, "boolean");
        assert.equal(setting.default, false);
        assert.equal(setting.scope, "application");
        assert.equal(setting.restricted, true);
        assert.match(setting.markdownDescription ?? "", /\[tool\.dspy-lsp\]/);
        assert.ok(RESTART_SETTINGS.includes("trustProjectSettings"));
    });
});

describe("buildInitializationOptions", () => {
    const settings = toServerSettings({ ignore: ["DL115"], "lm.model": "openai/gpt-4o-mini" }).settings;

    it("keeps the settings under dspy-lsp and adds nothing in a trusted workspace by default", () => {
        assert.deepEqual(buildInitializationOptions(settings, { workspaceTrusted: true, trustProjectSettings: false }), {
            "dspy-lsp": { ignore: ["DL115"], lm: { model: "openai/gpt-4o-mini" } },
        });
    });

    it("says restrictedMode in an untrusted workspace, and never trustProject there", () => {
        for (const trustProjectSettings of [false, true]) {
            const options = buildInitializationOptions(settings, { workspaceTrusted: false, trustProjectSettings });
            assert.equal(options.restrictedMode, true);
            assert.equal("trustProject" in options, false);
            assert.deepEqual(options[SECTION], { ignore: ["DL115"], lm: { model: "openai/gpt-4o-mini" } });
        }
    });

    it("says trustProject only when the workspace is trusted and the user opted in", () => {
        const options = buildInitializationOptions(settings, { workspaceTrusted: true, trustProjectSettings: true });
        assert.equal(options.trustProject, true);
        assert.equal("restrictedMode" in options, false);
        assert.deepEqual(buildInitializationOptions({}, { workspaceTrusted: true, trustProjectSettings: true }), {
            "dspy-lsp": {},
            trustProject: true,
        });
    });

    it("never sends the client-only trust setting inside the settings", () => {
        const { settings: translated } = toServerSettings({ trustProjectSettings: true, interpreter: "/usr/bin/python3" });
        assert.deepEqual(translated, {});
    });
});
