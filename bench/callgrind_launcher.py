"""`python bench/callgrind_launcher.py serve ...`: `lambdarouter serve` under valgrind's callgrind, instrumentation
off until `callgrind_control -i on` (see bench/instructions.py), the counts written to
$LAMBDAROUTER_BENCH_CALLGRIND_OUT-NN (one file per thread, NN its number: 01 is the event loop's) when the server
exits."""

import os
import sys

if __name__ == "__main__":
    os.execvp("valgrind", ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-line=no",
                           "--separate-threads=yes",
                           f"--callgrind-out-file={os.environ['LAMBDAROUTER_BENCH_CALLGRIND_OUT']}", sys.executable,
                           "-m", "lambdarouter", *sys.argv[1:]])
