-- dspy-lsp for Neovim: start the server for Python buffers, one client per project root.
--
-- Works on Neovim 0.7 and later: it uses vim.lsp.start where it exists (0.8+, the usual way on
-- 0.9/0.10/0.11) and falls back to vim.lsp.start_client + vim.lsp.buf_attach_client on 0.7.
-- Copy it to ~/.config/nvim/lua/dspy_lsp.lua and require("dspy_lsp").setup({ ... }), or
-- dofile() it where it is; pasted into an init.lua, it needs its last line (return M) left out.
--
-- Options, read when a Python buffer opens (set them before that), given to setup(), e.g.
-- require("dspy_lsp").setup({ dismiss_actions = false }):
--   cmd               the server command as a list; default { "dspy-lsp", "serve" }
--                     (or vim.g.dspy_lsp_cmd)
--   settings          the settings table, sent as initializationOptions under the "dspy-lsp"
--                     key and answered on workspace/configuration, e.g.
--                     { ignore = { "DL115" }, lm = { model = "openai/gpt-4o-mini" } }
--                     (or vim.g.dspy_lsp_settings)
--   dismiss_actions   the "Dismiss …" code actions: true (all of them), "menu" or false
--                     (none); sent as the server setting actions.dismiss ("all", "menu",
--                     "none"), over any actions.dismiss in settings. Unset: the server's choice
--   $NVIM_DSPY_LSP_PYTHON  a Python that has dspy-lsp installed (a virtualenv's, say): runs
--                     `<python> -P -m dspy_lsp.server`; cmd wins over it
--   dashboard_cmd     the :DspyLspDashboard command as a list; default
--                     { <$NVIM_DSPY_LSP_PYTHON>, "-P", "-m", "dspy_lsp", "dashboard", "--port", "0" },
--                     else { "dspy-lsp", "dashboard", "--port", "0" } (or vim.g.dspy_lsp_dashboard_cmd)
--
-- The server runs from a directory outside the project (cmd_cwd: stdpath("cache")/dspy-lsp, else
-- the temporary directory), and Python with -P, so no file of the checkout is imported in place
-- of a Python module. Keep LM endpoints and key variables in this file or in
-- ~/.config/dspy-lsp/config.toml, not in a project's files.
--
-- Commands:
--   :DspyLspFixAll            apply every safe fix in the buffer (source.fixAll.dspy-lsp)
--   :DspyLspStatus            the LM tier's state, counters and queue (dspy-lsp.status)
--   :DspyLspAnalyzeFile       run both tiers on the buffer now (dspy-lsp.analyzeFile)
--   :DspyLspAnalyzeWorkspace  run both tiers on every Python file of the project root
--                             (dspy-lsp.analyzeWorkspace); diagnostics arrive as files finish
--   :DspyLspDashboard         start `dspy-lsp dashboard` on a free port of 127.0.0.1 (once per
--                             Neovim, stopped when it exits) and show its URL
-- Each shows its answer with vim.notify.

local NAME = "dspy-lsp"
local ROOT_MARKERS = { "pyproject.toml", "setup.cfg", "setup.py", ".git" }
-- dismiss_actions -> the server's actions.dismiss.
local DISMISS = { [true] = "all", [false] = "none", all = "all", menu = "menu", none = "none" }

local options = {} -- what setup() was given

local function server_cmd()
  local cmd = options.cmd or vim.g.dspy_lsp_cmd
  if cmd then
    return cmd
  end
  local python = vim.env.NVIM_DSPY_LSP_PYTHON
  if python and python ~= "" then
    -- -P (Python 3.11+): the current directory is not put on sys.path.
    return { python, "-P", "-m", "dspy_lsp.server" }
  end
  return { "dspy-lsp", "serve" }
end

-- The nearest directory at or above the file that has a root marker, else the file's directory.
local function root_dir(bufnr)
  local file_dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ":p:h")
  local dir = file_dir
  while true do
    for _, marker in ipairs(ROOT_MARKERS) do
      if vim.loop.fs_stat(dir .. "/" .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      return file_dir
    end
    dir = parent
  end
end

-- Whether path is dir or below it (both absolute).
local function inside(path, dir)
  local function norm(p)
    return (vim.fn.fnamemodify(vim.fn.resolve(p), ":p"):gsub("/+$", "")) .. "/"
  end
  local p, d = norm(path), norm(dir)
  return p:sub(1, #d) == d
end

-- The server's working directory: never the project (Neovim's default is its own cwd, usually
-- the checkout), so a Python started without -P cannot import the checkout's files either.
local function server_cwd(root)
  local candidates = { vim.fn.stdpath("cache") .. "/dspy-lsp", vim.loop.os_tmpdir() }
  for _, dir in ipairs(candidates) do
    if dir and dir ~= "" then
      if vim.fn.isdirectory(dir) == 0 then
        pcall(vim.fn.mkdir, dir, "p")
      end
      if vim.fn.isdirectory(dir) == 1 and not inside(dir, root) then
        return dir
      end
    end
  end
  return "/"
end

-- The "dspy-lsp" settings: the settings option, with dismiss_actions as actions.dismiss.
local function server_settings()
  local settings = vim.deepcopy(options.settings or vim.g.dspy_lsp_settings or {})
  local dismiss = options.dismiss_actions
  if dismiss ~= nil then
    if DISMISS[dismiss] then
      local actions = { dismiss = DISMISS[dismiss] }
      settings.actions = vim.tbl_extend("force", settings.actions or {}, actions)
    else
      vim.notify(
        "dspy-lsp: dismiss_actions is true, \"menu\" or false, not " .. vim.inspect(dismiss),
        vim.log.levels.WARN
      )
    end
  end
  -- An empty table would go out as a JSON list.
  return next(settings) == nil and vim.empty_dict() or settings
end

local function client_config(bufnr)
  local root = root_dir(bufnr)
  local settings = { [NAME] = server_settings() }
  return {
    name = NAME,
    cmd = server_cmd(),
    cmd_cwd = server_cwd(root),
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = settings,
    settings = settings,
  }
end

local started = {} -- Neovim 0.7 only: root directory -> client id

local function start(bufnr)
  if vim.bo[bufnr].buftype ~= "" or vim.api.nvim_buf_get_name(bufnr) == "" then
    return
  end
  local config = client_config(bufnr)
  if vim.lsp.start then
    vim.lsp.start(config, { bufnr = bufnr })
    return
  end
  local id = started[config.root_dir]
  if not (id and vim.lsp.get_client_by_id(id)) then
    id = vim.lsp.start_client(config)
    started[config.root_dir] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
end

local function dspy_client(bufnr)
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr })
    or vim.lsp.buf_get_clients(bufnr)
  for _, client in pairs(clients) do
    if client.name == NAME then
      return client
    end
  end
