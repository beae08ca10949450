#!/bin/sh
# MathML from `clipbook math --mathml` is well-formed XML (python3's
# xml.dom.minidom parses it), holds the elements each construct needs and
# carries its TeX source in alttext.
set -eu
CLIPBOOK=${CLIPBOOK:-build/bin/clipbook}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
while IFS='@' read -r tex want; do
  [ -n "$tex" ] || continue
  n=$((n + 1))
  "$CLIPBOOK" math --mathml "$tex" > "$tmp/$n.xml"
  printf '%s\n' "$want" > "$tmp/$n.want"
  printf '%s' "$tex" > "$tmp/$n.tex"
done <<'LIST'
\mathrm{logits} = \exp(t)\cdot I_e T_e^{\top}@math mrow mi mo msubsup
\mathcal{L} = \frac{1}{2}\left(\mathrm{CE}_{\text{rows}} + \mathrm{CE}_{\text{cols}}\right)@mfrac mn msub mtext mo
\hat{y}_i = \frac{\exp(z_i)}{\sum_{j=1}^{N} \exp(z_j)}@mover msub mfrac munderover
H(y,\hat{y}) = -\sum_k y_k \log \hat{y}_k@munder mover msub
\min_{W,b} C\sum_{i=1}^{n} \ell(y_i, W x_i + b) + \frac{1}{2}\|W\|_2^2@munder munderover msubsup mfrac
\cos(u,v) = \frac{u^\top v}{\|u\|\,\|v\|}@mfrac msup mspace
\hat{c} = \operatorname*{argmax}_{c} \cos\left(f(x), g(t_c)\right)@munder mover
\sqrt{x^2 + y^2} + \sqrt[3]{a} < b \text{ & } c@msqrt mroot msup mtext
\alpha\beta\Gamma \mathbf{W} \mathbb{R}^{d}@mi msup
f(x) = \begin{cases} 1 & x > 0 \\ 0 & \text{otherwise} \end{cases}@mtable mtr mtd mtext
\begin{aligned} a &= b \\ &= c \end{aligned}@mtable mtr mtd
LIST
/usr/bin/python3 - "$tmp" "$n" <<'PY'
import sys, xml.dom.minidom as md
d, n = sys.argv[1], int(sys.argv[2])
bad = 0
for i in range(1, n + 1):
    src = open(f"{d}/{i}.xml", encoding="utf-8").read()
    want = open(f"{d}/{i}.want").read().split()
    try:
        doc = md.parseString(src.encode("utf-8"))
    except Exception as e:
        print(f"formula {i}: not well-formed: {e}\n  {src}"); bad += 1; continue
    root = doc.documentElement
    if root.tagName != "math" or root.getAttribute("xmlns") != "http://www.w3.org/1998/Math/MathML" \
       or root.getAttribute("display") != "block":
        print(f"formula {i}: bad <math> root"); bad += 1
    tex = open(f"{d}/{i}.tex", encoding="utf-8").read()
    if root.getAttribute("alttext") != tex:
        print(f"formula {i}: alttext {root.getAttribute('alttext')!r} is not the source {tex!r}"); bad += 1
    for el in want:
        if not doc.getElementsByTagName(el):
            print(f"formula {i}: no <{el}> in\n  {src}"); bad += 1
print(f"math_mathml: {n} formulas parsed, {bad} problems")
sys.exit(1 if bad else 0)
PY
# a syntax error is one line on stderr and exit status 1
if "$CLIPBOOK" math --mathml 'x^{2' 2> "$tmp/err"; then echo "bad formula accepted"; exit 1; fi
grep -q "column 5: expected '}'" "$tmp/err" || { echo "unexpected message: $(cat "$tmp/err")"; exit 1; }
