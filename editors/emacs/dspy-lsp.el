;;; dspy-lsp.el --- Eglot configuration for the dspy-lsp language server  -*- lexical-binding: t; -*-

;; Usage: put this file somewhere on `load-path' (or `load' it by path) and add
;;
;;     (require 'dspy-lsp)
;;     (add-hook 'python-mode-hook #'eglot-ensure)     ; and/or python-ts-mode-hook
;;
;; to your init file.  `M-x eglot' in a Python buffer then starts
;; `python -P -m dspy_lsp.server' over stdio, from a directory outside the
;; project (`dspy-lsp-server-directory'), so no file of the checkout is
;; imported in place of a Python module.  Works with the eglot built into
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

(require 'cl-lib)
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

(defcustom dspy-lsp-server-arguments '("-P" "-m" "dspy_lsp.server")
  "Arguments given to `dspy-lsp-python-executable' to start the server on stdio.
Keep \"-P\" (Python 3.11+): it keeps the current directory off `sys.path'.
Add e.g. \"--log-level\" \"DEBUG\" to get more in the *dspy-lsp stderr*
buffer."
  :type '(repeat string))

(defcustom dspy-lsp-server-directory nil
  "Working directory of the server process; never one inside the project.
nil means \"dspy-lsp/\" under `user-emacs-directory' (created when
missing), else `temporary-file-directory'.  A directory inside the project
root is skipped.  Eglot would otherwise start the server in the project
root, where a Python started without -P imports the checkout's files."
  :type '(choice (const :tag "Under user-emacs-directory" nil) directory))

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

(defun dspy-lsp--server-directory (root)
  "A directory to run the server in that is not inside ROOT, the project root."
  (let ((candidates
         (list dspy-lsp-server-directory
               (let ((dir (expand-file-name "dspy-lsp/" user-emacs-directory)))
                 (ignore-errors (make-directory dir t))
                 dir)
               temporary-file-directory)))
    (or (cl-find-if (lambda (dir)
                      (and dir
                           (file-directory-p dir)
                           (not (file-in-directory-p dir root))))
                    candidates)
        "/")))

(defun dspy-lsp--start-process (command)
  "Start COMMAND as the server, in `dspy-lsp--server-directory'.
Eglot calls this with `default-directory' bound to the project root."
  (let ((default-directory (dspy-lsp--server-directory default-directory)))
    (make-process
     :name "dspy-lsp"
     :command command
     :connection-type 'pipe
     :coding 'utf-8-emacs-unix
     :noquery t
     :stderr (get-buffer-create "*dspy-lsp stderr*"))))

(defun dspy-lsp-eglot-contact (&optional _interactive)
  "The eglot contact for dspy-lsp, read from the `dspy-lsp-' options each time.
A local project gets a (CLASS . INITARGS) contact whose process starts outside
the project (see `dspy-lsp--start-process'); over TRAMP the plain command
runs on the remote host, in the project, still with -P."
  (let ((command (cons dspy-lsp-python-executable dspy-lsp-server-arguments)))
    (if (file-remote-p default-directory)
        `(,@command :initializationOptions dspy-lsp-initialization-options)
      `(eglot-lsp-server
        :process ,(lambda () (dspy-lsp--start-process command))
        :initializationOptions dspy-lsp-initialization-options))))

;; Eglot marks `eglot-workspace-configuration' safe as a directory-local
;; variable when it is a list, so a checkout's .dir-locals.el could hand
;; dspy-lsp an LM endpoint and key variable as if they were your own settings
;; (or, as a lambda, run code).  Neither is safe any more: Emacs asks before
;; applying such a value.  Other servers' sections stay safe as before.
(defun dspy-lsp--names-section-p (value)
  "Non-nil if VALUE, a tree, names the dspy-lsp section anywhere."
  (cond ((consp value) (or (dspy-lsp--names-section-p (car value))
                           (dspy-lsp--names-section-p (cdr value))))
        ((symbolp value) (memq value '(:dspy-lsp :dspy_lsp dspy-lsp dspy_lsp)))
        ((stringp value) (member value '("dspy-lsp" "dspy_lsp")))))

(defun dspy-lsp--safe-workspace-configuration-p (value)
  "Non-nil if VALUE is a plain list that configures no dspy-lsp section."
  (and (listp value)
       (not (functionp value))
       (not (dspy-lsp--names-section-p value))))

(put 'eglot-workspace-configuration 'safe-local-variable
     #'dspy-lsp--safe-workspace-configuration-p)

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