end

-- The buffer's dspy-lsp client, or nil after telling the user it is not attached.
local function attached_client(bufnr)
  local client = dspy_client(bufnr)
  if not client then
    vim.notify("dspy-lsp is not attached to this buffer", vim.log.levels.WARN)
  end
  return client
end

local function running_clients()
  local all = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
  return vim.tbl_filter(function(client)
    return client.name == NAME
  end, all)
end

local function request(client, method, params, handler, bufnr)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

-- Sends a Command to the client's server, as Neovim does after applying a code action's edit.
local function execute(client, command, bufnr)
  local params = { command = command.command, arguments = command.arguments }
  request(client, "workspace/executeCommand", params, function(err)
    if err then
      local message = err.message or vim.inspect(err)
      vim.notify("dspy-lsp " .. command.command .. ": " .. message, vim.log.levels.WARN)
    end
  end, bufnr)
end

-- JSON null arrives as vim.NIL: only real numbers and strings count.
local function num(value)
  return type(value) == "number" and value or 0
end

local function str(value)
  return type(value) == "string" and value ~= "" and value or nil
end

local function plural(n, noun, nouns)
  return string.format("%d %s", n, n == 1 and noun or nouns or noun .. "s")
end

local function sorted_keys(tbl)
  local keys = vim.tbl_keys(type(tbl) == "table" and tbl or {})
  table.sort(keys)
  return keys
end

