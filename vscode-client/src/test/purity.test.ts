import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { it } from "node:test";

const PURE = [
    "settings.ts", "scopedSettings.ts", "interpreter.ts", "bundled.ts", "install.ts", "cli.ts", "restartPolicy.ts", "status.ts", "process.ts",
    "dashboard.ts",
];

it("keeps vscode out of the unit-tested modules", () => {
    const src = path.join(__dirname, "..", "..", "src");
    for (const file of PURE) {
        const text = readFileSync(path.join(src, file), "utf8");
        assert.doesNotMatch(text, /from\s+["']vscode["']|require\(["']vscode["']\)|vscode-languageclient/, file);
    }
});
