#!/usr/bin/env python3
"""CPU cost of appending to a file with and without page-cache drop-behind (no broker involved).
Usage: python3 benches/tools/page_cache_writer.py TOTAL_MB STEP_MB LAG_STEPS srf|none
  srf: sync_file_range(WRITE) every STEP_MB, posix_fadvise(DONTNEED) LAG_STEPS steps behind
  none: plain appends (the page cache keeps everything)
Writes 16 KiB appends to a temporary file in the current directory and prints CPU ms per MB."""
import ctypes, os, resource, sys, tempfile, time

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
total_mb, step, lag, mode = int(sys.argv[1]), int(sys.argv[2]) << 20, int(sys.argv[3]), sys.argv[4]
fd, path = tempfile.mkstemp(dir=".")
buf = os.urandom(16384)
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.time()
pos, marks = 0, [0]
while pos < total_mb << 20:
    pos += os.write(fd, buf)
    if mode == "srf" and pos - marks[-1] >= step:
        libc.sync_file_range(fd, marks[-1], pos - marks[-1], 2)  # SYNC_FILE_RANGE_WRITE
        marks.append(pos)
        if len(marks) > lag + 1:
            a, b = marks[-lag - 2], marks[-lag - 1]
            os.posix_fadvise(fd, a, b - a, os.POSIX_FADV_DONTNEED)
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(f"{mode} step {step >> 20} MiB lag {lag}: {time.time() - t0:.2f} s wall, "
      f"{cpu * 1000 / total_mb:.3f} ms CPU per MB")
os.close(fd); os.unlink(path)
