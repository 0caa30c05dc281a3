#!/usr/bin/env python3
"""pgmem.py PGDATA OUT — samples the memory of the PostgreSQL server running in PGDATA until it gets
SIGTERM/SIGINT, then writes one line to OUT:

    pss_peak_kib rss_sum_peak_kib hwm_max_kib procs_max samples

- pss_peak_kib: the largest Σ Pss (proportional set size, /proc/PID/smaps_rollup) over the
  postmaster and all its children at one sample. PSS divides each shared page among the processes
  that map it, so shared_buffers pages touched by several backends are counted once: this is the
  memory the server costs the machine (what `smem` shows as PSS).
- rss_sum_peak_kib: the largest Σ Rss at one sample (counts shared pages once per process: an
  upper bound, for comparison with what `top` adds up).
- hwm_max_kib: the largest VmHWM (peak RSS) of any one server process.
The postmaster is the first line of PGDATA/postmaster.pid (servers started and stopped while the
sampler runs are followed). Every 0.2 s; stdlib only. Run as root or as the server's user.
"""
import os
import signal
import sys
import time

pgdata, out = sys.argv[1], sys.argv[2]
stop = False


def on_signal(_sig, _frm):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def field_kib(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(ppid):
    kids = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                st = f.read()
            if int(st[st.rindex(')') + 2:].split()[1]) == ppid:
                kids.append(int(d))
        except (OSError, ValueError):
            pass
    return kids


pss_peak = rss_peak = hwm_max = procs_max = samples = 0
while not stop:
    pid = 0
    try:
        with open(os.path.join(pgdata, 'postmaster.pid')) as f:
            pid = int(f.readline().strip() or 0)
    except (OSError, ValueError):
        pid = 0
    if pid > 0 and os.path.exists('/proc/%d' % pid):
        procs = [pid] + children(pid)
        pss = sum(field_kib('/proc/%d/smaps_rollup' % p, 'Pss:') for p in procs)
        rss = sum(field_kib('/proc/%d/smaps_rollup' % p, 'Rss:') for p in procs)
        hwm = max(field_kib('/proc/%d/status' % p, 'VmHWM:') for p in procs)
        pss_peak, rss_peak = max(pss_peak, pss), max(rss_peak, rss)
        hwm_max, procs_max = max(hwm_max, hwm), max(procs_max, len(procs))
        samples += 1
    time.sleep(0.2)
with open(out, 'w') as f:
    f.write('%d %d %d %d %d\n' % (pss_peak, rss_peak, hwm_max, procs_max, samples))
