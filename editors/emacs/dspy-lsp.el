;;; dspy-lsp.el --- Eglot configuration for the dspy-lsp language server  -*- lexical-binding: t; -*-

;; Usage: put this file somewhere on `load-path' (or `load' it by path) and add
;;
;;     (require 'dspy-lsp)
;;     (add-hook 'python-mode-hook #'eglot-ensure)     ; and/or python-ts-mode-hook
;;
;; to your init file.  `M-x eglot' in a Python buffer then starts
;; `python -m dspy_lsp.server' over stdio.  Works with the eglot built into
;; Emacs 29+ and with the ELPA/Debian package (elpa-eglot) on Emacs 28.
;;
;; Diagnostics show up through Flymake (`M-x flymake-show-buffer-diagnostics');
;; quick fixes ("DL104: Use `is None`"), "Dismiss DLxxx: false positive" (a suppression comment), "Dismiss DLxxx: not now" and
;; fix-all are code actions:
;;
;;     M-x eglot-code-actions                     ; everything at point / in region
;;     M-x eglot-code-action-quickfix             ; quick fixes only
;;     C-u M-x eglot-code-actions RET source.fixAll.dspy-lsp RET
;;                                                ; every safe fix in the file

;;; Code:

(require 'eglot)

(defgroup dspy-lsp nil
  "The dspy-lsp language server, run by eglot."
  :group 'eglot
  :prefix "dspy-lsp-")

(defcustom dspy-lsp-python-executable
  (or (getenv "EGLOT_DSPY_LSP_PYTHON") "python3")
  "Python interpreter that has the `dspy-lsp' package installed.
Defaults to the environment variable EGLOT_DSPY_LSP_PYTHON, else
\"python3\" on `exec-path'.  Point it at a virtualenv's interpreter
\(e.g. \"~/project/.venv/bin/python\") when the server lives there."
  :type 'string)

(defcustom dspy-lsp-server-arguments '("-m" "dspy_lsp.server")
  "Arguments given to `dspy-lsp-python-executable' to start the server on stdio.
Add e.g. \"--log-level\" \"DEBUG\" to get more in the events buffer's
stderr (`M-x eglot-events-buffer')."
  :type '(repeat string))

(defcustom dspy-lsp-settings
  '(:select ["ALL"]
    :ignore []
    :debounce-ms 150)
  "dspy-lsp settings, as a plist that eglot turns into JSON.
Keywords become keys (`:debounce-ms' or `:debounce_ms'), vectors become
arrays.  They override `[tool.dspy-lsp]' in pyproject.toml; see the
Configuration table in the project's README for every key.  Example with
a rule ignored and the LM tier on (the API key is read from the named
environment variable, never from here):

  (setq dspy-lsp-settings
        \='(:ignore [\"DL115\"]
          :lm (:model \"openai/gpt-4o-mini\"
               :api-key-env \"OPENAI_API_KEY\"
               :run-on [\"save\" \"command\"])))

The settings reach the server twice, and both are needed with eglot:
as `initializationOptions' (see `dspy-lsp-initialization-options'),
and as the \"dspy-lsp\" section of the workspace configuration (see
`dspy-lsp-workspace-configuration').  Eglot sends
workspace/didChangeConfiguration right after connecting, and dspy-lsp
then takes its settings from that section, replacing the
initializationOptions."
  :type 'sexp)

(defun dspy-lsp-initialization-options (&optional _server)
  "The LSP `initializationOptions': `dspy-lsp-settings' under a \"dspy-lsp\" key."
  (list :dspy-lsp dspy-lsp-settings))

(defun dspy-lsp-workspace-configuration (&optional _server)
  "A value for `eglot-workspace-configuration' holding `dspy-lsp-settings'.
Its one section, \"dspy-lsp\", is ignored by other servers."
  (list :dspy-lsp dspy-lsp-settings))

(defcustom dspy-lsp-major-modes '(python-mode python-ts-mode)
  "Major modes whose buffers eglot serves with dspy-lsp.
`python-ts-mode' only exists on Emacs 29+; naming it on Emacs 28 is harmless."
  :type '(repeat symbol))

(defun dspy-lsp-eglot-contact (&optional _interactive)
  "The eglot contact for dspy-lsp, read from the `dspy-lsp-' options each time."
  `(,dspy-lsp-python-executable
    ,@dspy-lsp-server-arguments
    :initializationOptions dspy-lsp-initialization-options))

;; Unless the user (or a .dir-locals.el) already configures servers this way:
;; then add `:dspy-lsp (...)' to that value yourself.
(unless (default-value 'eglot-workspace-configuration)
  (setq-default eglot-workspace-configuration #'dspy-lsp-workspace-configuration))

;; Ahead of eglot's own Python entry (pylsp, pyright, ...): eglot uses the
;; first entry that matches the buffer's major mode.
(add-to-list 'eglot-server-programs
             (cons dspy-lsp-major-modes #'dspy-lsp-eglot-contact))

(provide 'dspy-lsp)
;;; dspy-lsp.el ends here
