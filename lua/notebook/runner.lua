-- runner: `clipbook run CHAPTER` — runs one chapter top to bottom in this
-- Lua state and writes its document fragment (report/rp_doc.h).
--
-- Cells run in order, each as its own chunk named after the chapter file,
-- padded so its line numbers are the file's. Top-level `local`s are hoisted
-- into the chapter's environment (nb_chapter.h) so later cells see them.
-- A failing cell becomes an error block (message + traceback), is written
-- to stderr, and the run exits 1; the cells after it are not run (their
-- code is still echoed, marked as skipped in the provenance) but all prose
-- is still written. A cell with error=true records its error and the run
-- goes on (and exits 0 when nothing else failed).
--
-- Limits: a cell (and every memo function it calls) runs under a time
-- limit, checked by a count hook (C engine calls are not interrupted, but
-- they return); its printed output is shown up to a cap, the whole text
-- going to build/doc/<chapter>.out/cellK.txt. The fragment is always valid
-- UTF-8 JSON: invalid bytes become U+FFFD, with a warning block and a
-- warning on stderr naming where they were.
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
  --shard I/N      compute only share I (0 <= I < N) of the frozen-feature
                   chunks, into the memo store, for chapters/extract.lua
                   (default: $CLIPBOOK_SHARD); the next run without it assembles
  --quiet          no progress on stderr
Environment: CLIPBOOK_CELL_TIMEOUT (seconds per cell; overrides the
profile's cell_timeout, default 3600; a cell's timeout= option overrides it).
]]

local OBJECT = { __json = "object" }

local function perr(fmt, ...)
  io.stderr:write("clipbook run: " .. string.format(fmt, ...) .. "\n")
end

local function parse_args(args)
  local o = { profile = os.getenv("CLIPBOOK_PROFILE") or "mini", cache = os.getenv("CLIPBOOK_CACHE") or "build/cache",
              shard = os.getenv("CLIPBOOK_SHARD") }
  if o.shard == "" then o.shard = nil end
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
    elseif a == "--shard" then o.shard = val(a)
    elseif a == "--threads" then o.threads = math.tointeger(tonumber(val(a))) or error("--threads needs an integer", 0)
    elseif a == "--quiet" then o.quiet = true
    elseif a == "-h" or a == "--help" then o.help = true
    elseif a:sub(1, 1) == "-" then error("unknown option " .. a, 0)
    elseif o.chapter then error("one chapter per run (got " .. o.chapter .. " and " .. a .. ")", 0)
    else o.chapter = a end
    i = i + 1
  end
  if o.shard then
    local si, sn = o.shard:match("^(%d+)/(%d+)$")
    si, sn = math.tointeger(tonumber(si)), math.tointeger(tonumber(sn))
    if not si or sn < 1 or si >= sn then
      error("--shard (or CLIPBOOK_SHARD) must be I/N with 0 <= I < N, got '" .. o.shard .. "'", 0)
    end
    o.shard = { index = si, count = sn }
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

local function truthy(s, default, key, cell, file)
  if s == nil then return default end
  if s == "true" or s == "yes" or s == "1" then return true end
  if s == "false" or s == "no" or s == "0" then return false end
  error(string.format("%s:%d: option %s=%s must be true or false", file, cell.line, key, s), 0)
end

local DEFAULT_TIMEOUT = 3600
local DEFAULT_OUT_LINES, DEFAULT_OUT_BYTES = 200, 64 * 1024

local function commas(n)
  local s = tostring(math.tointeger(n) or n)
  repeat
    local k
    s, k = s:gsub("^(%d+)(%d%d%d)", "%1,%2")
  until k == 0
  return s
end

local function human_bytes(n)
  if n >= 1e6 then return string.format("%.1f MB", n / 1e6) end
  if n >= 1e3 then return string.format("%.1f kB", n / 1e3) end
  return string.format("%d bytes", n)
end

-- a positive number of seconds from an option, the environment or the
-- profile; nil when absent; an error naming where it came from otherwise
local function seconds(v, where)
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n <= 0 or n ~= n then error(where .. ": a time limit must be a positive number of seconds, got '" .. tostring(v) .. "'", 0) end
  return n
end

