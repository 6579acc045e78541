-- The test's init: loads editors/neovim/init.lua as a user's init.lua would. Only test
-- plumbing lives here; the server command comes from $NVIM_DSPY_LSP_PYTHON, which the
-- shipped config reads itself.
local here = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h")

vim.opt.swapfile = false
vim.opt.shadafile = "NONE"
vim.cmd("filetype on")

local settings = vim.env.NVIM_DSPY_LSP_TEST_SETTINGS
if settings and settings ~= "" then
  vim.g.dspy_lsp_settings = vim.fn.json_decode(settings)
end

dofile(here .. "/../../editors/neovim/init.lua")
