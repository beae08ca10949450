-- %% [markdown]
-- # Files from Lua: .npy, safetensors, images, CIFAR-100 (fixtures from tests/formats/data)

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

-- %% images and CIFAR-100
local img = assert(cb.load_image(D .. "/rgb.png"))
local ref = assert(cb.load_npy(D .. "/rgb.png.rgb.npy"))      -- Pillow's bytes
local diff = (img * 255 - ref:float()):abs():max(1):max(1):max(1):item()
assert(diff < 1e-3, "load_image differs from Pillow by " .. diff)
local png = os.tmpname() .. ".png"
assert(cb.save_png(img, png))
local again = assert(cb.load_image(png))
assert((again - img):abs():sum():item() == 0, "PNG round trip is exact")
os.remove(png)
local x = cb.clip_preprocess(img, 32)
assert(x:shape()[1] == 3 and x:shape()[2] == 32 and cb.all_finite(x))
local none, m3 = cb.load_image(D .. "/missing.png")
assert(none == nil and m3:find("missing.png"), m3)
-- a two-record CIFAR-100 file
local bin = os.tmpname()
local f = assert(io.open(bin, "wb"))
for r = 0, 1 do
  f:write(string.char(r + 3, r + 40))
  for k = 1, 3072 do f:write(string.char((k + r) % 256)) end
end
f:close()
local c = assert(cb.cifar100(bin))
assert(c.images:shape()[1] == 2 and c.fine[2] == 41 and c.coarse[1] == 3)
assert(math.abs(c.images:get(2, 1, 1, 1) - 2 / 255) < 1e-7)
local c2 = assert(cb.cifar100(bin, { start = 2, n = 1 }))
assert(c2.fine[1] == 41 and c2.images:shape()[1] == 1)
f = assert(io.open(bin, "ab")); f:write("x"); f:close()
local bad, m4 = cb.cifar100(bin)
assert(bad == nil and m4:find(bin, 1, true), m4)
os.remove(bin)

-- %% safetensors
local st, meta = assert(cb.load_safetensors(D .. "/ref.safetensors"))
assert(meta.embed_dim == "512")
assert(st["a.f32"]:get(2, 3) == 1.25 and st["a.f32"]:dtype() == "f32")
assert((st["b.f16"] - st["b.f16.as_f32"]):abs():sum():item() == 0, "F16 converted like numpy")
assert((st["c.bf16"] - st["c.bf16.as_f32"]):abs():sum():item() == 0, "BF16 converted exactly")
assert(st["e.i64"]:dtype() == "i64" and st["e.i64"]:get(1, 2) == -5 and st["f.u8"][3] == 255)
local stp = os.tmpname()
assert(cb.save_safetensors(stp, { w = st["a.f32"]:transpose(), ids = st["e.i64"] }, { note = "x" }))
local back2, meta2 = assert(cb.load_safetensors(stp))
assert(back2.w:get(3, 2) == 1.25 and back2.ids:get(2, 2) == st["e.i64"]:get(2, 2) and meta2.note == "x")
os.remove(stp)
local nost, m5 = cb.load_safetensors(D .. "/nope.safetensors")
assert(nost == nil and m5:find("nope"), m5)