-- s with every invalid UTF-8 sequence replaced by U+FFFD; also the number
-- replaced and the (1-based) byte position of the first one. Lua's utf8
-- library is strict (no overlongs, surrogates or code points past U+10FFFF).
local function fix_utf8(s)
  local ok, bad = utf8.len(s)
  if ok then return s, 0 end
  local parts, n, first, i = {}, 0, bad, 1
  while true do
    local len, p = utf8.len(s, i)
    if len then parts[#parts + 1] = s:sub(i); break end
    parts[#parts + 1] = s:sub(i, p - 1)
    parts[#parts + 1] = "\u{FFFD}"
    n = n + 1
    i = p + 1
    if i > #s then break end
  end
  return table.concat(parts), n, first
end
M.fix_utf8 = fix_utf8

-- every invalid UTF-8 sequence of a text: { {pos=, line=, col=, byte=} }
local function bad_utf8_positions(s)
  local out, i, line, line_start = {}, 1, 1, 1
  while i <= #s do
    local len, p = utf8.len(s, i)
    if len then break end
    for _ in s:sub(i, p - 1):gmatch("\n") do line = line + 1 end
    local nl = s:sub(1, p - 1):match(".*()\n")
    line_start = nl and (nl + 1) or 1
    out[#out + 1] = { pos = p, line = line, col = p - line_start + 1, byte = s:byte(p) }
    for _ in s:sub(p, p):gmatch("\n") do line = line + 1 end
    i = p + 1
  end
  return out
end

-- the names a cell's top-level `local`s declare (the hoisting turned them
-- into chapter variables, so Lua's messages call them globals)
local function hoisted_names(text, code, names)
  if not code then return end
  local body = code:gsub("^\n*", "")
  for a in text:gmatch("()local%s") do
    -- the hoisted code has six spaces where the text has `local `
    if body:sub(a, a + 5) == "      " then
      local list = text:sub(a + 6):match("^%s*function%s+([%a_][%w_]*)")
      if list then names[list] = true
      else
        list = text:sub(a + 6):match("^%s*([%a_][%w_%s,<>]*)")
        for n in (list or ""):gmatch("[%a_][%w_]*") do
          if n ~= "const" and n ~= "close" then names[n] = true end
        end
      end
    end
  end
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
  if not cells then
    -- the parser counts lines; say them in the file:line: form
    perr("%s", (tostring(src):gsub("^line (%d+): ", function(l) return o.chapter .. ":" .. l .. ": " end)))
    return 1
  end
  local profile, perr_msg = load_profile(o)
  if not profile then perr("%s", perr_msg); return 1 end
  local okl, limits = pcall(function()
    return {
      timeout = seconds(os.getenv("CLIPBOOK_CELL_TIMEOUT"), "CLIPBOOK_CELL_TIMEOUT")
                or seconds(profile.cell_timeout, "profile " .. o.profile .. ": cell_timeout") or DEFAULT_TIMEOUT,
      lines = math.tointeger(profile.output_max_lines) or DEFAULT_OUT_LINES,
      bytes = math.tointeger(profile.output_max_bytes) or DEFAULT_OUT_BYTES,
    }
  end)
  if not okl then perr("%s", limits); return 1 end
  local name = stem(o.chapter)
  local out = o.out or ("build/doc/" .. name .. ".json")
  -- full outputs of truncated cells: build/doc/NN-name.out/cellK.txt
  local side_dir = dirname(out) .. "/" .. (out:match("([^/]*)$"):gsub("%.json$", "")) .. ".out"
  local store, serr = rt.memo_open(o.cache, name)
  -- read by chapters/study.lua's S.extract (not a profile field: a shard
  -- computes the same entries, under the same keys, as an ordinary run)
  rt.shard = o.shard
  if not store then perr("%s", serr); return 1 end
  local seed = o.seed or math.tointeger(profile.seed) or 0
  local cb = require "clipbook"
  cb.seed(seed)
  if o.threads then rt.set_threads(o.threads) end
  -- the device: CLIPBOOK_DEVICE, else the profile's `device`, else auto
  -- (engine/en_device.h); chapters never branch on it
  local okd, derr = pcall(cb.select_device, profile.device)
  if not okd then perr("%s", derr); return 1 end

  local t_start = rt.clock()
  local doc = {
    format = "clipbook-doc/1", chapter = name, source = o.chapter,
    provenance = setmetatable({
      engine_version = rt.engine_version(), profile = o.profile, seed = seed,
      threads = rt.threads(), machine = rt.machine(), compute = rt.compute(), cache = o.cache, device = cb.device(),
      -- how idle OpenMP threads waited (lua/cli/cli_main.c): timing only, never results
      wait = os.getenv("OMP_WAIT_POLICY") and ("OMP_WAIT_POLICY=" .. os.getenv("OMP_WAIT_POLICY")) or os.getenv("CLIPBOOK_WAIT"),
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

  local function warn(msg)
    if tty and not quiet then io.stderr:write("\r\27[K") end
    io.stderr:write(msg .. "\n")
  end
  local function warning_block(title, text)
    doc.blocks[#doc.blocks + 1] = { type = "callout", kind = "warning", title = title, text = text }
  end

  -- Printed output. Pieces go through take(): shown (into `pending`, then
  -- an output block) until the cell's cap, then only into the side file.
  local cur_out, cur_stats, cur_cell = {}, { hits = 0, misses = 0 }, nil
  local pending = {}
  local function take(piece)
    local c = cur_cell
    if not c then pending[#pending + 1] = piece; return end
    if not c.show_output then return end
    local nl = 0
    for _ in piece:gmatch("\n") do nl = nl + 1 end
    c.total_bytes, c.total_lines = c.total_bytes + #piece, c.total_lines + nl
    if c.side then c.side:write(piece); return end
    local room_b, room_l = limits.bytes - c.shown_bytes, limits.lines - c.shown_lines
    local cut = #piece
    if nl >= room_l then   -- end of the last line that still fits
      local k, at = 0, 0
      while k < room_l do at = piece:find("\n", at + 1, true); k = k + 1 end
      cut = math.min(cut, at)
    end
    if cut > room_b then
      cut = room_b
      while cut > 0 and (piece:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
    end
    local shown = piece:sub(1, cut)
    pending[#pending + 1] = shown
    c.shown[#c.shown + 1] = shown
    c.shown_bytes = c.shown_bytes + #shown
    for _ in shown:gmatch("\n") do c.shown_lines = c.shown_lines + 1 end
    if cut < #piece then
      rt.mkdirs(side_dir)
      c.side_path = side_dir .. "/cell" .. c.index .. ".txt"
      local f, ferr = io.open(c.side_path, "wb")
      if not f then warn("clipbook run: " .. tostring(ferr)); f = { write = function() end, close = function() end } end
      c.side = f
      f:write(table.concat(c.shown))
      f:write(piece:sub(cut + 1))
    end
  end
  local function drain()
    local buf = cur_out
    cur_out = {}
    for i = 1, #buf do take(buf[i]) end
  end
  local function flush_output()
    drain()
    if #pending == 0 then return end
    local text = table.concat(pending)
    pending = {}
    if text == "" then return end
    if cur_cell and not cur_cell.show_output then return end
    local fixed, nbad, first = fix_utf8(text)
    doc.blocks[#doc.blocks + 1] = { type = "output", text = fixed }
    if nbad > 0 then
      local where = cur_cell and string.format("%s:%d: cell %d", o.chapter, cur_cell.line, cur_cell.index) or o.chapter
      local msg = string.format("%s printed invalid UTF-8 (%d sequence%s, the first byte 0x%02X at byte %d of the output); shown as U+FFFD",
        where, nbad, nbad == 1 and "" or "s", text:byte(first), first)
      warn(where .. ": warning: " .. msg:sub(#where + 2))
      warning_block("Invalid UTF-8", "`" .. msg .. "`")
    end
  end

  local base = setmetatable({}, { __index = _G })
  local chapter_env
  local ctx = {
    doc = doc, store = store, profile = profile, quiet = quiet, tty = tty, seed = seed,
    sources = { ["@" .. o.chapter] = src },
    flush_output = flush_output,
    drain_output = drain,
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
  local hoisted = {}
  for _, c in ipairs(cells) do
    if c.kind == "code" then ncode = ncode + 1; hoisted_names(c.text, c.code, hoisted) end
  end
  for k = 1, ncode do os.remove(side_dir .. "/cell" .. k .. ".txt") end  -- never a stale full output
  local prefix = o.of and ("[" .. o.of .. "] ") or ""

  -- invalid UTF-8 in the chapter file: each reported at its line, and
  -- shown after the block of the cell that holds it
  local bad_src = {}
  for _, b in ipairs(bad_utf8_positions(src)) do
    local owner = 1
    for ci, c in ipairs(cells) do if c.line <= b.line then owner = ci end end
    local msg = string.format("%s:%d: invalid UTF-8 (byte 0x%02X at byte %d of the file, column %d); shown as U+FFFD",
      o.chapter, b.line, b.byte, b.pos, b.col)
    warn(msg:gsub(": invalid", ": warning: invalid", 1))
    bad_src[owner] = bad_src[owner] or {}
    table.insert(bad_src[owner], msg)
  end
  local function src_warnings(ci)
    if bad_src[ci] then warning_block("Invalid UTF-8", "`" .. table.concat(bad_src[ci], "`\n\n`") .. "`") end
  end

  local failed, stopped = false, false
  local code_index = 0

  -- Lua says "global 'x'" of a chapter local the hoisting made a variable
  local function as_written(msg)
    return (msg:gsub("%(global '([%a_][%w_]*)'%)", function(n)
      if hoisted[n] then return "(local '" .. n .. "')" end
    end))
  end

  local function error_block(cellno, title, line, msg, tb)
    doc.blocks[#doc.blocks + 1] = { type = "error", cell = cellno, title = title, line = line,
                                    message = msg, traceback = tb }
    if tty and not quiet then io.stderr:write("\r\27[K") end
    io.stderr:write(msg .. "\n" .. (tb or "") .. "\n")
  end

  -- The time limit: a count hook looks at the clock every LIMIT_COUNT VM
  -- instructions (~0.1-1 ms) and raises once the deadline has passed, again
  -- and again, so a pcall inside the chapter cannot swallow it for long.
  local LIMIT_COUNT = 100000
  local TIMEOUT_TAG = "\0clipbook-timeout\0"
  local function arm(limit_s, what)
    local deadline = rt.clock() + limit_s
    debug.sethook(function()
      if rt.clock() > deadline then
        local info = debug.getinfo(2, "Sl")
        local at = ""
        if info and info.currentline and info.currentline > 0 and info.source:sub(1, 1) == "@" then
          at = info.source:sub(2) .. ":" .. info.currentline .. ": "
        end
        error(TIMEOUT_TAG .. at .. string.format("%s exceeded its time limit of %g s (set timeout= in the cell's options, the profile's cell_timeout or CLIPBOOK_CELL_TIMEOUT)",
          what, limit_s), 0)
      end
    end, "", LIMIT_COUNT)
  end
  local function disarm() debug.sethook() end

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
        arm(limits.timeout, "inline {{" .. expr .. "}}")
        okv, val = xpcall(chunk, function(e) return tostring(e) end)
        disarm()
        if okv then okv, val = pcall(notebook.fmt_value, val) end
        if okv == false and type(val) == "string" then
          local _, tag_end = val:find(TIMEOUT_TAG, 1, true)
          if tag_end then val = val:sub(tag_end + 1) end
          val = as_written(val)
          if not val:find(o.chapter, 1, true) then val = o.chapter .. ":" .. line .. ": " .. val end
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

  local KNOWN_OPTS = { echo = 1, eval = 1, output = 1, error = 1, label = 1, caption = 1, numbers = 1, timeout = 1 }
  for ci, cell in ipairs(cells) do
    if cell.kind == "markdown" then
      cur_cell = nil
      if cell.text:find("%S") then
        doc.blocks[#doc.blocks + 1] = { type = "markdown", text = (fix_utf8(interpolate(cell))) }
      end
      src_warnings(ci)
    else
      code_index = code_index + 1
      local okopt, opts = pcall(function()
        return {
          echo = truthy(cell.opts.echo, true, "echo", cell, o.chapter),
          eval = truthy(cell.opts.eval, true, "eval", cell, o.chapter),
          output = truthy(cell.opts.output, true, "output", cell, o.chapter),
          error = truthy(cell.opts.error, false, "error", cell, o.chapter),
          numbers = truthy(cell.opts.numbers, false, "numbers", cell, o.chapter),
          timeout = seconds(cell.opts.timeout, string.format("%s:%d: option timeout", o.chapter, cell.line))
                    or limits.timeout,
        }
      end)
      for k in pairs(cell.opts) do
        if not KNOWN_OPTS[k] then
          io.stderr:write(string.format("%s:%d: warning: unknown cell option '%s'\n", o.chapter, cell.line, k))
        end
      end
      if not okopt then
        failed = true
        error_block(code_index, cell.title, cell.line, opts, nil)
        opts = { echo = true, eval = false, output = true, error = false, timeout = limits.timeout }
      end
      cur_cell = { opts = cell.opts, show_output = opts.output, index = code_index, line = cell.line,
                   shown = {}, shown_bytes = 0, shown_lines = 0, total_bytes = 0, total_lines = 0 }
      if opts.echo and cell.text:find("%S") then
        doc.blocks[#doc.blocks + 1] = { type = "code", lang = "lua", text = (fix_utf8(cell.text)), cell = code_index,
                                        title = cell.title ~= "" and cell.title or nil, line = cell.first,
                                        numbers = opts.numbers or nil }
      end
      src_warnings(ci)
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
          arm(opts.timeout, "cell " .. code_index)
          okc, e = xpcall(chunk, function(m)
            local msg = type(m) == "string" and m or tostring(m)
            return { msg = msg, tb = debug.traceback("", 2) }
          end)
          disarm()
        end
        flush_output()
        prov.wall_s = math.floor((rt.clock() - t0) * 1000 + 0.5) / 1000
        prov.memo_hits, prov.memo_misses = cur_stats.hits, cur_stats.misses
        if not okc then
          local _, tag_end = e.msg:find(TIMEOUT_TAG, 1, true)
          local timed_out = tag_end ~= nil
          local tb = e.tb
          if timed_out then
            e.msg = e.msg:sub(tag_end + 1)
            -- the frames above the hook are the runner's
            if tb then tb = tb:gsub("^.-in hook[^\n]*\n", "stack traceback:\n") end
            prov.timeout = true
          end
          tb = tb and clean_traceback(tb, code_index) or nil
          -- the line the error points at, when it is in this chapter
          local eline = tonumber(e.msg:match(o.chapter:gsub("%p", "%%%0") .. ":(%d+):")) or cell.first
          error_block(code_index, cell.title ~= "" and cell.title or nil, eline, as_written(e.msg), tb)
          prov.error = true
          -- a time limit is never tolerated: error=true is for errors the
          -- chapter expects, not for a run that did not finish
          if not opts.error or timed_out then failed = true; stopped = true end
        end
      end
      local c = cur_cell
      if c.side then
        c.side:close()
        local msg = string.format("Output truncated: the cell printed %s in %s lines; the first %s are shown. Full text in `%s`.",
          human_bytes(c.total_bytes), commas(c.total_lines), c.shown_lines == 1 and "line" or commas(c.shown_lines) .. " lines",
          c.side_path)
        doc.blocks[#doc.blocks + 1] = { type = "callout", kind = "note", title = "Output truncated", text = msg }
        prov.output_file = c.side_path
      end
      cur_cell = nil
    end
  end
  if tty and not quiet then io.stderr:write("\r\27[K") end
  doc.provenance.wall_s = math.floor((rt.clock() - t_start) * 1000 + 0.5) / 1000
  doc.provenance.status = failed and "failed" or "ok"

  -- The last guard: no string with invalid UTF-8 reaches the fragment
  -- (error messages, captions, table cells, results, figure specs...).
  local fixed_at = {}
  local function scrub(t, path, seen)
    if seen[t] then return end
    seen[t] = true
    for k, v in pairs(t) do
      if type(v) == "string" then
        local f, n = fix_utf8(v)
        if n > 0 then t[k] = f; fixed_at[#fixed_at + 1] = path .. "." .. tostring(k) end
      elseif type(v) == "table" then
        scrub(v, path .. "." .. tostring(k), seen)
      end
    end
  end
  scrub(doc, "doc", {})
  if #fixed_at > 0 then
    table.sort(fixed_at)
    warn(string.format("%s: warning: invalid UTF-8 in %s; shown as U+FFFD", o.chapter, table.concat(fixed_at, ", ")))
    warning_block("Invalid UTF-8", string.format("`%s`: invalid UTF-8 in %s, shown as U+FFFD.", o.chapter,
      table.concat(fixed_at, ", ")))
  end

  -- figure specs go in as the JSON text the chapter's figure{} made
  -- (notebook.lua): a marker per spec, replaced after encoding
  local raw, nonce = {}, rt.sha256(tostring(rt.clock()) .. tostring(doc)):sub(1, 16)
  for _, b in ipairs(doc.blocks) do
    if b.type == "figure" and type(b.spec_json) == "string" then
      raw[#raw + 1] = b.spec_json
      b.spec, b.spec_json = "clipbook-spec:" .. nonce .. ":" .. #raw, nil
    end
  end
  local okj, json = pcall(rt.json, doc)
  if not okj then perr("cannot write the document: %s", json); return 1 end
  if #raw > 0 then
    json = json:gsub('"clipbook%-spec:' .. nonce .. ':(%d+)"', function(i) return raw[tonumber(i)] end)
  end
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
