-- Drives a real Neovim session against dspy-lsp, then writes what happened as JSON and quits.
--
-- Two scenarios ($NVIM_DSPY_LSP_TEST_SCENARIO):
-- "actions" (the default): open the file, wait for dspy-lsp diagnostics, list the code actions
-- on the DL104 line, apply the DL104 quick fix through vim.lsp.buf.code_action() (the menu
-- answered with its title), which applies the edit and then sends the action's command
-- (dspy-lsp.feedback), write the buffer, wait for the republished diagnostics, then run
-- :DspyLspFixAll on the buffer (not written), then :DspyLspStatus. After each action it waits
-- until no request to the server is in flight, so the feedback command is answered before
-- Neovim quits.
-- "commands": open the file, run :DspyLspAnalyzeFile, :DspyLspStatus and
-- :DspyLspAnalyzeWorkspace and keep what they show (vim.notify), run two of them from a buffer
-- the server is not attached to, then open the code action menu on the DL104 line and keep its
-- titles without choosing one.
-- Every wait is bounded; any failure is recorded in the result's "error" and exits non-zero.
--
-- Environment: NVIM_DSPY_LSP_TEST_FILE (the copy to edit), NVIM_DSPY_LSP_TEST_RESULT (the JSON
-- to write), NVIM_DSPY_LSP_TEST_TIMEOUT_MS (each wait's bound), NVIM_DSPY_LSP_TEST_SCENARIO,
-- NVIM_DSPY_LSP_TEST_OTHER_FILE ("commands": a file of the project left unopened).

local file = assert(vim.env.NVIM_DSPY_LSP_TEST_FILE, "NVIM_DSPY_LSP_TEST_FILE is not set")
local out = assert(vim.env.NVIM_DSPY_LSP_TEST_RESULT, "NVIM_DSPY_LSP_TEST_RESULT is not set")
local timeout = tonumber(vim.env.NVIM_DSPY_LSP_TEST_TIMEOUT_MS or "") or 30000
local scenario = vim.env.NVIM_DSPY_LSP_TEST_SCENARIO or "actions"
local SOURCE = "dspy-lsp"

local result = {
  nvim_version = tostring(vim.version().major .. "." .. vim.version().minor .. "." .. vim.version().patch),
  codes = {},
  titles = {},
  preferred = {},
  codes_after_fix = {},
  scenario = scenario,
}

local function wait_for(what, condition)
  if not vim.wait(timeout, condition, 50) then
    error(string.format("timed out after %d ms waiting for %s", timeout, what), 0)
  end
end

-- The shipped config's own lookup, so the test exercises what users run.
local dspy_client = _G.dspy_lsp.client

local function dspy_diagnostics(bufnr)
  return vim.tbl_filter(function(d)
    return d.source == SOURCE
  end, vim.diagnostic.get(bufnr))
end

local function codes_of(diagnostics)
  local seen, codes = {}, {}
  for _, d in ipairs(diagnostics) do
    local code = tostring(d.code)
    if not seen[code] then
      seen[code] = true
      table.insert(codes, code)
    end
  end
  table.sort(codes)
  return codes
end

-- The LSP form of a vim.diagnostic entry. Neovim 0.10+ keeps the whole original in
-- user_data.lsp; 0.7 keeps only some fields there, so the range is rebuilt (ASCII lines here).
local function to_lsp(d)
  local lsp = (d.user_data and d.user_data.lsp) or {}
  if lsp.range then
    return lsp
  end
  return {
    range = {
      start = { line = d.lnum, character = d.col },
      ["end"] = { line = d.end_lnum, character = d.end_col },
    },
    severity = d.severity,
    message = d.message,
    source = d.source,
    code = d.code,
    data = lsp.data,
  }
end

-- No request from this client is waiting for the server's answer.
local function idle(client)
  return next(client.requests) == nil
end

local function buffer_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") .. "\n"
end

-- Opens the file and waits for its diagnostics; the DL104 one and the LSP diagnostics on its line.
local function open_file()
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[bufnr].filetype

  wait_for("dspy-lsp to attach", function()
    return dspy_client(bufnr) ~= nil
  end)
  local client = dspy_client(bufnr)
  result.offset_encoding = client.offset_encoding

  wait_for("dspy-lsp diagnostics", function()
    return #dspy_diagnostics(bufnr) > 0
  end)
  local diagnostics = dspy_diagnostics(bufnr)
  result.codes = codes_of(diagnostics)
  result.diagnostic_count = #diagnostics

  local target
  for _, d in ipairs(diagnostics) do
    if d.code == "DL104" then
      target = d
      break
    end
  end
  if not target then
    error("no DL104 diagnostic", 0)
  end
  result.dl104_line = target.lnum + 1

  local on_line = {}
  for _, d in ipairs(diagnostics) do
    if d.lnum == target.lnum then
      table.insert(on_line, to_lsp(d))
    end
  end
  return bufnr, client, target, on_line
end

-- textDocument/codeAction on the target's line, asked directly (no menu); records the titles.
local function code_actions(bufnr, client, target, on_line)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = {
      start = { line = target.lnum, character = 0 },
      ["end"] = { line = target.lnum + 1, character = 0 },
    },
    context = { diagnostics = on_line },
  }
  local responses, reason = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", params, timeout)
  if not responses then
    error("textDocument/codeAction: " .. tostring(reason), 0)
  end
  local response = responses[client.id]
  if not response then
    error("no textDocument/codeAction answer from dspy-lsp", 0)
  end
  local err = response.err or response.error
  if err then
    error("textDocument/codeAction failed: " .. (err.message or vim.inspect(err)), 0)
  end

  for _, action in ipairs(response.result or {}) do
    table.insert(result.titles, action.title)
    if action.isPreferred then
      table.insert(result.preferred, action.title)
    end
  end
  return response.result or {}
