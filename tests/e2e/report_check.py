"""Checks a rendered report (report.pdf + report.html in argv[1]).

PDF: pdfinfo (pages, metadata, date from SOURCE_DATE_EPOCH), qpdf --check,
every font embedded and subset (pdffonts), headings and captions present and
in order (pdftotext), no page ends on a heading, every link's destination
exists and outline entries point at the page where their heading is.
HTML: html5lib strict parse, no external URL outside <a href>, every #anchor
resolves, Chromium screenshot not blank (skipped when chromium is absent).
"""
import json, os, re, shutil, subprocess, sys, tempfile

out, shot = sys.argv[1], sys.argv[2]
pdf, html = os.path.join(out, "report.pdf"), os.path.join(out, "report.html")
fails = []

def check(cond, msg):
    if not cond:
        fails.append(msg)

def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout

def norm(s):
    return re.sub(r"\s+", " ", s).strip()

# ---- PDF -------------------------------------------------------------------
info = run("pdfinfo", pdf)
pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
check(pages >= 4, f"pages: {pages}")
check(re.search(r"Title:\s+CLIP, Rebuilt", info), "title metadata")
check("A. Researcher, B. Student" in info, "author metadata")
check("Nov 14 22:13:20 2023" in info, "creation date from SOURCE_DATE_EPOCH: " + info)
q = subprocess.run(["qpdf", "--check", pdf], capture_output=True, text=True)
check(q.returncode == 0 and "No syntax or stream encoding errors" in q.stdout, "qpdf --check: " + q.stdout + q.stderr)
for line in run("pdffonts", pdf).splitlines()[2:]:
    cols = line.split()
    check(cols[-5] == "yes" and cols[-4] == "yes", "font not embedded+subset: " + line)

texts = [norm(run("pdftotext", "-f", str(p), "-l", str(p), "-layout", pdf, "-")) for p in range(1, pages + 1)]
alltext = " ".join(texts)
order = ["CLIP, Rebuilt", "Abstract", "Contents", "1 How CLIP works", "1.1 The two encoders",
         "1.1.1 Zero-shot classification", "Figure 1.", "2 Linear probe", "2.1 Results", "Table 1.",
         "2.2 When a cell fails", "Error in cell 4", "2.2.1 Summary", "References", "[1] A. Radford"]
pos = 0
# skip the table of contents: search headings after "Contents"'s entries
body = alltext[alltext.find("References") + 10:] if "References" in alltext else alltext
for i, h in enumerate(order):
    hay = alltext if i < 3 else body
    at = hay.find(h, pos if i >= 3 else 0)
    check(at >= 0, f"heading/caption missing or out of order: {h!r}")
    if at >= 0 and i >= 3:
        pos = at + len(h)
headings = ["1.1 The two encoders", "1.1.1 Zero-shot classification", "2.1 Results", "2.2 When a cell fails", "2.2.1 Summary"]
for p, t in enumerate(texts[1:], start=2):
    last = re.sub(r"\s*\d+\s*$", "", t)   # drop the page number
    for h in headings:
        check(not last.endswith(h), f"page {p} ends with heading {h!r}")
check("??fig-missing" in alltext, "unresolved reference marked")
check("Figure 1" in texts[1] and "Equation (1)" in texts[1], "cross-reference texts")

# destinations and links
dests = {}
for line in run("pdfinfo", "-dests", pdf).splitlines()[1:]:
    m = re.match(r"\s*(\d+)\s+\[.*\]\s+\"(.*)\"", line)
    if m:
        dests[m.group(2)] = int(m.group(1))
for d in ["sec-clip", "sec-probe", "fig-shots", "tbl-probe", "eq-loss", "references", "ref-radford2021"]:
    check(d in dests, f"destination {d} missing")
check("Figure 1." in texts[dests.get("fig-shots", 1) - 1], "fig-shots destination is on the figure's page")
check("Table 1." in texts[dests.get("tbl-probe", 1) - 1], "tbl-probe destination is on the table's page")
j = json.loads(subprocess.run(["qpdf", "--json", pdf], capture_output=True, text=True).stdout)
if "objects" in j:                       # qpdf JSON v1
    objs = j["objects"]
else:                                    # v2: "qpdf": [header, {"obj:N 0 R": {"value": ...}}]
    objs = {k: o.get("value") for k, o in j["qpdf"][1].items() if isinstance(o, dict)}
nlinks = 0
for k, v in objs.items():
    if isinstance(v, dict) and v.get("/Subtype") == "/Link":
        nlinks += 1
        dest = v.get("/Dest")
        if isinstance(dest, str):
            name = re.sub(r"^[ub]:", "", dest).strip("()")
            check(name in dests, f"link to unknown destination {name}")
        else:
            check("/A" in v, f"link {k} has neither /Dest nor /A")
check(nlinks >= 15, f"links: {nlinks}")

def walk(items):
    for it in items:
        yield it
        yield from walk(it.get("kids", []))
outl = list(walk(j.get("outlines", [])))
check(len(outl) >= 9, f"outline entries: {len(outl)}")
for it in outl:
    page = it.get("destpageposfrom1")
    title = norm(it["title"])
    check(page is not None and title in texts[page - 1 if page else 0], f"outline {title!r} -> page {page}")

# ---- HTML --------------------------------------------------------------------
import html5lib
src = open(html, "rb").read()
parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
try:
    tree = parser.parse(src)
except Exception as e:
    fails.append(f"html5lib: {e}")
    tree = None
if tree is not None:
    ids = set()
    hrefs = []
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        for a, v in el.attrib.items():
            if a == "id":
                ids.add(v)
            tag = el.tag.split("}")[-1]
            if a.endswith("href") and tag == "a" and "}" not in el.tag and v.startswith("#"):
                hrefs.append(v[1:])
            if re.search(r"https?://", v) and not (tag == "a" and a == "href") and not a.startswith("{http://www.w3.org/2000/xmlns/}"):
                fails.append(f"external URL in <{tag} {a}={v[:60]}>")
    for h in hrefs:
        check(h in ids, f"HTML anchor #{h} has no target")
    check(len(hrefs) >= 20, f"HTML internal links: {len(hrefs)}")
text = src.decode()
for m in re.finditer(r"(?:src|url\()\s*=?\s*[\"']?(https?:)?//", text):
    fails.append("external resource: " + text[m.start():m.start() + 60])
check("@import" not in text and "<link" not in text and "<script" not in text, "no external styles or scripts")

chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if chromium:
    prof = tempfile.mkdtemp()
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={prof}", f"--screenshot={shot}", "--window-size=1200,1600",
                    "file://" + os.path.abspath(html)], capture_output=True, timeout=120)
    shutil.rmtree(prof, ignore_errors=True)
    from PIL import Image
    im = Image.open(shot).convert("L")
    px = list(im.getdata())
    dark = sum(1 for v in px if v < 160) / len(px)
    check(0.01 < dark < 0.5, f"screenshot ink fraction {dark:.4f}")
    print(f"report: screenshot ink fraction {dark:.4f}")
else:
    print("report: SKIP screenshot (no chromium)")

print(f"report: {pages} pages, {len(dests)} destinations, {nlinks} links, {len(outl)} outline entries")
if fails:
    print("report: FAIL\n  " + "\n  ".join(fails))
    sys.exit(1)
