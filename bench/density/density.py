#!/usr/bin/env python3
"""Density benchmark (docs/benchmarks.md, "Density"): many workloads on one host.

Starts an external agent with a client limit for the largest scale plus the service (its
jar, EXTERNAL mode, a fresh H2 data directory), then for each scale registers that many
workloads through libfaultline (one connection and one small region each, from this
process), and reports: time to register, service and agent CPU idle and while every region
faults, REST p50/p99 of the region list and of one region, memory per region in the agent
and the service, and the delay from an attach to the API. Last, it creates restore sessions
through the API, each served to a workload that reads its whole region and checks it against
the image, and times the paged restore list.

Usage: bench/density/density.py [--scales 100,1000,5000] [--sessions 1000] [--region-kib 64]
                               [--settle-seconds 30] [--idle-seconds 10] [--fault-seconds 10]
Needs: mvn -B -DskipTests package (target/faultline-*.jar, native-agent/build/*).
"""
import argparse, ctypes, ctypes.util, glob, json, mmap, os, resource, shutil, socket, statistics
import subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "native-agent", "build")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = mmap.PAGESIZE


def progress(what):
    print(f"# {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_share(pids, seconds, during=None):
    """Share of one CPU each pid used over `seconds` (while `during` runs, if given)."""
    before = {p: cpu_seconds(p) for p in pids}
    start = time.monotonic()
    if during:
        during(seconds)
    else:
        time.sleep(seconds)
    wall = time.monotonic() - start
    return {p: (cpu_seconds(p) - before[p]) / wall for p in pids}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, port, token):
        self.base, self.token = f"http://127.0.0.1:{port}", token

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def get(self, path):
        return self.call("GET", path)

    def timed(self, path, n):
        ms = []
        for _ in range(n):
            t = time.perf_counter()
            self.get(path)
            ms.append((time.perf_counter() - t) * 1000)
        ms.sort()
        return ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def wait(what, timeout, probe, fail=True):
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = probe()
            if v:
                return v
        except Exception:
            pass
        if time.monotonic() > deadline:
            if not fail:
                return None
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.05)