end

-- Opens the code action menu at the cursor, as a user does; answer(titles) picks a title or nil.
local function code_action_menu(on_line, answer)
  vim.ui.select = function(items, _, on_choice)
    local chosen
    local titles = {}
    for _, item in ipairs(items) do
      local action = item.action or item[2] -- 0.10+: { action, ctx }; before: { client_id, action }
      table.insert(titles, action.title)
    end
    result.menu = titles
    local pick = answer(titles)
    for i, title in ipairs(titles) do
      if title == pick then
        chosen = items[i]
      end
    end
    on_choice(chosen)
  end
  local context = { diagnostics = on_line }
  if vim.fn.has("nvim-0.8") == 1 then
    vim.lsp.buf.code_action({ context = context })
  else
    vim.lsp.buf.code_action(context)
  end
end

-- From now on vim.notify records each message (text and level) in the list returned.
local function record_notes()
  local notes = {}
  vim.notify = function(text, level)
    table.insert(notes, { text = text, level = level or vim.log.levels.INFO })
  end
  return notes
end

-- Runs an Ex command and returns what it showed with vim.notify once it has answered: every
-- message, the last one being the answer ("analysing …" notes come before it).
local function shown_by(command, notes)
  local from = #notes
  vim.cmd(command)
  wait_for(command .. " to show its answer", function()
    for i = from + 1, #notes do
      if not vim.endswith(notes[i].text, "…") then
        return true
      end
    end
    return false
  end)
  local shown = {}
  for i = from + 1, #notes do
    table.insert(shown, notes[i])
  end
  return shown
end

