#!/bin/sh
# The program both servers run in their PTY: it waits for one line naming the test.
#   throughput: print the data file, then an end marker
#   echo:       raw mode without echo, then copy input to output (each key comes back
#               through the program, as with an agent's own line editor)
read -r test
case "$test" in
throughput*) cat "$1"; echo; echo BENCH-END ;;
echo*) stty raw -echo; echo BENCH-READY; exec cat ;;
*) echo "unknown test '$test'"; exit 2 ;;
esac
