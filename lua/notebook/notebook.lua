-- notebook: the globals a chapter sees. Kept few on purpose:
--
--   memo(name, params, fn)   cached computation (build/cache/), see below
--   figure{label=, caption=, width=, <spec fields>}   a figure block
--   tabular{label=, caption=, columns=, align=, rows=} a table block
--   result(label, value [, fmt])  a quoted number: into "results", returns
--                            value; result(label) -> the formatted string
--   callout{kind=, title=, text=}  note | warning | tip
--   progress(n | list, label)  iterator with a progress bar / lines
--   profile                  the profile's table (profile.name = "mini"...)
--   cb                       require "clipbook", the engine
-- plus Lua's standard library.
--
-- memo keys hash: the name; params (canonical JSON, keys sorted, tensors by
-- content); the code of fn as Lua tokens (comments and layout do not
-- count); the values fn reads from its upvalues and chapter variables, by
-- field path (profile.bench.steps), with the helper functions it reaches by
-- their code and their own reads (lua/notebook/memokey.lua); the engine version and
-- code hash (of engine/, kernels/, lua/ sources, computed by the Makefile);
-- the profile name.
-- print() and io.write() are captured into the document.
local rt = require "clipbook.runtime"
local memokey = require "memokey"

local M = {}

local OBJECT = { __json = "object" }

local function fmt_value(v, fmt)
  if type(fmt) == "function" then return tostring(fmt(v)) end
  if fmt then return string.format(fmt, v) end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if type(v) == "number" then
    if v ~= v then return "NaN" end
    return string.format("%.4g", v)
  end
  if type(v) == "string" then return v end
  if type(v) == "boolean" or v == nil then return tostring(v) end
  local cbm = package.loaded["clipbook"]
  if cbm and cbm.is_tensor(v) and v:numel() == 1 then return fmt_value(v:item(), fmt) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return tostring(v) end
  error("cannot show a " .. type(v) .. " inline (format it with string.format)", 0)
end
M.fmt_value = fmt_value

local function checkopt(t, fname)
  if type(t) ~= "table" then
    error(fname .. ": expects a table argument, got " .. type(t), 3)
  end
end

