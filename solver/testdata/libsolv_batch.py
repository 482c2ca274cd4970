#!/usr/bin/python3
"""Batch reference solver: libsolv (python3-solv) answers for many requests.

usage: /usr/bin/python3 libsolv_batch.py [--no-weak] ID=REPO_DIR... < requests
Each stdin line is one request, its specs separated by '|'. Prints a JSON
object mapping each line to {"install": [NEVRA@ID...]} or {"error": "..."}.
Same pool setup and selection flags as ../../../shared/tools/refsolve.py.
"""
import os, re, sys, json
import solv
args = sys.argv[1:]
weak = True
if args and args[0] == "--no-weak":
    weak = False; args = args[1:]
pool = solv.Pool()
pool.setdisttype(solv.Pool.DISTTYPE_RPM)
pool.setarch("x86_64")
pool.set_flag(solv.Pool.POOL_FLAG_IMPLICITOBSOLETEUSESCOLORS, 1)
pool.installed = pool.add_repo("@System")
for a in args:
    name, d = a.split("=", 1)
    repo = pool.add_repo(name)
    xml = open(os.path.join(d, "repodata", "repomd.xml")).read()
    loc = dict(re.findall(r'<data type="(\w+)">.*?<location href="([^"]+)"', xml, re.S))
    f = solv.xfopen(os.path.join(d, loc["primary"])); repo.add_rpmmd(f, None, 0); f.close()
    if "filelists" in loc:
        f = solv.xfopen(os.path.join(d, loc["filelists"])); repo.add_rpmmd(f, "FL", solv.Repo.REPO_EXTEND_SOLVABLES); f.close()
pool.addfileprovides()
pool.createwhatprovides()
flags = (solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_PROVIDES | solv.Selection.SELECTION_CANON |
         solv.Selection.SELECTION_DOTARCH | solv.Selection.SELECTION_REL | solv.Selection.SELECTION_FILELIST)
out = {}
for line in sys.stdin:
    specs = [s for s in line.strip().split("|") if s]
    if not specs: continue
    jobs = []
    bad = False
    for s in specs:
        sel = pool.select(s, flags)
        if sel.isempty(): bad = True; break
        jobs += sel.jobs(solv.Job.SOLVER_INSTALL)
    key = "|".join(specs)
    if bad:
        out[key] = {"error": "nothing provides"}; continue
    solver = pool.Solver()
    if not weak: solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 1)
    problems = solver.solve(jobs)
    if problems:
        out[key] = {"error": "; ".join(str(p) for p in problems)}
    else:
        out[key] = {"install": sorted(str(x) + "@" + x.repo.name for x in solver.transaction().newsolvables())}
json.dump(out, sys.stdout, indent=0)
