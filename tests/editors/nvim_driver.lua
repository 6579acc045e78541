-- Drives a real Neovim session against dspy-lsp, then writes what happened as JSON and quits.
--
-- Steps: open the file, wait for dspy-lsp diagnostics, list the code actions on the DL104
-- line, apply the DL104 quick fix through vim.lsp.buf.code_action() (the menu answered with
-- its title), which applies the edit and then sends the action's command (dspy-lsp.feedback),
-- write the buffer, wait for the republished diagnostics, then run :DspyLspFixAll on the buffer
-- (not written). After each action it waits until no request to the server is in flight, so
-- the feedback command is answered before Neovim quits.
-- Every wait is bounded; any failure is recorded in the result's "error" and exits non-zero.
--
-- Environment: NVIM_DSPY_LSP_TEST_FILE (the copy to edit), NVIM_DSPY_LSP_TEST_RESULT (the JSON
-- to write), NVIM_DSPY_LSP_TEST_TIMEOUT_MS (each wait's bound).

local file = assert(vim.env.NVIM_DSPY_LSP_TEST_FILE, "NVIM_DSPY_LSP_TEST_FILE is not set")
local out = assert(vim.env.NVIM_DSPY_LSP_TEST_RESULT, "NVIM_DSPY_LSP_TEST_RESULT is not set")
local timeout = tonumber(vim.env.NVIM_DSPY_LSP_TEST_TIMEOUT_MS or "") or 30000
local SOURCE = "dspy-lsp"

local result = {
  nvim_version = tostring(vim.version().major .. "." .. vim.version().minor .. "." .. vim.version().patch),
  codes = {},
  titles = {},
  preferred = {},
  codes_after_fix = {},
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

local function run()
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

  local quick_fix
  for _, action in ipairs(response.result or {}) do
    table.insert(result.titles, action.title)
    if action.isPreferred then
      table.insert(result.preferred, action.title)
    end
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
  vim.ui.select = function(items, _, on_choice)
    local chosen
    result.menu = {}
    for _, item in ipairs(items) do
      local action = item.action or item[2] -- 0.10+: { action, ctx }; before: { client_id, action }
      table.insert(result.menu, action.title)
      if action.title == quick_fix.title then
        chosen = item
      end
    end
    on_choice(chosen)
  end
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  vim.api.nvim_win_set_cursor(0, { target.lnum + 1, target.col })
  local context = { diagnostics = on_line }
  if vim.fn.has("nvim-0.8") == 1 then
    vim.lsp.buf.code_action({ context = context })
  else
    vim.lsp.buf.code_action(context)
  end
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
