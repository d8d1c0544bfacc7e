#!/usr/bin/env bash
# Runs every test project of Jx.sln and ends with one line summing them: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
log=$(mktemp)
dotnet test Jx.sln -c Release 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
read -r passed failed skipped < <(awk '
  /(Passed|Failed)!  - Failed:/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { gsub(",", "", $(i+1)); f += $(i+1) }
      if ($i == "Passed:")  { gsub(",", "", $(i+1)); p += $(i+1) }
      if ($i == "Skipped:") { gsub(",", "", $(i+1)); s += $(i+1) }
    }
  }
  END { printf "%d %d %d\n", p, f, s }' "$log")
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
