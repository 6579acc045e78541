// ESLint flat config: typescript-eslint's type-checked recommendations for src/.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["out/", "dist/", "bundled/", "node_modules/", "*.vsix"] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            eqeqeq: "error",
            "@typescript-eslint/no-floating-promises": [
                "error",
                // node:test's describe/it return promises the runner tracks itself.
                { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test"] }] },
            ],
            "@typescript-eslint/explicit-module-boundary-types": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
        },
    },
    {
        // Pure modules must run under node's test runner, without VS Code.
        files: [
            "src/settings.ts", "src/scopedSettings.ts", "src/interpreter.ts", "src/bundled.ts", "src/install.ts", "src/cli.ts",
            "src/restartPolicy.ts", "src/status.ts", "src/process.ts", "src/test/**",
        ],
        rules: {
            "no-restricted-imports": ["error", { paths: [{ name: "vscode", message: "Keep vscode out of the pure, unit-tested modules." }] }],
        },
    },
    {
        files: ["**/*.mjs"],
        ...tseslint.configs.disableTypeChecked,
    },
    {
        // The build scripts run under node.
        files: ["**/*.mjs"],
        languageOptions: { globals: { process: "readonly" } },
    },
);
