-- memokey: what memo() keys an artifact on, read from its function's code
-- (lua/notebook/notebook.lua builds the key from these).
--
--   M.tokens(text)           Lua tokens {k = kind, v = text, l = line}; no
--                            comments, no whitespace
--   M.normal(toks)           the tokens as one string: what the key hashes,
--                            so a comment or a re-indent changes nothing
--   M.code(fn, lines_of)     the tokens of fn alone (not of the memo() call
--                            around it on its first line) and their normal
--   M.deps(fn, o)            {path = value} the values fn reads, see below
--
-- Reads. A name that is not a local of fn is an upvalue or a global of fn's
-- own environment (_ENV: the chapter's for a chapter function, the module's
-- for a helper of chapters/study.lua); `name.a.b` reads that field, not the
-- whole table, so a function that reads profile.bench.steps does not rerun
-- when profile.fewshot.epochs changes. `name[...]`, `name:m()` and a bare
-- `name` read the value at that point whole. A Lua function read (a helper)
-- is keyed by its normalised code, and what it reads is read too ("H.f>x"),
-- through every helper it reaches. Not followed: C functions and the
-- functions of lua/ (the engine's code hash covers both), the standard
-- library, and in a helper the upvalues it assigns to (its caches: what a
-- chapter loaded before must not change a shared artifact's key).
local rt = require "clipbook.runtime"

local M = {}

-- stands for a field read that is absent (its JSON: null), so that adding it reruns
M.NIL = setmetatable({}, { __name = "memokey.NIL" })

local KEYWORDS = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat return then true until while"):gmatch("%a+") do
  KEYWORDS[w] = true
end
local OPS = { "...", "..", "==", "~=", "<=", ">=", "//", "::", "<<", ">>" }

function M.tokens(s)
  local out, i, n, line = {}, 1, #s, 1
  local function push(k, v) out[#out + 1] = { k = k, v = v, l = line } end
  local function lines_in(a, b)
    for _ in s:sub(a, b):gmatch("\n") do line = line + 1 end
  end
  local function long_close(start, eq)
    local _, e = s:find("]" .. eq .. "]", start, true)
    return e or n
  end
  while i <= n do
    local c = s:sub(i, i)
    if c == "\n" then
      line = line + 1; i = i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif s:sub(i, i + 1) == "--" then
      local eq = s:match("^%[(=*)%[", i + 2)
      if eq then
        local e = long_close(i + 2, eq)
        lines_in(i, e); i = e + 1
      else
        i = s:find("\n", i, true) or n + 1
      end
    elseif c == "[" and s:match("^%[=*%[", i) then
      local eq = s:match("^%[(=*)%[", i)
      local e = long_close(i, eq)
      push("str", s:sub(i, e)); lines_in(i, e); i = e + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = s:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c or d == "\n" then break
        else j = j + 1 end
      end
      push("str", s:sub(i, j)); lines_in(i, j - 1); i = j + 1
    elseif c:match("[%a_]") then
      local w = s:match("^[%w_]+", i)
      push(KEYWORDS[w] and "kw" or "name", w); i = i + #w
    elseif c:match("%d") or (c == "." and s:sub(i + 1, i + 1):match("%d")) then
      local w = s:match("^0[xX][%x%.]*[pP][+-]?%d+", i) or s:match("^0[xX][%x%.]*", i)
                or s:match("^[%d%.]+[eE][+-]?%d+", i) or s:match("^[%d%.]+", i)
      push("num", w); i = i + #w
    else
      local op = c
      for _, o in ipairs(OPS) do
        if s:sub(i, i + #o - 1) == o then op = o break end
      end
      push("op", op); i = i + #op
    end
  end
  return out
end

function M.normal(toks)
  local v = {}
  for i, t in ipairs(toks) do v[i] = t.v end
  return table.concat(v, " ")
end

-- The tokens of the function that starts on the first line of toks and
-- ends on line `last`: of the `function`s on line 1 whose matching `end`
-- is on that line, the one ending last (memo's fn is its last argument:
-- `memo("n", { f = function() end }, function(q) ... end)`), the outermost
-- of those; all of toks when there is none (a function written oddly).
local OPEN = { ["function"] = true, ["do"] = true, ["if"] = true }
local function extent(toks, last)
  local bi, bj
  for i, t in ipairs(toks) do
    if t.l > 1 then break end
    if t.v == "function" and t.k == "kw" then
      local depth = 0
      for j = i, #toks do
        local u = toks[j]
        if u.k == "kw" and OPEN[u.v] then depth = depth + 1
        elseif u.k == "kw" and u.v == "end" then
          depth = depth - 1
          if depth == 0 then
            if u.l == last and (not bj or j > bj) then bi, bj = i, j end
            break
          end
        end
      end
    end
  end
  if bi then return table.move(toks, bi, bj, 1, {}) end
  return toks
end

-- lines_of(source) -> the lines of a chunk's source (notebook's reader)
local code_cache = setmetatable({}, { __mode = "k" })
function M.code(fn, lines_of)
  local c = code_cache[fn]
  if c then return c end
  local info = debug.getinfo(fn, "S")
  if info.what == "C" then
    c = { toks = {}, normal = "C function" }
  elseif info.linedefined == 0 then
    c = { toks = {}, normal = "chunk:" .. info.source }
  else
    local ls = lines_of(info.source)
    local a, b = info.linedefined, math.min(info.lastlinedefined, #ls)
    local toks = extent(M.tokens(table.concat(ls, "\n", a, b)), b - a + 1)
    c = { toks = toks, normal = M.normal(toks) }
  end
  code_cache[fn] = c
  return c
end

-- Each read of a name that is not a field: its path (name, then the `.f`
-- fields after it), as "a.b.c" -> list; and the names assigned to
-- (`x =`, `x.f =`, `x[k] =`).
local function reads(toks)
  local list, written = {}, {}
  local i = 1
  while i <= #toks do
    local t = toks[i]
    local prev = toks[i - 1]
    if t.k == "name" and not (prev and (prev.v == "." or prev.v == ":" or prev.v == "goto" or prev.v == "::")) then
      local path, j = { t.v }, i
      while toks[j + 1] and toks[j + 1].v == "." and toks[j + 2] and toks[j + 2].k == "name" do
        path[#path + 1] = toks[j + 2].v
        j = j + 2
      end
      list[#list + 1] = path
      local nx = toks[j + 1]
      if nx and nx.v == "[" then
        local depth, k = 0, j + 1
        repeat
          if toks[k].v == "[" then depth = depth + 1 elseif toks[k].v == "]" then depth = depth - 1 end
          k = k + 1
        until depth == 0 or k > #toks
        nx = toks[k]
      end
      if nx and nx.v == "=" then written[t.v] = true end
      i = j + 1
    else
      i = i + 1
    end
  end
  return list, written
end

local STDLIB = {}
for _, k in ipairs { "string", "math", "table", "os", "io", "utf8", "coroutine", "debug", "package", "_G" } do
  if _G[k] ~= nil then STDLIB[k] = _G[k] end
end
-- lua/ itself: its functions are the engine's code (the code hash)
local LUA_DIR = package.clipbook_dir and ("@" .. package.clipbook_dir .. "/")
                or debug.getinfo(1, "S").source:match("^(@.*/)[^/]*$") or "@lua/"

local function is_engine(fn)
  local info = debug.getinfo(fn, "S")
  return info.what == "C" or info.source:sub(1, #LUA_DIR) == LUA_DIR
end

-- o: { lines_of = fn, chapter_env =, profile = }
-- Returns {path = value}: a value is a string (a helper's code hash
-- "function:HEX", "C function", "engine function"), M.NIL, or any value.
function M.deps(fn, o)
  local acc, seen = {}, {}
  local function visit(f, prefix, depth)
    if seen[f] or depth > 8 then return end
    seen[f] = true
    local up, env = {}, nil
    for i = 1, math.huge do
      local n, v = debug.getupvalue(f, i)
      if not n then break end
      if n == "_ENV" then env = v else up[n] = { v } end
    end
    local list, written = reads(M.code(f, o.lines_of).toks)
    local byname = {}
    for _, path in ipairs(list) do
      local root = path[1]
      local box = up[root]
      if not box and type(env) == "table" and not KEYWORDS[root] then
        local v = rawget(env, root)
        if v == nil and root == "profile" and env == o.chapter_env then v = o.profile end
        if v ~= nil and not (STDLIB[root] ~= nil and rawequal(v, STDLIB[root]))
           and not (type(v) == "function" and rawequal(v, _G[root])) then
          box = { v }
        end
      end
      if box and not (depth > 0 and written[root]) then
        local v, used = box[1], { root }
        for k = 2, #path do
          if type(v) ~= "table" then break end
          v = rawget(v, path[k])
          used[k] = path[k]
        end
        byname[table.concat(used, ".")] = { v }
      end
    end
    -- a path read whole makes its longer paths redundant
    local names = {}
    for p in pairs(byname) do names[#names + 1] = p end
    table.sort(names)
    local kept = {}
    for _, p in ipairs(names) do
      local covered = false
      for q = #kept, 1, -1 do
        local k = kept[q]
        if p:sub(1, #k + 1) == k .. "." then covered = true break end
      end
      if not covered then kept[#kept + 1] = p end
    end
    for _, p in ipairs(kept) do
      local v = byname[p][1]
      local key = prefix .. p
      if type(v) == "function" then
        if is_engine(v) then
          acc[key] = "engine function"
        else
          acc[key] = "function:" .. rt.sha256(M.code(v, o.lines_of).normal):sub(1, 16)
          visit(v, key .. ">", depth + 1)
        end
      else
        if v == nil then v = M.NIL end
        acc[key] = v
      end
    end
  end
  visit(fn, "", 0)
  return acc
end

return M