class Lib:
    def __init__(self):
        self.last_client = None
        self.c = ctypes.CDLL(os.path.join(BUILD, "libfaultline.so"))
        self.c.fl_connect.restype = ctypes.c_void_p
        self.c.fl_connect.argtypes = [ctypes.c_char_p]
        self.c.fl_region_register.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p,
                                              ctypes.c_char_p, ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p)]
        self.c.fl_region_id.restype = ctypes.c_char_p
        self.c.fl_region_id.argtypes = [ctypes.c_void_p]
        self.c.fl_last_error.restype = ctypes.c_char_p
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.libc.mmap.restype = ctypes.c_void_p
        self.libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                   ctypes.c_long]
        self.libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

    def workload(self, sock, name, size, client=None):
        """A region on a new connection, or on client's."""
        if client is None:
            client = self.c.fl_connect(sock.encode())
        if not client:
            sys.exit(f"fl_connect: {self.c.fl_last_error().decode()}")
        self.last_client = client
        addr = self.libc.mmap(None, size, 3, 0x22, -1, 0)
        region = ctypes.c_void_p()
        if self.c.fl_region_register(client, addr, size, name.encode(), b"bench=density", 1, ctypes.byref(region)):
            sys.exit(f"fl_region_register: {self.c.fl_last_error().decode()}")
        return addr, self.c.fl_region_id(region).decode()

    def fault_all(self, regions, size, seconds):
        """Every region gives its pages back and touches them again, round after round."""
        end = time.monotonic() + seconds
        rounds = 0
        while time.monotonic() < end:
            for addr, _ in regions:
                self.libc.madvise(addr, size, 4)  # MADV_DONTNEED
                for off in range(0, size, PAGE):
                    ctypes.c_char.from_address(addr + off).value = b"x"
            rounds += 1
        return rounds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="100,1000,5000")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--region-kib", type=int, default=64)
    ap.add_argument("--regions-per-connection", type=int, default=1,
                    help="workloads that share one connection (this process holds about 4 descriptors per"
                         " connection: 2 lets 5,000 regions fit a hard limit of 20,000)")
    ap.add_argument("--idle-seconds", type=int, default=10)
    ap.add_argument("--settle-seconds", type=int, default=30)
    ap.add_argument("--fault-seconds", type=int, default=10)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--jar", help="the service's jar (default: target/faultline-*.jar), e.g. to compare two builds")
    args = ap.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    size = args.region_kib * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # this process: about 4 per connection (measured: 5,000 single-region connections do not fit
    # 20,000); the agent: a connection and a uffd per workload
    need = max(4 * -(-max(scales) // args.regions_per_connection), 2 * max(scales)) + 2 * args.sessions + 256
    if hard < need:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} < {need} descriptors this run needs: raise it "
                 f"(ulimit -Hn, or LimitNOFILE= in a unit) or run smaller --scales / --sessions")

    jar = args.jar or sorted(glob.glob(os.path.join(ROOT, "target", "faultline-*.jar")))[-1]
    work = tempfile.mkdtemp(prefix="fl-density-")
    sock, port = os.path.join(work, "agent.sock"), free_port()
    agent = subprocess.Popen([os.path.join(BUILD, "faultline-agent"), "--socket", sock, "--state-dir",
                              os.path.join(work, "state"), "--max-clients", str(max(scales) + args.sessions + 64),
                              "--allow-image-dir", os.path.join(work, "images"), "--log-level", "warn"],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "agent.log"), "w"))
    wait("the agent", 15, lambda: os.path.exists(sock))
    service = subprocess.Popen(["java", "-jar", jar, f"--server.port={port}", f"--faultline.data-dir={work}/data",
                                f"--faultline.agent.socket={sock}", f"--faultline.agent.image-dirs={work}/images",
                                "--faultline.metrics.per-region=top:50", "--logging.level.root=WARN",
                                "--logging.level.dev.faultline.region=INFO", "--logging.level.dev.faultline.agent=INFO"],
                               stdout=open(os.path.join(work, "service.log"), "w"), stderr=subprocess.STDOUT)
    results = {"machine": os.uname().release, "cpus": os.cpu_count(), "region_bytes": size, "scales": []}
    lib = Lib()
    finished = False
    try:
        token_file = os.path.join(work, "data", "admin-token")
        wait("the service", 180, lambda: os.path.exists(token_file))
        api = Api(port, open(token_file).read().strip())
        wait("the agent READY", 60, lambda: api.get("/api/v1/host")["agent"]["state"] == "READY")
        handoff = api.get("/api/v1/host")["agent"]["handoffSocket"]
        regions = []
        base_agent, base_service = rss_bytes(agent.pid), rss_bytes(service.pid)
        for n in scales:
            progress(f"registering workloads up to {n}")
            t = time.monotonic()
            while len(regions) < n:
                shared = lib.last_client if len(regions) % args.regions_per_connection else None
                regions.append(lib.workload(handoff, f"w{len(regions)}", size, shared))
            register_s = time.monotonic() - t
            attached = lambda: api.get("/api/v1/regions?state=ATTACHED&size=1")["totalItems"]
            if not wait(f"{n} regions in the API", 300, lambda: attached() >= n, fail=False):
                raise SystemExit(f"timed out waiting for {n} regions in the API: {attached()} there")
            addr, rid = lib.workload(handoff, f"probe{n}", size)  # the event delay, agent -> API
            t = time.monotonic()
            wait("the probe region", 30, lambda: api.get(f"/api/v1/regions/{rid}"))
            delay_ms = (time.monotonic() - t) * 1000
            regions.append((addr, rid))
            # the statistics of the new regions go out, and the JIT compiles what registering
            # ran: idle is measured once the service has nothing left to catch up on
            time.sleep(args.settle_seconds)
            idle = cpu_share([service.pid, agent.pid], args.idle_seconds)
            busy = cpu_share([service.pid, agent.pid], args.fault_seconds,
                             lambda s: lib.fault_all(regions, size, s))
            list_p = api.timed("/api/v1/regions?size=100", args.requests)
            get_p = api.timed(f"/api/v1/regions/{regions[len(regions) // 2][1]}", args.requests)
            progress(f"{len(regions)} workloads measured")
            row = {"workloads": len(regions), "register_s": round(register_s, 2),
                   "attach_to_api_ms": round(delay_ms, 1),
                   "service_idle_cpu": round(idle[service.pid], 4), "agent_idle_cpu": round(idle[agent.pid], 4),
                   "service_fault_cpu": round(busy[service.pid], 3), "agent_fault_cpu": round(busy[agent.pid], 3),
                   "list_p50_ms": round(list_p[0], 1), "list_p99_ms": round(list_p[1], 1),
                   "get_p50_ms": round(get_p[0], 1), "get_p99_ms": round(get_p[1], 1),
                   "agent_rss_per_region_kib": round((rss_bytes(agent.pid) - base_agent) / len(regions) / 1024, 1),
                   "service_rss_per_region_kib": round((rss_bytes(service.pid) - base_service) / len(regions) / 1024, 1)}
            print(json.dumps(row), flush=True)
            results["scales"].append(row)
        if args.sessions:
            os.makedirs(os.path.join(work, "images"), exist_ok=True)
            image = os.path.join(work, "images", "density.img")
            subprocess.run([os.path.join(BUILD, "faultline-demo"), "make-image", "--out", image, "--size",
                            f"{args.region_kib}K"], check=True, stdout=subprocess.DEVNULL)
            with open(image, "rb") as f:
                content = f.read()
            progress(f"creating {args.sessions} restore sessions")
            t = time.monotonic()
            sockets = [api.call("POST", "/api/v1/restores", {"image": image, "name": f"s{i}", "workingSet": "off"})
                       ["socket"] for i in range(args.sessions)]
            create_s = time.monotonic() - t
            wrong = 0
            for i, s in enumerate(sockets):
                addr, _ = lib.workload(s, f"r{i}", size)
                # each workload reads its whole region: every page is a fault the session serves from the image
                wrong += ctypes.string_at(addr, size) != content
            serve_s = time.monotonic() - t
            listed = api.get("/api/v1/restores?size=1")["totalItems"]
            list_p = api.timed("/api/v1/restores?size=100", args.requests)
            row = {"sessions": args.sessions, "create_s": round(create_s, 2), "create_and_serve_s": round(serve_s, 2),
                   "served_wrong": wrong, "listed": listed,
                   "list_p50_ms": round(list_p[0], 1), "list_p99_ms": round(list_p[1], 1)}
            print(json.dumps(row), flush=True)
            results["restore"] = row
        # what the service had to repair on its own: each is a warning or an INFO line of its log
        log = open(os.path.join(work, "service.log"), errors="replace").read()
        results["service_log"] = {"event_gaps": log.count("agent events lost before seq"),
                                  "divergences": log.count("this service's copy has"),
                                  "failed_full_reads": log.count("failed, read again at the next sync")}
        print(json.dumps(results))
        finished = True
    finally:
        service.terminate()
        service.wait(30)
        agent.terminate()
        agent.wait(30)
        if finished:
            shutil.rmtree(work, ignore_errors=True)
        else:  # what went wrong is in the logs
            print(f"kept {work} (service.log, agent.log)", file=sys.stderr)


if __name__ == "__main__":
    main()
