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

-- %% logistic regression and optimisers
local m = assert(cb.logreg_fit(X, y, { C = 10, max_iter = 200 }))
local info = m:info()
assert(info.n_iter >= 1 and type(info.status) == "string" and info.loss > 0)
local acc_lr = m:score(X, y)
assert(acc_lr > 0.9, "logreg accuracy " .. acc_lr)
local P = m:predict_proba(X)
assert(math.abs(P:sum(2):mean():item() - 1) < 1e-5, "probabilities sum to one")
local m2 = cb.logreg_load(m:state())
assert(m2:score(X, y) == acc_lr)
local kept = memo("logreg_state", { C = 10 }, function(p) return assert(cb.logreg_fit(X, y, { C = p.C, max_iter = 200 })):state() end)
assert(cb.logreg_load(kept):score(X, y) == acc_lr)
local one, why = cb.logreg_fit(X, cb.zeros(N):long(), {})
assert(one == nil and type(why) == "string", "one class is the data's fault: nil, message")
local okx, ex = pcall(cb.logreg_fit, X, cb.zeros(3):long())
assert(not okx and ex:find("one class per row"), ex)
result("train.logreg_acc", acc_lr, "%.3f")

for _, make in ipairs({ function(ps) return cb.sgd(ps, { lr = 0.5, momentum = 0.9 }) end,
                        function(ps) return cb.adamw(ps, { lr = 0.05, weight_decay = 0 }) end }) do
  local W2 = cb.zeros(K, D):requires_grad()
  local b2 = cb.zeros(K):requires_grad()
  local opt = make({ W2, b2 })
  local l0, l1
  for step = 1, 40 do
    opt:zero_grad()
    local loss = cb.cross_entropy(cb.linear(X, W2, b2), y)
    l0 = l0 or loss:item(); l1 = loss:item()
    loss:backward()
    cb.clip_grad_norm({ W2, b2 }, 5.0)
    opt:lr(cb.warmup_cosine(step, 40, 4, opt:lr() > 0.1 and 0.5 or 0.05))
    opt:step()
  end
  assert(l1 < 0.5 * l0, ("optimiser should reduce the loss: %g -> %g"):format(l0, l1))
end
assert(cb.warmup_cosine(1, 10, 2, 1.0) == 0.5 and cb.warmup_cosine(2, 10, 2, 1.0) == 1.0)
local okp, ep = pcall(cb.sgd, { X }, {})
assert(not okp and ep:find("requires_grad"), ep)

-- %% batching
local perm = cb.randperm(N)
local seen = {}
for k = 1, N do seen[perm[k]] = true end
local count = 0
for _ in pairs(seen) do count = count + 1 end
assert(count == N and cb.arange(3)[3] == 2)
local batch = cb.gather_rows(X, perm:slice(1, 1, 8))
assert(batch:shape()[1] == 8 and batch:shape()[2] == D)
