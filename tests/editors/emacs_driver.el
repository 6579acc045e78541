;;; emacs_driver.el --- Drive eglot + dspy-lsp in `emacs --batch'  -*- lexical-binding: t; -*-

;; Run by tests/editors/test_emacs.py as
;;
;;     emacs --batch -l tests/editors/emacs_driver.el
;;
;; with these environment variables:
;;   EMACS_DRIVER_FILE     the Python file to open (a throwaway copy: it gets edited and saved)
;;   EMACS_DRIVER_RESULT   where to write the JSON result
;;   EMACS_DRIVER_TIMEOUT  seconds allowed for each wait (default 30)
;;   EMACS_DRIVER_FEEDBACK the feedback store the server writes (sent as feedback.path)
;;   EGLOT_DSPY_LSP_PYTHON the interpreter that runs the server (read by dspy-lsp.el)
;;
;; Every wait is bounded; a watchdog timer writes what was gathered and
;; exits non-zero if the whole run takes too long.  Exit status: 0 when every
;; step ran (the test judges the result), 1 when a step failed, 2 on the
;; watchdog.

;;; Code:

(require 'cl-lib)
(require 'json)
(require 'subr-x)
(require 'lisp-mnt)

(defvar dspy-lsp-settings)               ; from editors/emacs/dspy-lsp.el
(defvar dspy-lsp-python-executable)

(defconst emacs-driver--dir
  (file-name-directory (or load-file-name buffer-file-name)))

(defconst emacs-driver--config
  (expand-file-name "../../editors/emacs/dspy-lsp.el" emacs-driver--dir))

(defvar emacs-driver--result nil
  "Alist written as JSON at the end.")

(defvar emacs-driver--step "start"
  "What the driver is doing, reported when it fails.")

(defvar emacs-driver--prompts nil
  "Yes/no questions eglot asked, answered yes, for the record.")

(defun emacs-driver--log (format-string &rest args)
  (princ (format "[emacs-driver %6.2fs] %s\n"
                 (float-time (time-subtract nil before-init-time))
                 (apply #'format format-string args))
         #'external-debugging-output))

(defun emacs-driver--put (key value)
  (setf (alist-get key emacs-driver--result) value))

(defun emacs-driver--env (name &optional default)
  (let ((value (getenv name)))
    (if (or (null value) (string-empty-p value))
        (or default (error "Environment variable %s is not set" name))
      value)))

(defconst emacs-driver--timeout
  (string-to-number (emacs-driver--env "EMACS_DRIVER_TIMEOUT" "30")))

(defun emacs-driver--write (status)
  (emacs-driver--put 'status status)
  (emacs-driver--put 'prompts (vconcat (reverse emacs-driver--prompts)))
  (let ((json-encoding-pretty-print t)
        (coding-system-for-write 'utf-8-unix))
    (with-temp-file (emacs-driver--env "EMACS_DRIVER_RESULT")
      (insert (json-encode emacs-driver--result) "\n"))))

(defun emacs-driver--wait (what predicate &optional timeout)
  "Pump process output until PREDICATE returns non-nil; return its value.
Signal an error naming WHAT after TIMEOUT seconds."
  (let ((deadline (+ (float-time) (or timeout emacs-driver--timeout)))
        value)
    (setq emacs-driver--step what)
    (while (and (not (setq value (funcall predicate)))
                (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or value (error "Timed out after %ss waiting for %s"
                     (or timeout emacs-driver--timeout) what))))

;;; What eglot put into Flymake

(defun emacs-driver--lsp-diagnostic (diag)
  "The LSP Diagnostic (a plist) behind the Flymake diagnostic DIAG, if any."
  (let ((data (and (fboundp 'flymake-diagnostic-data)
                   (flymake-diagnostic-data diag))))
    (and (consp data) (cdr (assq 'eglot-lsp-diag data)))))

(defun emacs-driver--dspy-diagnostics ()
  "Flymake diagnostics of the current buffer that came from dspy-lsp."
  (cl-loop for diag in (flymake-diagnostics)
           for lsp = (emacs-driver--lsp-diagnostic diag)
           when (equal (plist-get lsp :source) "dspy-lsp")
           collect diag))

(defun emacs-driver--code (diag)
  (let ((code (plist-get (emacs-driver--lsp-diagnostic diag) :code)))
    (if (numberp code) (number-to-string code) code)))

(defun emacs-driver--codes ()
  (sort (delete-dups (mapcar #'emacs-driver--code (emacs-driver--dspy-diagnostics)))
        #'string<))

;;; Versions

(defun emacs-driver--eglot-version ()
  "The Version: header of the eglot.el in use (Emacs 29+ may ship it gzipped)."
  (let* ((elc (locate-library "eglot"))
         (source (and elc (or (locate-library "eglot.el" t)
                              (concat (file-name-sans-extension elc) ".el")))))
    (or (and source
             (cl-loop for candidate in (list source (concat source ".gz"))
                      when (file-readable-p candidate)
                      return (with-temp-buffer
                               (insert-file-contents candidate)
                               (lm-header "Version"))))
        "unknown")))

;;; The run

(defun emacs-driver--action-summary (action)
  `((title . ,(plist-get action :title))
    (kind . ,(or (plist-get action :kind) :null))
    (preferred . ,(if (plist-get action :isPreferred) t :json-false))
    (has_edit . ,(if (plist-get action :edit) t :json-false))))

