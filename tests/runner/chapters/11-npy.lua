-- %% [markdown]
-- # Arrays in and out as .npy (fixtures from tests/formats/data)

-- %% npy
local D = os.getenv("NPY_DIR") or "tests/formats/data"
local a = assert(cb.load_npy(D .. "/f4.npy"))
assert(a:dtype() == "f32" and a:shape()[1] == 3 and a:shape()[2] == 4)
assert(math.abs(a:get(1, 2) - 1 / 7) < 1e-7)
local i = assert(cb.load_npy(D .. "/i8.npy"))
assert(i:dtype() == "i64" and i:get(1, 1) == 1099511627776 and i:get(1, 2) == -1)
local f8 = assert(cb.load_npy(D .. "/f8.npy"))
assert(f8:dtype() == "f32" and f8:get(1, 2) == -2.25)
local s = assert(cb.load_npy(D .. "/scalar.npy"))
assert(s:dim() == 0 and s:item() == 2.5)
local u = assert(cb.load_npy(D .. "/u1.npy"))
assert(u:dtype() == "i64" and u:get(1, 1, 2) == 10)
local missing, msg = cb.load_npy(D .. "/nope.npy")
assert(missing == nil and msg:find("nope.npy"), msg)
local bad, msg2 = cb.load_npy(D .. "/fortran.npy")
assert(bad == nil and msg2, "fortran order is refused with a message")
-- written files are numpy.save's bytes: the fixture round-trips exactly
local out = os.tmpname()
assert(a:save_npy(out))
local function slurp(p) local f = assert(io.open(p, "rb")) local d = f:read("a") f:close() return d end
assert(slurp(out) == slurp(D .. "/f4.npy"), "save_npy differs from numpy.save")
assert(cb.save_npy(i:transpose(), out))
local back = cb.load_npy(out)
assert(back:get(2, 1) == -1 and back:shape()[1] == 2)
os.remove(out)
local ok, e = pcall(cb.save_npy, 5, out)
assert(not ok and e:find("bad argument #1"), e)