local function run_actions()
  local bufnr, client, target, on_line = open_file()
  local quick_fix
  for _, action in ipairs(code_actions(bufnr, client, target, on_line)) do
    if not quick_fix and action.edit and action.isPreferred and vim.startswith(action.title, "DL104:") then
      quick_fix = action
    end
  end
  if not quick_fix then
    error("no preferred DL104 quick fix with an edit", 0)
  end
  result.applied = quick_fix.title

  -- As a user applies it: the code action menu on the line, the fix picked by its title.
  -- Neovim applies the chosen action's edit, then sends its command to the server.
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  vim.api.nvim_win_set_cursor(0, { target.lnum + 1, target.col })
  code_action_menu(on_line, function()
    return quick_fix.title
  end)
  wait_for("the DL104 quick fix to edit the buffer", function()
    return vim.api.nvim_buf_get_changedtick(bufnr) ~= tick
  end)
  wait_for("the server to answer every request (dspy-lsp.feedback)", function()
    return idle(client)
  end)
  vim.cmd("write")
  result.final_text = table.concat(vim.fn.readfile(file), "\n") .. "\n"

  -- The server sees the edit through Neovim's document sync and republishes without DL104.
  wait_for("diagnostics without DL104", function()
    local now = dspy_diagnostics(bufnr)
    return #now > 0 and not vim.tbl_contains(codes_of(now), "DL104")
  end)
  result.codes_after_fix = codes_of(dspy_diagnostics(bufnr))

  local before = vim.api.nvim_buf_get_changedtick(bufnr)
  vim.cmd("DspyLspFixAll")
  wait_for(":DspyLspFixAll to edit the buffer", function()
    return vim.api.nvim_buf_get_changedtick(bufnr) ~= before
  end)
  wait_for("the server to answer every request after :DspyLspFixAll", function()
    return idle(client)
  end)
  result.fix_all_text = buffer_text(bufnr)

  -- No LM configured in this run.
  local notes = record_notes()
  result.status = shown_by("DspyLspStatus", notes)
end

local function run_commands()
  local notes = record_notes()
  local bufnr, client, target, on_line = open_file()

  result.analyze_file = shown_by("DspyLspAnalyzeFile", notes)
  result.codes_after_analyze_file = codes_of(dspy_diagnostics(bufnr))
  result.status = shown_by("DspyLspStatus", notes)
  result.analyze_workspace = shown_by("DspyLspAnalyzeWorkspace", notes)

  -- The unopened file's diagnostics, published by the workspace run.
  local other = vim.uri_to_bufnr(vim.uri_from_fname(assert(vim.env.NVIM_DSPY_LSP_TEST_OTHER_FILE)))
  wait_for("diagnostics of the unopened file", function()
    return #dspy_diagnostics(other) > 0
  end)
  result.other_codes = codes_of(dspy_diagnostics(other))
  result.other_count = #dspy_diagnostics(other)

  -- From a buffer the server is not attached to: the status still has one project to ask.
  vim.cmd("enew")
  result.status_elsewhere = shown_by("DspyLspStatus", notes)
  result.analyze_file_elsewhere = shown_by("DspyLspAnalyzeFile", notes)
  vim.api.nvim_set_current_buf(bufnr)

  code_actions(bufnr, client, target, on_line)
  vim.api.nvim_win_set_cursor(0, { target.lnum + 1, target.col })
  code_action_menu(on_line, function()
    return nil
  end)
  wait_for("the code action menu", function()
    return result.menu ~= nil
  end)
  wait_for("the server to answer every request", function()
    return idle(client)
  end)
end

local SCENARIOS = { actions = run_actions, commands = run_commands }

local function run()
  local scenario_run = SCENARIOS[scenario]
  if not scenario_run then
    error("unknown NVIM_DSPY_LSP_TEST_SCENARIO " .. scenario, 0)
  end
  scenario_run()
end

local function finish(err)
  result.error = err
  local handle = assert(io.open(out, "w"))
  handle:write(vim.fn.json_encode(result))
  handle:close()
  local clients = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
  for _, client in pairs(clients) do
    vim.lsp.stop_client(client.id)
  end
  vim.wait(5000, function()
    local left = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
    return #left == 0
  end, 50)
  vim.cmd(err and "cquit 1" or "qall!")
end

local ok, err = xpcall(run, debug.traceback)
finish(not ok and tostring(err) or nil)