-- dspy-lsp.status (the server's LmReport) as lines to read, and how loud to say them.
local function describe_status(report)
  local state = str(report.state) or "unknown"
  local head = "dspy-lsp LM: " .. state
  if str(report.model) then
    head = head .. " (" .. report.model .. ")"
  end
  if str(report.detail) and report.detail ~= state then
    head = head .. " — " .. report.detail
  end
  local lines = { head }
  if str(report.off_reason) then
    table.insert(lines, "LM off: " .. report.off_reason)
  end
  local stats = type(report.stats) == "table" and report.stats or {}
  if state ~= "none" then
    local usage = string.format(
      "calls: %d (%d failed), tokens: %d prompt + %d completion",
      num(stats.calls),
      num(stats.failures),
      num(stats.prompt_tokens),
      num(stats.completion_tokens)
    )
    if num(stats.cost_usd) > 0 then -- a local model or an endpoint that reports none costs 0
      usage = usage .. string.format(", cost: $%.4f", stats.cost_usd)
    end
    table.insert(lines, usage)
    local odd = {}
    local counters =
      { "unparsable_replies", "truncated_replies", "dropped_claims", "too_long_to_repair",
        "too_large_to_score" }
    for _, key in ipairs(counters) do
      if num(stats[key]) > 0 then
        table.insert(odd, (key:gsub("_", " ")) .. " " .. stats[key])
      end
    end
    if #odd > 0 then
      table.insert(lines, "replies: " .. table.concat(odd, ", "))
    end
    if num(stats.failures) > 0 and str(stats.last_error) then
      table.insert(lines, "last error: " .. stats.last_error)
    end
  end
  local cache = type(report.cache) == "table" and report.cache or {}
  local cache_line = string.format(
    "cache: %s, %s, %s",
    plural(num(cache.hits), "hit"),
    plural(num(cache.misses), "miss", "misses"),
    plural(num(cache.entries), "entry", "entries")
  )
  if str(cache.degraded_reason) then
    cache_line = cache_line .. " (" .. cache.degraded_reason .. ")"
  end
  table.insert(lines, cache_line)
  table.insert(
    lines,
    string.format(
      "queue: %d pending, %d waiting, %d refused",
      num(report.pending_jobs),
      num(report.waiting_jobs),
      num(report.refused_jobs)
    )
  )
  local versions = {}
  for _, kind in ipairs(sorted_keys(stats.versions)) do
    local version = tostring(stats.versions[kind])
    table.insert(versions, vim.startswith(version, kind) and version or kind .. " " .. version)
  end
  if #versions > 0 then
    table.insert(lines, "programs: " .. table.concat(versions, ", "))
  end
  local problems = type(stats.artifact_problems) == "table" and stats.artifact_problems or {}
  for _, problem in ipairs(problems) do
    table.insert(lines, "program problem: " .. tostring(problem))
  end
  local level = vim.log.levels.ERROR
  if state == "ready" or state == "none" then
    level = vim.log.levels.INFO
  elseif state == "circuit_open" then
    level = vim.log.levels.WARN
  end
  return table.concat(lines, "\n"), level
end

local FILE_STATUS =
  { analyzed = "analysed", syntax_error = "has a syntax error", skipped = "skipped" }

-- dspy-lsp.analyzeFile (FileAnalysed) as one line.
local function describe_file(result, name)
  local status = str(result.status) or "?"
  local lm = str(result.lm) or "unknown"
  local rules = type(result.rules) == "table" and result.rules or {}
  local text = string.format(
    "dspy-lsp: %s %s: %s (%d from the LM)%s; LM %s",
    name,
    FILE_STATUS[status] or status,
    plural(num(result.findings), "finding"),
    num(result.lm_findings),
    #rules > 0 and ": " .. table.concat(rules, ", ") or "",
    lm
  )
  local fine = status == "analyzed" and (lm == "ready" or lm == "none")
  return text, fine and vim.log.levels.INFO or vim.log.levels.WARN
end

-- dspy-lsp.analyzeWorkspace (WorkspaceAnalysed) as one line.
local function describe_workspace(result)
  local parts = {
    string.format("%d of %s analysed", num(result.files), plural(num(result.total_files), "file")),
    string.format(
      "%s (%d from the LM)",
      plural(num(result.findings), "finding"),
      num(result.lm_findings)
    ),
  }
  local problems = {
    { result.skipped, "%d skipped (unreadable)" },
    { result.failed, "%d failed (see the server log)" },
    { result.lm_failures, "the LM failed on %d (rule findings only)" },
  }
  local warn = result.cancelled == true
  for _, problem in ipairs(problems) do
    if num(problem[1]) > 0 then
      table.insert(parts, string.format(problem[2], problem[1]))
      warn = true
    end
  end
  local prefix = result.cancelled == true and "dspy-lsp (cancelled): " or "dspy-lsp: "
  return prefix .. table.concat(parts, ", "), warn and vim.log.levels.WARN or vim.log.levels.INFO
end

-- Runs a dspy-lsp.* command on the client and shows describe(result) with vim.notify.
local function run_command(client, bufnr, command, arguments, describe)
  local params = { command = command, arguments = arguments }
  request(client, "workspace/executeCommand", params, function(err, result)
    if err then
      local message = err.message or vim.inspect(err)
      vim.notify("dspy-lsp " .. command .. ": " .. message, vim.log.levels.ERROR)
    elseif type(result) ~= "table" then
      vim.notify("dspy-lsp " .. command .. ": no answer", vim.log.levels.WARN)
    else
      vim.notify(describe(result))
    end
  end, bufnr)
end

-- The client of the buffer, else the only dspy-lsp client running (one project open).
local function project_client(bufnr)
  local client = dspy_client(bufnr)
  if client then
    return client
  end
  local running = running_clients()
  if #running == 1 then
    return running[1]
  end
  local why = #running == 0 and "dspy-lsp is not running (open a Python file)"
    or "dspy-lsp runs for several projects: run this from a Python file of the one you mean"
  vim.notify(why, vim.log.levels.WARN)
end

local function status()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = project_client(bufnr)
  if client then
    run_command(client, bufnr, "dspy-lsp.status", {}, describe_status)
  end
end

local function analyze_file()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = attached_client(bufnr)
  if not client then
    return
  end
  local name = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ":t")
  vim.notify("dspy-lsp: analysing " .. name .. " …")
  run_command(client, bufnr, "dspy-lsp.analyzeFile", { vim.uri_from_bufnr(bufnr) }, function(result)
    return describe_file(result, name)
  end)
