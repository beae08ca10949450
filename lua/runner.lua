-- runner: `clipbook run CHAPTER` — runs one chapter top to bottom in this
-- Lua state and writes its document fragment (report/rp_doc.h).
--
-- Cells run in order, each as its own chunk named after the chapter file,
-- padded so its line numbers are the file's. Top-level `local`s are hoisted
-- into the chapter's environment (rp_chapter.h) so later cells see them.
-- A failing cell becomes an error block (message + traceback), is written
-- to stderr, and the run exits 1; the cells after it are not run (their
-- code is still echoed, marked as skipped in the provenance) but all prose
-- is still written. A cell with error=true records its error and the run
-- goes on (and exits 0 when nothing else failed).
local rt = require "clipbook.runtime"
local notebook = require "notebook"

local M = {}

local USAGE = [[
usage: clipbook run CHAPTER.lua [options]
  --profile P      mini | smoke | paper ... (default: $CLIPBOOK_PROFILE or mini)
  --profiles FILE  the profiles file (default: profiles.lua beside the chapter)
  --out FILE       the fragment (default: build/doc/<chapter>.json)
  --cache DIR      the memo store (default: $CLIPBOOK_CACHE or build/cache)
  --seed N         the engine's random seed (default: profile.seed or 0)
  --threads N      compute threads (default: $OMP_NUM_THREADS or all cores)
  --of I/N         show "[I/N]" in progress lines (set by make report)
  --quiet          no progress on stderr
]]

local OBJECT = { __json = "object" }

local function perr(fmt, ...)
  io.stderr:write("clipbook run: " .. string.format(fmt, ...) .. "\n")
end

local function parse_args(args)
  local o = { profile = os.getenv("CLIPBOOK_PROFILE") or "mini", cache = os.getenv("CLIPBOOK_CACHE") or "build/cache" }
  local i = 1
  local function val(name)
    i = i + 1
    if args[i] == nil then error("option " .. name .. " needs a value", 0) end
    return args[i]
  end
  while i <= #args do
    local a = args[i]
    if a == "--profile" then o.profile = val(a)
    elseif a == "--profiles" then o.profiles = val(a)
    elseif a == "--out" then o.out = val(a)
    elseif a == "--cache" then o.cache = val(a)
    elseif a == "--seed" then o.seed = math.tointeger(tonumber(val(a))) or error("--seed needs an integer", 0)
    elseif a == "--of" then o.of = val(a)
    elseif a == "--threads" then o.threads = math.tointeger(tonumber(val(a))) or error("--threads needs an integer", 0)
    elseif a == "--quiet" then o.quiet = true
    elseif a == "-h" or a == "--help" then o.help = true
    elseif a:sub(1, 1) == "-" then error("unknown option " .. a, 0)
    elseif o.chapter then error("one chapter per run (got " .. o.chapter .. " and " .. a .. ")", 0)
    else o.chapter = a end
    i = i + 1
  end
  return o
end

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end
local function stem(p) return (p:match("([^/]*)$"):gsub("%.lua$", "")) end

