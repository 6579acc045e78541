-- dspy-lsp for Neovim: start the server for Python buffers, one client per project root.
--
-- Works on Neovim 0.7 and later: it uses vim.lsp.start where it exists (0.8+, the usual way on
-- 0.9/0.10/0.11) and falls back to vim.lsp.start_client + vim.lsp.buf_attach_client on 0.7.
-- Copy it into your init.lua, or keep it as a file and `dofile()` it from there.
--
-- Options, read when a Python buffer opens (set them before that):
--   vim.g.dspy_lsp_cmd        the server command as a list; default { "dspy-lsp", "serve" }
--   $NVIM_DSPY_LSP_PYTHON     a Python that has dspy-lsp installed (a virtualenv's, say): runs
--                             `<python> -P -m dspy_lsp.server`; vim.g.dspy_lsp_cmd wins over it
--   vim.g.dspy_lsp_settings   the settings table, sent as initializationOptions under the
--                             "dspy-lsp" key and answered on workspace/configuration, e.g.
--                             { ignore = { "DL115" }, lm = { model = "openai/gpt-4o-mini" } }
--
-- The server runs from a directory outside the project (cmd_cwd: stdpath("cache")/dspy-lsp, else
-- the temporary directory), and Python with -P, so no file of the checkout is imported in place
-- of a Python module. Keep LM endpoints and key variables in this file or in
-- ~/.config/dspy-lsp/config.toml, not in a project's files.
--
-- It also defines :DspyLspFixAll, which applies every safe fix in the current buffer
-- (the server's source.fixAll.dspy-lsp code action).

local NAME = "dspy-lsp"
local ROOT_MARKERS = { "pyproject.toml", "setup.cfg", "setup.py", ".git" }

local function server_cmd()
  if vim.g.dspy_lsp_cmd then
    return vim.g.dspy_lsp_cmd
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

local function client_config(bufnr)
  local root = root_dir(bufnr)
  local settings = { [NAME] = vim.g.dspy_lsp_settings or vim.empty_dict() }
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

-- Sends a Command to the client's server, as Neovim does after applying a code action's edit.
local function execute(client, command, bufnr)
  local params = { command = command.command, arguments = command.arguments }
  local function on_answer(err)
    if err then
      local message = err.message or vim.inspect(err)
      vim.notify("dspy-lsp " .. command.command .. ": " .. message, vim.log.levels.WARN)
    end
  end
  if vim.fn.has("nvim-0.11") == 1 then
    client:request("workspace/executeCommand", params, on_answer, bufnr)
  else
    client.request("workspace/executeCommand", params, on_answer, bufnr)
  end
end

local function fix_all()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = dspy_client(bufnr)
  if not client then
    vim.notify("dspy-lsp is not attached to this buffer", vim.log.levels.WARN)
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

local group = vim.api.nvim_create_augroup("dspy_lsp", { clear = true })
vim.api.nvim_create_autocmd("FileType", {
  group = group,
  pattern = "python",
  callback = function(args)
    start(args.buf)
  end,
})
vim.api.nvim_create_user_command("DspyLspFixAll", fix_all, { desc = "dspy-lsp: apply every safe fix" })

-- For scripts and tests: the client attached to a buffer, and fix-all.
_G.dspy_lsp = { client = dspy_client, fix_all = fix_all }