end

local function analyze_workspace()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = project_client(bufnr)
  if client then
    vim.notify("dspy-lsp: analysing " .. tostring(client.config.root_dir) .. " …")
    run_command(client, bufnr, "dspy-lsp.analyzeWorkspace", {}, describe_workspace)
  end
end

local function fix_all()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = attached_client(bufnr)
  if not client then
    return
  end
  local last = vim.api.nvim_buf_line_count(bufnr)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = 0, character = 0 }, ["end"] = { line = last, character = 0 } },
    context = { diagnostics = {}, only = { "source.fixAll.dspy-lsp" } },
  }
  vim.lsp.buf_request(bufnr, "textDocument/codeAction", params, function(err, actions, ctx)
    if ctx.client_id ~= client.id then
      return
    end
    if err then
      vim.notify("dspy-lsp fix all: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    for _, action in ipairs(actions or {}) do
      if action.edit then
        vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
        if action.command then
          -- dspy-lsp.feedback: records the fixes as accepted. vim.lsp.buf.code_action() runs
          -- an action's command itself; this applies the action without it, so it must too.
          execute(client, action.command, bufnr)
        end
        vim.notify(action.title)
        return
      end
    end
    vim.notify("dspy-lsp: nothing to fix")
  end)
end

-- The dashboard: one process per Neovim, its URL read from the first line it prints.
local DASHBOARD_LINE = "^dspy%-lsp dashboard: (http://127%.0%.0%.1:%d+/)$"
local dashboard_job = { id = nil, url = nil, waiting = {} }

local function dashboard_cmd()
  local cmd = options.dashboard_cmd or vim.g.dspy_lsp_dashboard_cmd
  if cmd then
    return cmd
  end
  local python = vim.env.NVIM_DSPY_LSP_PYTHON
  if python and python ~= "" then
    return { python, "-P", "-m", "dspy_lsp", "dashboard", "--port", "0" }
  end
  return { "dspy-lsp", "dashboard", "--port", "0" }
end

local function dashboard_running()
  return dashboard_job.id ~= nil and vim.fn.jobwait({ dashboard_job.id }, 0)[1] == -1
end

-- Calls on_url(url) (or on_url(nil, why)) once the dashboard printed its URL; starts it if needed.
local function dashboard_url(on_url)
  if dashboard_running() then
    if dashboard_job.url then
      on_url(dashboard_job.url)
    else
      table.insert(dashboard_job.waiting, on_url)
    end
    return
  end
  local job = { id = nil, url = nil, waiting = { on_url } }
  local partial, first, stderr = "", nil, {}
  local function settle(url, why)
    local waiting = job.waiting
    job.waiting = {}
    for _, callback in ipairs(waiting) do
      callback(url, why)
    end
  end
  local cmd = dashboard_cmd()
  local ok, id = pcall(vim.fn.jobstart, cmd, {
    cwd = server_cwd(vim.fn.getcwd()),
    on_stdout = function(_, data)
      if first then
        return
      end
      partial = partial .. (data[1] or "")
      if #data < 2 then
        return -- the line goes on in the next chunk
      end
      first = partial:gsub("\r$", "")
      job.url = first:match(DASHBOARD_LINE)
      if job.url then
        settle(job.url)
      else
        settle(nil, "the dashboard printed " .. vim.inspect(first:sub(1, 200)) .. " instead of its URL")
        vim.fn.jobstop(job.id)
      end
    end,
    on_stderr = function(_, data)
      for _, line in ipairs(data) do
        if line ~= "" then
          table.insert(stderr, line)
          if #stderr > 3 then
            table.remove(stderr, 1)
          end
        end
      end
    end,
    on_exit = function(_, code)
      if not job.url then
        local why = "the dashboard exited (code " .. code .. ") before printing its URL"
        if #stderr > 0 then
          why = why .. ": " .. table.concat(stderr, " ")
        end
        settle(nil, why)
      end
      if dashboard_job == job then
        dashboard_job = { id = nil, url = nil, waiting = {} }
      end
    end,
  })
  if not ok or id <= 0 then
    settle(nil, "cannot start " .. table.concat(cmd, " ") .. (ok and "" or (": " .. tostring(id))))
    return
  end
  job.id = id
  dashboard_job = job
end

local function dashboard()
  dashboard_url(vim.schedule_wrap(function(url, why)
    if url then
      vim.notify("dspy-lsp dashboard: " .. url)
    else
      vim.notify("dspy-lsp dashboard: " .. why, vim.log.levels.ERROR)
    end
  end))
end

local function stop_dashboard()
  if dashboard_running() then
    vim.fn.jobstop(dashboard_job.id)
  end
  dashboard_job = { id = nil, url = nil, waiting = {} }
end

local group = vim.api.nvim_create_augroup("dspy_lsp", { clear = true })
vim.api.nvim_create_autocmd("VimLeavePre", { group = group, callback = stop_dashboard })
vim.api.nvim_create_autocmd("FileType", {
  group = group,
  pattern = "python",
  callback = function(args)
    start(args.buf)
  end,
})
local function command(name, fn, desc)
  vim.api.nvim_create_user_command(name, fn, { desc = "dspy-lsp: " .. desc })
end
command("DspyLspFixAll", fix_all, "apply every safe fix")
command("DspyLspStatus", status, "show the LM tier's state")
command("DspyLspAnalyzeFile", analyze_file, "analyse this buffer now (rules and LM)")
command("DspyLspAnalyzeWorkspace", analyze_workspace, "analyse every Python file of the project")
command("DspyLspDashboard", dashboard, "start the dashboard and show its URL")

local function setup(opts)
  options = vim.tbl_extend("force", options, opts or {})
end

-- setup(), and for scripts and tests: the client attached to a buffer and the commands.
local M = {
  setup = setup,
  client = dspy_client,
  fix_all = fix_all,
  status = status,
  analyze_file = analyze_file,
  analyze_workspace = analyze_workspace,
  dashboard = dashboard,
  dashboard_url = dashboard_url,
  stop_dashboard = stop_dashboard,
}
_G.dspy_lsp = M
return M