(defun emacs-driver--run ()
  (let* ((file (emacs-driver--env "EMACS_DRIVER_FILE"))
         buffer server)
    (setq emacs-driver--step "loading the eglot config")
    (load emacs-driver--config nil t)
    ;; Customize the settings as a user would in an init file, to non-default
    ;; values the test can see the server use: DL113 ignored, another debounce,
    ;; and a feedback store the test reads afterwards.
    (setq dspy-lsp-settings
          `(:ignore ["DL113"] :debounce-ms 120
            :feedback (:path ,(emacs-driver--env "EMACS_DRIVER_FEEDBACK"))))
    (emacs-driver--put 'emacs_version emacs-version)
    (emacs-driver--put 'eglot_version (emacs-driver--eglot-version))
    (emacs-driver--put 'eglot_library (locate-library "eglot"))
    (emacs-driver--put 'server_python dspy-lsp-python-executable)
    (emacs-driver--log "Emacs %s, eglot %s (%s)" emacs-version
                       (alist-get 'eglot_version emacs-driver--result)
                       (alist-get 'eglot_library emacs-driver--result))

    (setq emacs-driver--step "opening the file")
    (setq buffer (find-file-noselect file))
    (set-buffer buffer)
    (emacs-driver--put 'major_mode (symbol-name major-mode))

    ;; `M-x eglot', as a user starts it.  It picks the dspy-lsp entry from
    ;; `eglot-server-programs' (nothing else is asked for: stdin is closed,
    ;; so a prompt would fail the run).
    (setq emacs-driver--step "starting eglot")
    (call-interactively #'eglot)
    (setq server
          (emacs-driver--wait "eglot to manage the buffer"
                              (lambda () (and (eglot-managed-p) (eglot-current-server)))))
    (emacs-driver--put 'server_name
                       (or (ignore-errors (plist-get (eglot--server-info server) :name)) :null))
    (emacs-driver--put 'init_options (eglot-initialization-options server))
    (emacs-driver--log "eglot manages %s with %s" (buffer-name)
                       (alist-get 'server_name emacs-driver--result))
    ;; Flymake asks its backends (eglot's among them) on its own timers; in
    ;; batch there is no redisplay or command loop to trigger it, so ask now.
    (flymake-start)

    (emacs-driver--wait "DL104 among dspy-lsp's Flymake diagnostics"
                        (lambda () (member "DL104" (emacs-driver--codes))))
    (emacs-driver--put 'codes (vconcat (emacs-driver--codes)))
    (emacs-driver--log "diagnostics: %s" (string-join (emacs-driver--codes) " "))

    ;; What the server runs with: initializationOptions, the interpreter.
    (setq emacs-driver--step "dspy-lsp.debugInfo")
    (let ((info (jsonrpc-request server :workspace/executeCommand
                                 '(:command "dspy-lsp.debugInfo" :arguments [])
                                 :timeout emacs-driver--timeout)))
      (emacs-driver--put 'server_executable (plist-get info :executable))
      (emacs-driver--put 'server_settings (plist-get info :settings))
      (emacs-driver--put 'server_config_errors (plist-get info :config_errors)))

    ;; Code actions over the DL104 diagnostic, as `M-x eglot-code-actions'
    ;; requests them (the same function, called non-interactively: it returns
    ;; the actions instead of offering a menu).
    (let* ((diag (cl-find "DL104" (emacs-driver--dspy-diagnostics)
                          :key #'emacs-driver--code :test #'equal))
           (beg (flymake-diagnostic-beg diag))
           (end (flymake-diagnostic-end diag))
           actions fix-all fix)
      (emacs-driver--put 'dl104_line (line-number-at-pos beg))
      (emacs-driver--put 'dl104_text (buffer-substring-no-properties beg end))
      (setq emacs-driver--step "textDocument/codeAction at the DL104 line")
      (setq actions (eglot-code-actions beg end))
      (emacs-driver--put 'actions (vconcat (mapcar #'emacs-driver--action-summary actions)))
      (emacs-driver--log "code actions: %s"
                         (mapconcat (lambda (a) (plist-get a :title)) actions " | "))
      (setq emacs-driver--step "the source.fixAll.dspy-lsp code action")
      (setq fix-all (eglot-code-actions (point-min) (point-max) "source.fixAll.dspy-lsp"))
      (emacs-driver--put 'fix_all_actions
                         (vconcat (mapcar #'emacs-driver--action-summary fix-all)))

      ;; Apply the quick fix the way `M-x eglot-code-actions' does when the
      ;; user picks it from the completion menu: call the command
      ;; interactively, answer the menu with the fix's title.  eglot 1.9
      ;; applies the action's edit, then runs its command (dspy-lsp.feedback)
      ;; with a blocking `workspace/executeCommand' and returns the answer.
      (setq fix (cl-find-if (lambda (a) (string-prefix-p "DL104:" (plist-get a :title)))
                            actions))
      (unless fix (error "No DL104 quick fix among the code actions"))
      (emacs-driver--put 'applied_title (plist-get fix :title))
      (setq emacs-driver--step "applying the DL104 quick fix")
      (let ((last-nonmenu-event ?\r)    ; chosen from the keyboard, not a mouse menu
            (before (buffer-modified-tick)))
        (cl-letf (((symbol-function 'completing-read)
                   (lambda (prompt &rest _)
                     (emacs-driver--log "menu %S -> %S" prompt (plist-get fix :title))
                     (plist-get fix :title)))
                  ((symbol-function 'y-or-n-p)
                   (lambda (prompt) (push prompt emacs-driver--prompts) t))
                  ((symbol-function 'yes-or-no-p)
                   (lambda (prompt) (push prompt emacs-driver--prompts) t)))
          (goto-char beg)
          (emacs-driver--put 'fix_command_answer (eglot-code-actions beg end nil t)))
        (emacs-driver--wait "the quick fix to edit the buffer"
                            (lambda () (/= before (buffer-modified-tick))))))

    (setq emacs-driver--step "saving")
    (save-buffer)
    (emacs-driver--put 'final_text
                       (with-temp-buffer
                         (insert-file-contents file)
                         (buffer-string)))

    ;; The server re-analyses the edited text; DL104 must go away.
    (emacs-driver--wait "dspy-lsp to drop DL104 after the fix"
                        (lambda () (not (member "DL104" (emacs-driver--codes)))))
    (emacs-driver--put 'codes_after (vconcat (emacs-driver--codes)))

    (setq emacs-driver--step "shutting eglot down")
    (eglot-shutdown server nil emacs-driver--timeout)
    (emacs-driver--put 'shutdown t)))

(defun emacs-driver-main ()
  (let ((watchdog (run-at-time
                   (* 4 emacs-driver--timeout) nil
                   (lambda ()
                     (emacs-driver--put 'error (format "watchdog fired during: %s"
                                                       emacs-driver--step))
                     (emacs-driver--write "timeout")
                     (kill-emacs 2)))))
    (condition-case err
        (progn
          (emacs-driver--run)
          (cancel-timer watchdog)
          (emacs-driver--write "ok")
          (emacs-driver--log "done")
          (kill-emacs 0))
      (error
       (cancel-timer watchdog)
       (emacs-driver--put 'error (format "%s: %s" emacs-driver--step
                                         (error-message-string err)))
       (emacs-driver--log "FAILED %s" (alist-get 'error emacs-driver--result))
       ;; eglot's events and the server's stderr, for the test's failure message.
       (ignore-errors
         (dolist (buf (buffer-list))
           (when (string-match-p "EGLOT\\|stderr" (buffer-name buf))
             (emacs-driver--log "---- %s (tail) ----\n%s" (buffer-name buf)
                                (with-current-buffer buf
                                  (buffer-substring-no-properties
                                   (max (point-min) (- (point-max) 4000))
                                   (point-max)))))))
       (emacs-driver--write "error")
       (kill-emacs 1)))))

(emacs-driver-main)

;;; emacs_driver.el ends here
