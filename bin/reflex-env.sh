# Environment for running Reflex without general internet access.
# Sourced by bin/run and bin/test; safe to source more than once.
CERAMIC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "$(uname -m)" in
  aarch64|arm64) _bun_pkg="bun-linux-aarch64" ;;
  *) _bun_pkg="bun-linux-x64" ;;
esac
export REFLEX_BUN_PATH="$CERAMIC_ROOT/tools/bun/node_modules/@oven/$_bun_pkg/bin/bun"
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=false
export REFLEX_SHOW_BUILT_WITH_REFLEX=false
# Without this Reflex probes an outside address to pick a network interface.
export REFLEX_HTTP_CLIENT_BIND_ADDRESS=0.0.0.0
# Reflex otherwise times several registry mirrors before installing packages.
if [ -z "${NPM_CONFIG_REGISTRY:-}" ] && command -v npm >/dev/null 2>&1; then
  NPM_CONFIG_REGISTRY="$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)"
  export NPM_CONFIG_REGISTRY
fi