local function load_profile(o)
  local file = o.profiles
  if not file then
    local cand = dirname(o.chapter) .. "/profiles.lua"
    local f = io.open(cand, "r")
    if f then f:close(); file = cand end
  end
  local p = { name = o.profile }
  if not file then return p end
  local chunk, err = loadfile(file, "t", { math = math, string = string, table = table })
  if not chunk then return nil, err end
  local ok, all = pcall(chunk)
  if not ok then return nil, file .. ": " .. tostring(all) end
  if type(all) ~= "table" then return nil, file .. ": must return a table of profiles" end
  local sel = all[o.profile]
  if type(sel) ~= "table" then
    local names = {}
    for k in pairs(all) do names[#names + 1] = tostring(k) end
    table.sort(names)
    return nil, string.format("unknown profile '%s' (%s has: %s)", o.profile, file, table.concat(names, ", "))
  end
  for k, v in pairs(sel) do p[k] = v end
  p.name = o.profile
  return p
end

local function truthy(s, default, key, cell)
  if s == nil then return default end
  if s == "true" or s == "yes" or s == "1" then return true end
  if s == "false" or s == "no" or s == "0" then return false end
  error(string.format("line %d: option %s=%s must be true or false", cell.line, key, s), 0)
end

-- keep the chapter's frames, drop the runner's
local function clean_traceback(tb, cellno)
  local keep = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("xpcall", 1, true) or line:find("runner.lua", 1, true) then break end
    if not line:find("^stack traceback:") and not line:find("notebook.lua:", 1, true) then
      line = line:gsub("in main chunk", "in cell " .. cellno)
      keep[#keep + 1] = line:gsub("^%s+", "  ")
    end
  end
  return "stack traceback:\n" .. table.concat(keep, "\n")
end

function M.run(args)
  local ok, o = pcall(parse_args, args)
  if not ok then perr("%s", o); io.stderr:write(USAGE); return 2 end
  if o.help then io.stdout:write(USAGE); return 0 end
  if not o.chapter then io.stderr:write(USAGE); return 2 end
  local cells, src = rt.parse(o.chapter)
  if not cells then perr("%s", src); return 1 end
  local profile, perr_msg = load_profile(o)
  if not profile then perr("%s", perr_msg); return 1 end
  local name = stem(o.chapter)
  local out = o.out or ("build/doc/" .. name .. ".json")
  local store, serr = rt.memo_open(o.cache, name)
  if not store then perr("%s", serr); return 1 end
  local seed = o.seed or math.tointeger(profile.seed) or 0
  local cb = require "clipbook"
  cb.seed(seed)
  if o.threads then rt.set_threads(o.threads) end

  local t_start = rt.clock()
  local doc = {
    format = "clipbook-doc/1", chapter = name, source = o.chapter,
    provenance = setmetatable({
      engine_version = rt.engine_version(), profile = o.profile, seed = seed,
      threads = rt.threads(), machine = rt.machine(), cache = o.cache,
      started = os.date("!%Y-%m-%dT%H:%M:%SZ"), cells = {},
    }, OBJECT),
    results = setmetatable({}, OBJECT),
    blocks = {},
  }

  -- redrawn lines only on a terminal that this run has to itself (make -j
  -- runs chapters side by side: plain lines then)
  local mf = os.getenv("MAKEFLAGS") or ""
  local tty = rt.isatty(2) and not mf:find("jobserver", 1, true) and not mf:find("%-j")
  local quiet = o.quiet
  local cur_out, cur_stats, cur_cell = {}, { hits = 0, misses = 0 }, nil
  local function flush_output()
    if #cur_out > 0 then
      local text = table.concat(cur_out)
      cur_out = {}
      if not cur_cell or cur_cell.show_output then
        doc.blocks[#doc.blocks + 1] = { type = "output", text = text }
      end
    end
  end

  local base = setmetatable({}, { __index = _G })
  local chapter_env
  local ctx = {
    doc = doc, store = store, profile = profile, quiet = quiet, tty = tty, seed = seed,
    sources = { ["@" .. o.chapter] = src },
    flush_output = flush_output,
    out = function() return cur_out end,
    stats = function() return cur_stats end,
    cell = function() return cur_cell end,
    check_spec = rt.check_spec,
  }
  local api = notebook.new(ctx)
  for k, v in pairs(api) do base[k] = v end
  -- the chapter's own variables; memo's dependency scan reads them
  chapter_env = setmetatable({}, { __index = base })
  chapter_env._G = chapter_env
  ctx.chapter_env = chapter_env

  local ncode = 0
  for _, c in ipairs(cells) do if c.kind == "code" then ncode = ncode + 1 end end
  local prefix = o.of and ("[" .. o.of .. "] ") or ""

  local failed, stopped = false, false
  local code_index = 0

  local function error_block(cellno, title, line, msg, tb)
    doc.blocks[#doc.blocks + 1] = { type = "error", cell = cellno, title = title, line = line,
                                    message = msg, traceback = tb }
    if tty and not quiet then io.stderr:write("\r\27[K") end
    io.stderr:write(msg .. "\n" .. (tb or "") .. "\n")
  end

  local function interpolate(cell)
    local text = cell.text
    local pieces, pos = {}, 1
    while true do
      local a, b, expr = text:find("{{(.-)}}", pos)
      if not a then break end
      pieces[#pieces + 1] = text:sub(pos, a - 1)
      local line = cell.first
      for _ in text:sub(1, a - 1):gmatch("\n") do line = line + 1 end
      local chunk, err = load(string.rep("\n", line - 1) .. "return " .. expr, "@" .. o.chapter, "t", chapter_env)
      local okv, val
      if chunk then
        okv, val = xpcall(chunk, function(e) return tostring(e) end)
        if okv then okv, val = pcall(notebook.fmt_value, val) end
        if okv == false and type(val) == "string" and not val:find(o.chapter, 1, true) then
          val = o.chapter .. ":" .. line .. ": " .. val
        end
      else
        okv, val = false, err
      end
      if okv then
        pieces[#pieces + 1] = val
      else
        pieces[#pieces + 1] = "**??**"
        if not stopped then
          failed = true
          error_block(nil, "inline {{" .. expr .. "}}", line, val, nil)
        end
      end
      pos = b + 1
    end
    pieces[#pieces + 1] = text:sub(pos)
    return table.concat(pieces)
  end

  for _, cell in ipairs(cells) do
    if cell.kind == "markdown" then
      cur_cell = nil
      if cell.text:find("%S") then
        doc.blocks[#doc.blocks + 1] = { type = "markdown", text = interpolate(cell) }
      end
    else
      code_index = code_index + 1
      local okopt, opts = pcall(function()
        return {
          echo = truthy(cell.opts.echo, true, "echo", cell),
          eval = truthy(cell.opts.eval, true, "eval", cell),
          output = truthy(cell.opts.output, true, "output", cell),
          error = truthy(cell.opts.error, false, "error", cell),
          numbers = truthy(cell.opts.numbers, false, "numbers", cell),
        }
      end)
      for k in pairs(cell.opts) do
        if not ({ echo = 1, eval = 1, output = 1, error = 1, label = 1, caption = 1, numbers = 1 })[k] then
          io.stderr:write(string.format("%s:%d: warning: unknown cell option '%s'\n", o.chapter, cell.line, k))
        end
      end
      if not okopt then
        failed = true
        error_block(code_index, cell.title, cell.line, o.chapter .. ":" .. opts, nil)
        opts = { echo = true, eval = false, output = true, error = false }
      end
      cur_cell = { opts = cell.opts, show_output = opts.output }
      if opts.echo and cell.text:find("%S") then
        doc.blocks[#doc.blocks + 1] = { type = "code", lang = "lua", text = cell.text, cell = code_index,
                                        title = cell.title ~= "" and cell.title or nil, line = cell.first,
                                        numbers = opts.numbers or nil }
      end
      local prov = { index = code_index, title = cell.title, line = cell.line, wall_s = 0,
                     memo_hits = 0, memo_misses = 0 }
      doc.provenance.cells[#doc.provenance.cells + 1] = prov
      if not opts.eval then
        prov.skipped = "eval=false"
      elseif stopped then
        prov.skipped = "an earlier cell failed"
      else
        if not quiet then
          local line = string.format('%s%s  cell %d/%d%s', prefix, name, code_index, ncode,
            cell.title ~= "" and (' "' .. cell.title .. '"') or "")
          if tty then io.stderr:write("\r\27[K" .. line) else io.stderr:write(line .. "\n") end
        end
        cur_stats = { hits = 0, misses = 0 }
        local t0 = rt.clock()
        local chunk, err = load(cell.code, "@" .. o.chapter, "t", chapter_env)
        local okc, e
        if not chunk then
          okc, e = false, { msg = err, tb = nil }
        else
          okc, e = xpcall(chunk, function(m)
            local msg = type(m) == "string" and m or tostring(m)
            return { msg = msg, tb = debug.traceback("", 2) }
          end)
        end
        flush_output()
        prov.wall_s = math.floor((rt.clock() - t0) * 1000 + 0.5) / 1000
        prov.memo_hits, prov.memo_misses = cur_stats.hits, cur_stats.misses
        if not okc then
          local tb = e.tb and clean_traceback(e.tb, code_index) or nil
          -- the line the error points at, when it is in this chapter
          local eline = tonumber(e.msg:match(o.chapter:gsub("%p", "%%%0") .. ":(%d+):")) or cell.first
          error_block(code_index, cell.title ~= "" and cell.title or nil, eline, e.msg, tb)
          prov.error = true
          if not opts.error then failed = true; stopped = true end
        end
      end
      cur_cell = nil
    end
  end
  if tty and not quiet then io.stderr:write("\r\27[K") end
  doc.provenance.wall_s = math.floor((rt.clock() - t_start) * 1000 + 0.5) / 1000
  doc.provenance.status = failed and "failed" or "ok"

  local okj, json = pcall(rt.json, doc)
  if not okj then perr("cannot write the document: %s", json); return 1 end
  rt.mkdirs(dirname(out))
  local okw, werr = rt.write_atomic(out, json .. "\n")
  if not okw then perr("%s", werr); return 1 end
  if not quiet then
    io.stderr:write(string.format("%s%s  %s in %.1fs -> %s\n", prefix, name, failed and "FAILED" or "done",
      doc.provenance.wall_s, out))
  end
  store:close()
  return failed and 1 or 0
end

return M
