#!/usr/bin/env bash
# The SDK's whole check, as the project's test script calls it: a clean install from the lock
# file; the check that the committed static/ancora-verify.js is what a fresh build gives (first,
# since the build rewrites that copy); the build; the type-check; the tests (node's runner).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent check-static
npm run --silent build
npm run --silent typecheck
npm test
