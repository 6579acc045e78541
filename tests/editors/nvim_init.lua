-- The test's init: loads editors/neovim/init.lua as a user's init.lua would. Only test
-- plumbing lives here; the server command comes from $NVIM_DSPY_LSP_PYTHON, which the
-- shipped config reads itself. Settings arrive either as vim.g.dspy_lsp_settings
-- ($NVIM_DSPY_LSP_TEST_SETTINGS) or through setup() ($NVIM_DSPY_LSP_TEST_OPTIONS), both JSON.
local here = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h")

vim.opt.swapfile = false
vim.opt.shadafile = "NONE"
vim.cmd("filetype on")

local settings = vim.env.NVIM_DSPY_LSP_TEST_SETTINGS
if settings and settings ~= "" then
  vim.g.dspy_lsp_settings = vim.fn.json_decode(settings)
end

local dspy_lsp = dofile(here .. "/../../editors/neovim/init.lua")

local options = vim.env.NVIM_DSPY_LSP_TEST_OPTIONS
if options and options ~= "" then
  dspy_lsp.setup(vim.fn.json_decode(options))
end