-- ctx: { doc, store, path, src, profile, cellstate(), env_base, quiet, tty }
function M.new(ctx)
  local doc = ctx.doc
  local labels = {}
  local results_fmt = {}
  local stats = ctx.stats      -- current cell's {hits=, misses=}
  local out = ctx.out          -- current cell's print buffer (list)
  local env = {}

  local function add_block(b)
    ctx.flush_output()
    doc.blocks[#doc.blocks + 1] = b
  end

  local function claim_label(label, fname, prefix)
    if label == nil then return nil end
    if type(label) ~= "string" or not label:match("^[%w_%-%.:]+$") then
      error(fname .. ": label must be a string of letters, digits, '-', '_'", 3)
    end
    if prefix and not label:find("^" .. prefix) then
      error(fname .. ": label '" .. label .. "' must start with '" .. prefix .. "'", 3)
    end
    if labels[label] then error(fname .. ": duplicate label '" .. label .. "'", 3) end
    labels[label] = true
    return label
  end

  -- a cell's label/caption options apply to its first figure or table
  local function from_cell(t)
    local c = ctx.cell()
    if c and not c.used_label and (c.opts.label or c.opts.caption) then
      c.used_label = true
      return t.label or c.opts.label, t.caption or c.opts.caption
    end
    return t.label, t.caption
  end

  function env.figure(t)
    checkopt(t, "figure")
    local label, caption = from_cell(t)
    label = claim_label(label, "figure", "fig%-")
    local width = t.width or 1.0
    if type(width) ~= "number" or width <= 0 or width > 1 then
      error("figure: width must be a fraction of the text width in (0, 1]", 2)
    end
    local spec = {}
    for k, v in pairs(t) do
      if k ~= "label" and k ~= "caption" and k ~= "width" then spec[k] = v end
    end
    -- the spec is converted once: this JSON text is both what the figures
    -- library checks and the snapshot the fragment stores (the chapter may
    -- change its tables or tensors later; the document is written at the
    -- end of the run). A missing or unknown kind is the library's message.
    local okj, json = pcall(rt.json, spec)
    if not okj then error("figure: " .. tostring(json), 2) end
    if ctx.check_spec then
      local ok, res = ctx.check_spec(json)
      if not ok then error("figure: " .. res, 2) end
      if type(res) == "string" then json = res end  -- thinned for drawing
    end
    add_block({ type = "figure", label = label, caption = caption and tostring(caption) or nil,
                width = width, spec_json = json })
  end

  function env.tabular(t)
    checkopt(t, "tabular")
    local label, caption = from_cell(t)
    label = claim_label(label, "tabular", "tbl%-")
    local cols, rows = t.columns, t.rows
    if type(cols) ~= "table" or #cols == 0 then error("tabular: columns must be a non-empty list", 2) end
    if type(rows) ~= "table" then error("tabular: rows must be a list of rows", 2) end
    local srows, numeric = {}, {}
    for j = 1, #cols do numeric[j] = true end
    for i, r in ipairs(rows) do
      if type(r) ~= "table" or #r ~= #cols then
        error(string.format("tabular: row %d has %s cells, expected %d", i,
          type(r) == "table" and #r or "no", #cols), 2)
      end
      local sr = {}
      for j = 1, #cols do
        if type(r[j]) ~= "number" then numeric[j] = false end
        sr[j] = fmt_value(r[j], t.formats and t.formats[j])
      end
      srows[i] = sr
    end
    local align = t.align
    if type(align) == "string" then
      local a = {}
      for ch in align:gmatch("[lcr]") do a[#a + 1] = ch end
      align = a
    end
    if align == nil then
      align = {}
      for j = 1, #cols do align[j] = (numeric[j] and #rows > 0) and "r" or "l" end
    end
    if #align ~= #cols then error("tabular: align must give one of l, c, r per column", 2) end
    local scols = {}
    for j, c in ipairs(cols) do scols[j] = tostring(c) end
    add_block({ type = "table", label = label, caption = caption and tostring(caption) or nil,
                columns = scols, align = align, rows = srows })
  end

  function env.result(label, value, fmt)
    if type(label) ~= "string" or label == "" then error("result: label must be a non-empty string", 2) end
    if value == nil then
      local v = doc.results[label]
      if v == nil then error("result: no result labelled '" .. label .. "' yet", 2) end
      return fmt_value(v, results_fmt[label])
    end
    if type(value) ~= "number" and type(value) ~= "string" and type(value) ~= "boolean" then
      error("result: value must be a number, string or boolean, got " .. type(value), 2)
    end
    if fmt ~= nil and type(fmt) ~= "string" and type(fmt) ~= "function" then
      error("result: fmt must be a format string or a function", 2)
    end
    if fmt then fmt_value(value, fmt) end   -- a bad format fails here, at its cell
    doc.results[label] = value
    results_fmt[label] = fmt
    return value
  end

  function env.callout(t)
    checkopt(t, "callout")
    local kind = t.kind or "note"
    if kind ~= "note" and kind ~= "warning" and kind ~= "tip" then
      error("callout: kind must be note, warning or tip", 2)
    end
    if type(t.text) ~= "string" then error("callout: text must be a string", 2) end
    add_block({ type = "callout", kind = kind, title = t.title and tostring(t.title) or nil, text = t.text })
  end

  function env.progress(n, label)
    local list
    if type(n) == "table" then list = n; n = #n end
    if math.type(n) ~= "integer" or n < 0 then error("progress: n must be a non-negative integer or a list", 2) end
    label = label and tostring(label) or "progress"
    local i, t0, last, lastpct = 0, rt.clock(), 0, -1
    return function()
      if i > 0 then
        local now = rt.clock()
        if not ctx.quiet then
          local el = now - t0
          local eta = el / i * (n - i)
          if ctx.tty then
            if now - last > 0.1 or i == n then
              last = now
              local w = 24
              local f = math.floor(w * i / math.max(n, 1))
              io.stderr:write(string.format("\r\27[K    %s [%s%s] %d/%d  %.0fs  ETA %.0fs",
                label, string.rep("#", f), string.rep(".", w - f), i, n, el, eta))
              if i == n then io.stderr:write("\n") end
            end
          else
            local pct = math.floor(10 * i / math.max(n, 1))
            if pct ~= lastpct and (now - last > 5 or i == n) then
              last, lastpct = now, pct
              io.stderr:write(string.format("    %s %d/%d  %.0fs  ETA %.0fs\n", label, i, n, el, eta))
            end
          end
        end
      end
      if i >= n then return nil end
      i = i + 1
      if list then return i, list[i] end
      return i
    end
  end

  -- ---- memo ------------------------------------------------------------
  local file_lines = {}
  local function lines_of(source)
    if file_lines[source] then return file_lines[source] end
    local ls = {}
    local text = ctx.sources and ctx.sources[source]
    if text then
      -- the chapter as it was read when the run started, not as the
      -- editor may have left it since
      for l in (text .. "\n"):gmatch("(.-)\r?\n") do ls[#ls + 1] = l end
    elseif source:sub(1, 1) == "@" then
      local f = io.open(source:sub(2), "r")
      if f then
        for l in f:lines() do ls[#ls + 1] = l end
        f:close()
      end
    else
      for l in (source .. "\n"):gmatch("(.-)\r?\n") do ls[#ls + 1] = l end
    end
    file_lines[source] = ls
    return ls
  end

  local function source_of(fn)
    local info = debug.getinfo(fn, "S")
    -- a C function has no text to hash; its address changes between runs,
    -- so it stands for itself only by kind (the engine version covers it)
    if info.what == "C" then return "C function" end
    local ls = lines_of(info.source)
    local a, b = info.linedefined, info.lastlinedefined
    if a == 0 then return "chunk:" .. info.source end
    return table.concat(ls, "\n", a, math.min(b, #ls))
  end

  local function safe_canon(v)
    local ok, s = pcall(rt.canon, v)
    if ok then return s end
    return '"(opaque ' .. type(v) .. ')"'
  end

  local function replay(entry)
    if type(entry) ~= "table" or entry.blocks == nil then
      error("memo: cache entry of an unknown layout (clipbook cache clean it)", 3)
    end
    ctx.flush_output()
    for _, b in ipairs(entry.blocks) do
      if b.type == "output" then
        local buf = out()
        buf[#buf + 1] = b.text
        ctx.flush_output()
      else
        if b.label then
          if labels[b.label] then error("memo: duplicate label '" .. b.label .. "' (replayed from the cache)", 3) end
          labels[b.label] = true
        end
        if b.type == "figure" and type(b.spec) == "table" then setmetatable(b.spec, OBJECT) end
        doc.blocks[#doc.blocks + 1] = b
      end
    end
    for k, rv in pairs(entry.results) do
      doc.results[k] = rv
      results_fmt[k] = entry.fmts[k]
    end
    return entry.v
  end

  function env.memo(name, params, fn)
    if type(name) ~= "string" or not rt.name_ok(name) then
      error("memo: name must be letters, digits, '_', '-', '.', got " .. tostring(name), 2)
    end
    if params ~= nil and type(params) ~= "table" then error("memo: params must be a table or nil", 2) end
    if type(fn) ~= "function" then error("memo: fn must be a function", 2) end
    local ok, pjson = pcall(rt.canon, params or setmetatable({}, OBJECT))
    if not ok then error("memo '" .. name .. "': params: " .. tostring(pjson), 2) end
    local src = source_of(fn)                       -- as written, for `cache why`
    local fn_code = memokey.code(fn, lines_of).normal -- tokens: comments do not count
    local fn_hash = rt.sha256(fn_code):sub(1, 16)
    -- the fields fn (and the helpers it reaches) reads, by path (lua/notebook/memokey.lua)
    local deps = memokey.deps(fn, { lines_of = lines_of, chapter_env = ctx.chapter_env, profile = ctx.profile })
    local dparts = {}
    for k, v in pairs(deps) do
      dparts[#dparts + 1] = rt.json(k) .. ":" .. (v == memokey.NIL and "null" or type(v) == "string" and rt.json(v) or safe_canon(v))
    end
    table.sort(dparts)
    local djson = "{" .. table.concat(dparts, ",") .. "}"
    local engine = rt.engine_version()
    local code = rt.code_hash()    -- of engine/, kernels/, lua/: a C change recomputes
    local compute = rt.compute()   -- the GEMM paths in force (engine/en_machine.h): another path recomputes
    local pname = ctx.profile.name or "-"
    local key = rt.sha256(table.concat({ "clipbook-memo/3", name, pjson, fn_code, djson, engine, code, pname, compute }, "\0"))
    local store = ctx.store
    local got, v, msg = store:get(name, key)
    if got then
      store:log("hit", name, key)
      stats().hits = stats().hits + 1
      return replay(v)
    end
    if v == "corrupt" then
      io.stderr:write("clipbook run: " .. msg .. "; recomputing\n")
      store:log("corrupt", name, key, msg)
    end
    local lock <close> = assert(store:lock(name, key))
    got, v = store:get(name, key)
    if got then
      store:log("wait-hit", name, key)
      stats().hits = stats().hits + 1
      return replay(v)
    end
    local comps = string.format('{"key":%s,"name":%s,"params":%s,"env":%s,"source":%s,"fn_hash":%s,"engine":%s,"code":%s,"compute":%s,"profile":%s,"chapter":%s,"time":%s',
      rt.json(key), rt.json(name), pjson, djson, rt.json(src), rt.json(fn_hash), rt.json(engine), rt.json(code), rt.json(compute), rt.json(pname),
      rt.json(doc.chapter), rt.json(os.date("!%Y-%m-%dT%H:%M:%SZ")))
    local why = store:explain(name, comps .. "}", false) or "?"
    store:log("miss", name, key, why)
    stats().misses = stats().misses + 1
    -- fn draws from a generator seeded by the chapter seed, the name and
    -- the params; the chapter's own stream resumes afterwards as if the
    -- artifact had been a cache hit
    -- (a to-be-closed value, so an error keeps its traceback)
    local saved = rt.rng_save()
    local restore <close> = setmetatable({}, { __close = function() rt.rng_restore(saved) end })
    rt.rng_seed(tonumber(rt.sha256(ctx.seed .. "\0" .. name .. "\0" .. pjson):sub(1, 15), 16))
    -- what fn adds to the document (printed lines, figures, tables,
    -- results) is stored with its value and replayed on a hit, so a cached
    -- run writes the same document as the run that computed it
    ctx.flush_output()
    local n0, r0 = #doc.blocks, {}
    for k, rv in pairs(doc.results) do r0[k] = rv end
    local t0 = rt.clock()
    local value = fn(params)
    local wall = rt.clock() - t0
    ctx.flush_output()
    local entry = { v = value, blocks = {}, results = {}, fmts = {} }
    for i = n0 + 1, #doc.blocks do entry.blocks[#entry.blocks + 1] = doc.blocks[i] end
    for k, rv in pairs(doc.results) do
      if r0[k] ~= rv then
        entry.results[k] = rv
        if type(results_fmt[k]) == "string" then entry.fmts[k] = results_fmt[k] end
      end
    end
    local okc, okp, perr = pcall(store.put, store, name, key, entry)
    if not okc or not okp then
      error("memo '" .. name .. "': cannot store the result: " .. tostring(okc and perr or okp), 2)
    end
    store:explain(name, comps .. string.format(',"wall_s":%.3f}', wall), true)
    return value
  end

  env.profile = ctx.profile
  env.cb = require "clipbook"
  -- io.write into the document too (io.stdout:write still reaches stdout)
  local function capture_write(...)
    local buf = out()
    for i = 1, select("#", ...) do
      local a = select(i, ...)
      if not (i == 1 and a == env.io) then buf[#buf + 1] = tostring(a) end
    end
    if #buf >= 256 and ctx.drain_output then ctx.drain_output() end
    return env.io
  end
  env.io = setmetatable({ write = capture_write }, { __index = io })
  env.print = function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    local buf = out()
    buf[#buf + 1] = table.concat(parts, "\t") .. "\n"
    -- a cell that prints a lot: past its cap the text goes to a file, not
    -- into memory (runner.lua)
    if #buf >= 256 and ctx.drain_output then ctx.drain_output() end
  end
  return env
end

return M
