-- %% [markdown]
-- # A BPE tokenizer trained and used from Lua

-- %% train
local caps = cb.shapes.batch{ split = "pretrain", n = 64, size = 8, captions = true }.captions
local path = os.tmpname()
local k = assert(cb.bpe_train(caps, 60, path))
assert(k > 10, "merges learnt: " .. k)
local tok = assert(cb.bpe(path))
os.remove(path)
local ids = tok:tokenize({ caps[1], "a red circle" }, 16, true)
assert(ids:shape()[1] == 2 and ids:shape()[2] == 16 and ids:dtype() == "i64")
assert(ids:get(1, 1) == tok:sot(), "starts with sot")
local enc = tok:encode("a red circle")
assert(#enc >= 1 and tok:decode(enc):find("red circle"), tok:decode(enc))
local ok, e = pcall(tok.tokenize, tok, { string.rep("word ", 40) }, 8)
assert(not ok and e:find("text 1"), e)
local missing, msg = cb.bpe("/nonexistent/vocab.gz")
assert(missing == nil and msg:find("/nonexistent"), msg)
tok:free(); tok:free()
local ok2, e2 = pcall(tok.encode, tok, "x")
assert(not ok2 and e2:find("freed"), e2)
