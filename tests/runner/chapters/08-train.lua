-- %% [markdown]
-- # A linear classifier trained from Lua
--
-- Exercises the op bindings end to end: linear, cross-entropy, backward,
-- in-place updates, and the other ops on small inputs.

-- %% data
cb.seed(3)
local N, D, K = 96, 6, 3
local X = cb.randn({ N, D })
local Wtrue = cb.randn({ K, D })
local y = cb.linear(X, Wtrue):argmax(2)         -- (N) i64 labels

-- %% train
local W = cb.zeros(K, D):requires_grad()
local b = cb.zeros(K):requires_grad()
local first, last
for step in progress(60, "sgd") do
  local loss = cb.cross_entropy(cb.linear(X, W, b), y)
  if step == 1 then first = loss:item() end
  last = loss:item()
  loss:backward()
  cb.no_grad(function()
    W:copy_(W - W:grad() * 0.5)
    b:copy_(b - b:grad() * 0.5)
  end)
  W:zero_grad(); b:zero_grad()
end
local pred = cb.linear(X, W, b):argmax(2)
local correct = 0
for i = 1, N do if pred[i] == y[i] then correct = correct + 1 end end
result("train.acc", correct / N, "%.3f")
assert(last < first * 0.5, ("loss should fall: %g -> %g"):format(first, last))
assert(correct / N > 0.8, "accuracy " .. correct / N)

-- %% other ops
local a = cb.tensor{ { 3, 4 }, { 0, 5 } }
local n = a:normalize(2)
assert(math.abs(n:get(1, 1) - 0.6) < 1e-6 and math.abs(n:get(2, 2) - 1) < 1e-6)
local c = cb.concat({ a, a }, 1)
assert(c:shape()[1] == 4)
local s = cb.stack({ a, a, a }, 1)
assert(s:shape()[1] == 3 and s:shape()[2] == 2)
local e = cb.embedding(a, cb.tensor({ 1, 0, 1 }, "i64"))
assert(e:shape()[1] == 3 and e:get(1, 2) == 5 and e:get(2, 1) == 3)
local ln = cb.layer_norm(cb.tensor{ { 1, 2, 3 } })
assert(math.abs(ln:sum():item()) < 1e-5)
assert(cb.all_finite(a) and not cb.all_finite(cb.tensor{ 1, 0 } / 0))
assert(a:clamp(1, 4):get(2, 2) == 4 and a:clamp(1, 4):get(2, 1) == 1)
assert(math.abs(cb.mse(a, a * 0):item() - 12.5) < 1e-5)
local ok1, e1 = pcall(cb.cross_entropy, cb.zeros(2, 3), cb.tensor({ 0, 3 }, "i64"))
assert(not ok1 and e1:find("target 3 is outside 0..2"), e1)
local ok2, e2 = pcall(cb.cross_entropy, cb.zeros(2, 3), cb.tensor{ 0, 1 })
assert(not ok2 and e2:find("expected an i64 tensor"), e2)
local ok3, e3 = pcall(cb.concat, { a, 5 }, 1)
assert(not ok3 and e3:find("element 2 is not an f32 tensor"), e3)
local qkv = cb.randn({ 1, 4, 6 })
assert(cb.attention(qkv, 1, true):shape()[3] == 2)
