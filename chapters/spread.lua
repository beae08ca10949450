-- How far this profile's results moved between compute configurations
-- (GEMM path, thread count, OpenBLAS kernels) on one machine, as measured by
-- tests/spread.py into chapters/spread.json; the chapters' verdicts take
-- their margins from it, so that no verdict flips between machines that
-- move the numbers as far as those configurations did.
--
--   local spread = assert(loadfile(here .. "/spread.lua"))()(here, study, profile)
--   spread.of(label)                 max - min over the configurations, or nil
--   spread.gap(a, b)                 the same for R[a] - R[b], from the values
--                                    per configuration (nil if not measured)
--   spread.margin(base, a, b)        max(base, 2 * spread.gap(a, b)): a gap
--                                    counts only when it is clear of twice the
--                                    measured spread (four configurations of
--                                    one machine bound what another may move
--                                    only roughly, hence the factor 2)
--   spread.ratio_margin(a, b)        2 * the spread of R[a] / R[b]
--   spread.info                      { machine, configs, profile } or nil
-- Another profile than the one measured gets nil spreads (margins = base).
return function(dir, study, profile)
  local S = { info = nil }
  local data
  local f = io.open(dir .. "/spread.json", "rb")
  if f then
    local ok, d = pcall(study.json_decode, f:read("a"))
    f:close()
    if ok and type(d) == "table" and d.profile == profile.name and type(d.labels) == "table" then
      data = d
      local m = d.machine
      if type(m) == "table" then m = table.concat(m, "; ") end
      S.info = { machine = m, configs = d.configs or {}, profile = d.profile }
    end
  end
  local function entry(label) return data and data.labels[label] or nil end
  function S.of(label)
    local e = entry(label)
    return e and e.spread or nil
  end
  local function combine(a, b, op)
    local ea, eb = entry(a), entry(b)
    if not ea or not eb then return nil end
    local lo, hi = math.huge, -math.huge
    for i = 1, math.min(#ea.values, #eb.values) do
      local v = op(ea.values[i], eb.values[i])
      lo, hi = math.min(lo, v), math.max(hi, v)
    end
    return hi >= lo and hi - lo or nil
  end
  function S.gap(a, b) return combine(a, b, function(x, y) return x - y end) end
  function S.margin(base, a, b)
    local s = b and S.gap(a, b) or S.of(a)
    return math.max(base, 2 * (s or 0)), s
  end
  function S.ratio_margin(a, b)
    local s = combine(a, b, function(x, y) return x / y end)
    return 2 * (s or 0), s
  end
  return S
end
