-- %% [markdown]
-- # Tensors from Lua
--
-- Every assertion here fails the chapter; run under ASan, the process exit
-- checks that collected tensors leaked nothing.

-- %% creation and reading
local a = cb.tensor{{1, 2, 3}, {4, 5, 6}}
assert(a:dim() == 2 and a:numel() == 6 and #a == 2)
local s = a:shape()
assert(s[1] == 2 and s[2] == 3)
assert(a[2][3] == 6 and a:get(1, 2) == 2 and a:get(-1, -1) == 6)
local t = a:totable()
assert(t[2][1] == 4 and #t[1] == 3)
assert(cb.tensor(3.5):item() == 3.5)
local ids = cb.tensor({1, 2, 3}, "i64")
assert(ids:dtype() == "i64" and math.type(ids[2]) == "integer")
print(tostring(a))

-- %% arithmetic and reductions
local b = (a + 1) * 2 - a / 2
assert(math.abs(b:get(1, 1) - 3.5) < 1e-6)
assert((1 - a):get(1, 1) == 0 and (-a):get(2, 2) == -5)
assert(math.abs((a ^ 2):sum():item() - 91) < 1e-4)
assert(math.abs(a:mean():item() - 3.5) < 1e-6)
local rows = a:sum(2)
assert(rows[1] == 6 and rows[2] == 15)
local m = a:matmul(a:transpose())
assert(m:get(1, 1) == 14 and m:get(2, 1) == 32)
assert(a:argmax(2)[1] == 2)   -- 0-based engine indices of the max

-- %% views keep their base alive
local v
do
  local base = cb.tensor{{1, 2}, {3, 4}}
  v = base:transpose():slice(1, 2, 2)   -- second row of the transpose
  base:free()
end
collectgarbage(); collectgarbage()
assert(v[1][1] == 2 and v[1][2] == 4)
local r = a:reshape(3, 2)
assert(r:get(3, 2) == 6)

-- %% autodiff and no_grad
local w = cb.tensor{1, 2, 3}:requires_grad()
local loss = (w * w):sum()
loss:backward()
local g = w:grad()
assert(g[1] == 2 and g[3] == 6)
local inside = cb.no_grad(function() return cb.grad_enabled() end)
assert(inside == false and cb.grad_enabled() == true)
local ok = pcall(cb.no_grad, function() error("x") end)
assert(not ok and cb.grad_enabled() == true, "no_grad restores the mode after an error")

-- %% errors name the argument
local ok1, e1 = pcall(function() return a:get(3, 1) end)
assert(not ok1 and e1:find("index 3 out of range"), e1)
local ok2, e2 = pcall(function() return a + "x" end)
assert(not ok2 and e2:find("expected a tensor or a number"), e2)
local ok3, e3 = pcall(function() return a:matmul(a) end)
assert(not ok3, "shape mismatch must raise")
local ok4, e4 = pcall(cb.tensor, {{1, 2}, {3}})
assert(not ok4 and e4:find("ragged"), e4)
local dead = cb.zeros(2)
dead:free(); dead:free()
local ok5, e5 = pcall(function() return dead:item() end)
assert(not ok5 and e5:find("freed"), e5)
do local c <close> = cb.ones(4) end

-- %% memo stores tensors
local feats = memo("tensor_feats", { n = 3 }, function(p)
  cb.seed(7)
  return { x = cb.randn({ p.n, 2 }), ids = cb.tensor({ 5, 6 }, "i64") }
end)
assert(feats.x:numel() == 6 and feats.ids[2] == 6)
local probe = memo("tensor_probe", { feats = feats.x }, function(p) return p.feats:sum():item() end)
result("tensor.probe", probe)
figure{ label = "fig-tensor", caption = "A tensor as figure data", kind = "line",
        series = { { y = feats.x:reshape(6) } } }

-- %% churn
for i = 1, 2000 do
  local x = cb.randn({ 8, 8 })
  local y = x:transpose():contiguous() + x
  local z = y[1]
end
collectgarbage()

-- %% images for figures
local img = cb.image(cb.uniform({ 3, 4, 5 }))          -- CHW floats in [0, 1]
assert(img.width == 5 and img.height == 4 and img.channels == 3 and #img.pixels == 80)
local mask = cb.mask(cb.tensor({ { 0, 1 }, { 2, 1 } }, "i64"))
assert(mask.channels == 1 and mask.pixels == "AAECAQ==", mask.pixels)
local g = cb.image(cb.tensor{ { 0, 255 } }, { range = { 0, 255 } })
assert(g.pixels == "AP8=", g.pixels)
local okm, em = pcall(cb.mask, cb.zeros(2, 2, 3))
assert(not okm and em:find("one channel"), em)
figure{ kind = "mask_overlay", classes = { "bg", "a", "b" },
        rows = { { image = cb.image(cb.uniform({ 2, 2, 3 })), masks = { mask } } } }
local okb, eb = pcall(memo, "bad_value", {}, function() return { f = print } end)
assert(not okb and eb:find("memo 'bad_value': cannot store the result"), eb)
local okp, ep = pcall(memo, "bad_param", { f = print }, function() return 1 end)
assert(not okp and ep:find("params: cannot encode function at f"), ep)

-- %% figures are snapshots
local ys = { 1, 2, 3 }
figure{ label = "fig-snap", kind = "line", series = { { y = ys } } }
ys[1] = 100
local okf, ef = pcall(figure, { kind = "line", series = { { y = "abc" } } })
assert(not okf and ef:find("figure: series 1"), "the figures library checks specs: " .. tostring(ef))
local cube = cb.zeros(2, 2, 2)
local okg, eg = pcall(cube.get, cube, 1, 9)
assert(not okg and eg:find("index 9 out of range"), eg)
