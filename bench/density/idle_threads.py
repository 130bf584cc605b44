#!/usr/bin/env python3
"""Where an idle service spends its CPU, per thread.

Starts an external agent and the service's jar (EXTERNAL mode, fresh H2) as density.py does,
registers --regions workloads (one 64 KiB region each), lets it settle, then samples every
thread's CPU time (/proc/PID/task/*/stat, utime + stime) over --seconds of nothing happening,
--windows times, and prints the busiest threads (by name, threads of one pool summed) and the
total as a share of one CPU. Extra JVM options go in --jvm (e.g. "-XX:-UsePerfData").

    mvn -B -q -DskipTests package
    bench/density/idle_threads.py --regions 200 --seconds 10 --windows 3
"""
import argparse
import collections
import glob
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import density  # noqa: E402  (its agent/service launch helpers, Api, Lib)

TICK = os.sysconf("SC_CLK_TCK")


def threads(pid):
    """{tid: (name, cpu seconds)} of every thread of pid."""
    out = {}
    for stat in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            text = open(stat).read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        out[int(stat.split("/")[4])] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def pool(name):
    """Threads of one pool under one name: http-nio-8080-exec-3 -> http-nio-8080-exec-N."""
    return re.sub(r"\d+$", "N", name)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--regions", type=int, default=200)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--settle-seconds", type=float, default=30)
    p.add_argument("--jvm", default="", help="extra JVM options, e.g. '-XX:-UsePerfData -XX:TieredStopAtLevel=1'")
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--jar", help="the service's jar (default: target/faultline-*.jar)")
    args = p.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    jar = args.jar or sorted(glob.glob(os.path.join(density.ROOT, "target", "faultline-*.jar")))[-1]
    work = tempfile.mkdtemp(prefix="fl-idle-")
    sock, port = os.path.join(work, "agent.sock"), density.free_port()
    agent = subprocess.Popen([os.path.join(density.BUILD, "faultline-agent"), "--socket", sock, "--state-dir",
                              os.path.join(work, "state"), "--max-clients", str(args.regions + 64),
                              "--allow-image-dir", os.path.join(work, "images"), "--log-level", "warn"],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "agent.log"), "w"))
    service = None
    try:
        density.wait("the agent", 15, lambda: os.path.exists(sock))
        service = subprocess.Popen(["java", *shlex.split(args.jvm), "-jar", jar, f"--server.port={port}",
                                    f"--faultline.data-dir={work}/data", f"--faultline.agent.socket={sock}",
                                    f"--faultline.agent.image-dirs={work}/images",
                                    "--faultline.metrics.per-region=top:50", "--logging.level.root=WARN"],
                                   stdout=open(os.path.join(work, "service.log"), "w"), stderr=subprocess.STDOUT)
        token_file = os.path.join(work, "data", "admin-token")
        density.wait("the service", 180, lambda: os.path.exists(token_file))
        api = density.Api(port, open(token_file).read().strip())
        density.wait("the agent READY", 60, lambda: api.get("/api/v1/host")["agent"]["state"] == "READY")
        handoff = api.get("/api/v1/host")["agent"]["handoffSocket"]
        lib = density.Lib()
        held = [lib.workload(handoff, f"w{i}", 64 * 1024) for i in range(args.regions)]
        density.wait(f"{args.regions} regions in the API", 300,
                     lambda: api.get("/api/v1/regions?state=ATTACHED&size=1")["totalItems"] >= args.regions)
        time.sleep(args.settle_seconds)  # measuring idle: the quiet before is the point
        totals = collections.Counter()
        for w in range(args.windows):
            before = threads(service.pid)
            time.sleep(args.seconds)  # the measurement window itself
            after = threads(service.pid)
            window = collections.Counter()
            for tid, (name, cpu) in after.items():
                window[pool(name)] += cpu - before.get(tid, (name, 0.0))[1]
            total = sum(window.values())
            totals.update(window)
            print(f"window {w + 1}: {total:.2f} s CPU in {args.seconds:.0f} s = {100 * total / args.seconds:.1f} %"
                  f" of one CPU ({len(after)} threads)", flush=True)
        print(f"busiest threads over {args.windows} x {args.seconds:.0f} s ({len(held)} regions):")
        for name, cpu in totals.most_common(args.top):
            print(f"  {cpu:7.3f} s  {name}")
    finally:
        for proc in (service, agent):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
